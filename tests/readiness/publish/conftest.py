"""Databases for the publishing tests: an SQLite file, and the real PostgreSQL on 127.0.0.1.

PostgreSQL tests use a fresh schema each (dropped afterwards). Without a reachable server they
skip with the reason, except in CI (CI=true), where a missing server is a failure.
"""

from __future__ import annotations

import getpass
import os
import uuid

import pytest
import sqlalchemy as sa

from readiness.publish.store import make_engine

POSTGRES_URL = os.environ.get(
    "READINESS_TEST_POSTGRES_URL", f"postgresql+psycopg://{getpass.getuser()}@127.0.0.1:5432/test"
)


def _postgres_or_skip() -> None:
    try:
        engine = sa.create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        engine.dispose()
    except Exception as exc:  # any failure to connect
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(
                f"PostgreSQL at 127.0.0.1:5432 (database test) is not reachable in CI: {exc}"
            )
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 (database test) is not reachable: {exc}")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """{"url", "schema", "engine", "reader"} of an empty database."""
    if request.param == "sqlite":
        url, schema = f"sqlite:///{tmp_path / 'published.db'}", None
    else:
        _postgres_or_skip()
        url, schema = POSTGRES_URL, f"readiness_test_{uuid.uuid4().hex[:10]}"
    engine, reader = make_engine(url), make_engine(url, write=False)
    yield {"url": url, "schema": schema, "engine": engine, "reader": reader, "kind": request.param}
    engine.dispose()
    reader.dispose()
    if schema:
        cleanup = sa.create_engine(url)
        with cleanup.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        cleanup.dispose()
