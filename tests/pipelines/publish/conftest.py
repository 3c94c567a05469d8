"""Databases for the publishing tests: an SQLite file, and the real PostgreSQL on 127.0.0.1.

PostgreSQL tests use a fresh schema each (dropped afterwards). Without a reachable server they
skip with the reason, except in CI (CI=true), where a missing server is a failure.
"""

from __future__ import annotations

import uuid

import pytest
from postgres import POSTGRES_URL, drop_schema, postgres_or_skip

from pipelines.publish.store import make_engine


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """{"url", "schema", "engine", "reader"} of an empty database."""
    if request.param == "sqlite":
        url, schema = f"sqlite:///{tmp_path / 'published.db'}", None
    else:
        postgres_or_skip()
        url, schema = POSTGRES_URL, f"readiness_test_{uuid.uuid4().hex[:10]}"
    engine, reader = make_engine(url), make_engine(url, write=False)
    yield {"url": url, "schema": schema, "engine": engine, "reader": reader, "kind": request.param}
    engine.dispose()
    reader.dispose()
    if schema:
        drop_schema(schema)
