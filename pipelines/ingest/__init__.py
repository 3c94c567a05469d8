"""Stage `ingest`: raw tables validated against their contracts; failures quarantined."""
