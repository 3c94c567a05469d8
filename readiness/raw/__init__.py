"""Raw tables: their contracts, ingest, the export mapping, attributes, tagging and flat exports."""
