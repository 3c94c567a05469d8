"""The real PostgreSQL on 127.0.0.1 for publishing tests: its URL, and skip (or fail in CI) when
it is not reachable."""

from __future__ import annotations

import getpass
import os

import pytest
import sqlalchemy as sa

POSTGRES_URL = os.environ.get(
    "READINESS_TEST_POSTGRES_URL", f"postgresql+psycopg://{getpass.getuser()}@127.0.0.1:5432/test"
)


def postgres_or_skip() -> None:
    """Skip the test when PostgreSQL is unreachable; in CI (CI=true) fail it instead."""
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


def drop_schema(schema: str) -> None:
    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()
