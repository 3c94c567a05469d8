"""Publishing validated runs to a SQL database through SQLAlchemy, atomically and idempotently.

Layout (names carry the configured prefix, `readiness_` by default):
- `runs`: one row per published run (run id, scored_at, as_of, model name and version, params
  hash, row counts, published_at). Every run is kept.
- `leads` and `accounts`: the rows of every run, keyed by (run_id, lead_id) / (run_id, account_id).
- `current`: one row naming the current run; `current_log`: every change of it (publish, rollback).
- views `current_leads`, `current_accounts` and `current_handoffs` (sales_now leads, by SLA):
  what consumers query.

A publish is one transaction: the run's rows and the switch of `current` commit together, so a
reader sees the previous complete run or the new one, never a mix, and a publish that dies
midway leaves nothing behind (PostgreSQL aborts the transaction; SQLite in WAL mode ignores the
uncommitted frames). Publishers are serialised (an advisory lock on PostgreSQL, BEGIN IMMEDIATE
on SQLite). Publishing a run that is already current changes nothing.
"""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from readiness.errors import ReadinessError
from readiness.scores import HANDOFF_RECORD

log = logging.getLogger(__name__)
RUN_COLUMNS = (
    "run_id",
    "scored_at",
    "as_of",
    "model_name",
    "model_version",
    "catalog_version",
    "params_hash",
    "lead_rows",
    "account_rows",
    "published_at",
    "status",
    "status_reasons",
)
# added after the first layout: a runs table without them gets them (older runs read NULL)
_ADDED_RUN_COLUMNS = ("status", "status_reasons")
_LOCK_KEY = 4_242_017  # advisory lock id of readiness publishers on PostgreSQL


def database_url(url_env: str, sqlite_path: Path) -> tuple[str, str]:
    """The database URL (from the environment variable, else the embedded SQLite file) and a
    description of it that is safe to print (no password, no URL at all for the variable)."""
    url = os.environ.get(url_env)
    if url:
        parsed = sa.engine.make_url(url)
        return (
            url,
            f"{parsed.get_backend_name()} database from ${url_env} (host {parsed.host or 'local'})",
        )
    sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{sqlite_path.resolve()}", f"SQLite file {sqlite_path}"


def make_engine(url: str, write: bool = True) -> Engine:
    """An engine for publishing (write=True) or reading. SQLite gets WAL (readers never block on
    a publisher and see the last committed run) and explicit transactions."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = sa.create_engine(url, hide_parameters=True)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # we send BEGIN ourselves
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


@dataclass(frozen=True)
class Names:
    prefix: str
    schema: str | None

    def table(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def qualified(self, engine_or_conn, name: str) -> str:
        prep = engine_or_conn.dialect.identifier_preparer
        t = prep.quote(self.table(name))
        return f"{prep.quote_schema(self.schema)}.{t}" if self.schema else t


def _sql_type(dtype) -> sa.types.TypeEngine:
    if pd.api.types.is_bool_dtype(dtype):
        return sa.Boolean()
    if pd.api.types.is_integer_dtype(dtype):
        return sa.BigInteger()
    if pd.api.types.is_float_dtype(dtype):
        return sa.Float(precision=53)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return sa.DateTime()
    return sa.Text()


def _tables(md: sa.MetaData, names: Names, leads: pd.DataFrame, accounts: pd.DataFrame) -> dict:
    def data_table(name: str, frame: pd.DataFrame, key: str) -> sa.Table:
        cols = [sa.Column("run_id", sa.String(80), primary_key=True)]
        for c, dt in frame.dtypes.items():
            cols.append(sa.Column(c, _sql_type(dt), primary_key=(c == key), nullable=(c != key)))
        return sa.Table(names.table(name), md, *cols, schema=names.schema)

    runs = sa.Table(
        names.table("runs"),
        md,
        sa.Column("run_id", sa.String(80), primary_key=True),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
        sa.Column("as_of", sa.String(10), nullable=False),
        sa.Column("model_name", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("catalog_version", sa.Text(), nullable=False),
        sa.Column("params_hash", sa.Text(), nullable=False),
        sa.Column("lead_rows", sa.BigInteger(), nullable=False),
        sa.Column("account_rows", sa.BigInteger(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        # final | provisional (no champion yet: the model failed the promotion gate)
        sa.Column("status", sa.String(20)),
        sa.Column("status_reasons", sa.Text()),
        schema=names.schema,
    )
    current = sa.Table(
        names.table("current"),
        md,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.String(80), nullable=False),
        sa.Column("made_current_at", sa.DateTime(), nullable=False),
        schema=names.schema,
    )
    current_log = sa.Table(
        names.table("current_log"),
        md,
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(80), nullable=False),
        sa.Column("previous_run_id", sa.String(80)),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        schema=names.schema,
    )
    return {
        "runs": runs,
        "leads": data_table("leads", leads, "lead_id"),
        "accounts": data_table("accounts", accounts, "account_id"),
        "current": current,
        "current_log": current_log,
    }


def _ensure(conn: Connection, names: Names, tables: dict) -> None:
    """Create what is missing; refuse if an existing table has another layout."""
    if names.schema and conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"CREATE SCHEMA IF NOT EXISTS {conn.dialect.identifier_preparer.quote_schema(names.schema)}"
        )
    insp = sa.inspect(conn)
    widened = False  # a column added to an existing table: the views are made again
    for table in tables.values():
        if insp.has_table(table.name, schema=names.schema):
            have = [c["name"] for c in insp.get_columns(table.name, schema=names.schema)]
            want = [c.name for c in table.columns]
            if table is tables["runs"] and set(want) - set(have) == set(_ADDED_RUN_COLUMNS):
                for c in _ADDED_RUN_COLUMNS:  # migrate a runs table of the first layout
                    column = table.c[c].type.compile(conn.dialect)
                    conn.exec_driver_sql(
                        f"ALTER TABLE {names.qualified(conn, 'runs')} ADD COLUMN {c} {column}"
                    )
                    log.info("publish: added column %s to %s", c, table.name)
                have = want
            for key in ("leads", "accounts"):
                if table is tables[key]:
                    before = len(have)
                    have = _migrate_added_columns(conn, names, table, have, key)
                    widened |= len(have) > before
            if sorted(have) != sorted(want):
                raise ReadinessError(
                    f"Table {table.name} exists with other columns (missing {sorted(set(want) - set(have))}, "
                    f"extra {sorted(set(have) - set(want))}): the score layout changed (ladder or top_drivers). "
                    "Publish under another publish.table_prefix or migrate the table."
                )
        else:
            table.create(conn)
            log.info("publish: created table %s", table.name)
    q = lambda n: names.qualified(conn, n)  # noqa: E731
    # a run scored before the export's own ids were kept has no crm_id column
    handoff_cols = ", ".join(f"l.{c}" for c in HANDOFF_RECORD if c in tables["leads"].columns)
    views = {
        "current_leads": f"SELECT l.* FROM {q('leads')} l JOIN {q('current')} c ON l.run_id = c.run_id",
        "current_accounts": f"SELECT a.* FROM {q('accounts')} a JOIN {q('current')} c ON a.run_id = c.run_id",
        "current_handoffs": (
            f"SELECT l.run_id, {handoff_cols} FROM {q('leads')} l JOIN {q('current')} c "
            f"ON l.run_id = c.run_id WHERE l.route = 'sales_now'"
        ),
    }
    for name, body in views.items():
        exists = names.table(name) in insp.get_view_names(schema=names.schema)
        if exists and widened:
            # PostgreSQL fixes a view's `*` when it is made: made again, it shows the new columns
            conn.exec_driver_sql(f"DROP VIEW {q(name)}")
            exists = False
        if not insp.has_table(names.table(name), schema=names.schema) and not exists:
            conn.exec_driver_sql(f"CREATE VIEW {q(name)} AS {body}")


def _added_later(column: str) -> bool:
    """A column of the leads or accounts table that runs scored by an older version lack: the
    score trend, the export's own id and time to threshold (numbers and words)."""
    return (
        column in ("trend", "crm_id", "next_gate_when")
        or column.startswith(("change_p_", "days_"))
        or re.fullmatch(r"p_.+_\d+d", column) is not None
    )


def _migrate_added_columns(
    conn: Connection, names: Names, table: sa.Table, have: list[str], key: str
) -> list[str]:
    """A leads or accounts table (`key`) from before score trends or the export's own ids gets
    those columns (empty for its old runs); a run scored before them fits a table that has them
    (its cells stay empty). Returns the columns to compare with the run's."""
    want = [c.name for c in table.columns]
    missing = [c for c in want if c not in have]
    if missing and all(_added_later(c) for c in missing):
        for c in missing:
            column = table.c[c].type.compile(conn.dialect)
            conn.exec_driver_sql(
                f"ALTER TABLE {names.qualified(conn, key)} ADD COLUMN "
                f"{conn.dialect.identifier_preparer.quote(c)} {column}"
            )
            log.info("publish: added column %s to %s", c, table.name)
        have = [*have, *missing]
    extra = [c for c in have if c not in want]
    if extra and all(_added_later(c) for c in extra):
        have = [c for c in have if c not in extra]
    return have


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _current_run(conn: Connection, tables: dict) -> str | None:
    return conn.execute(sa.select(tables["current"].c.run_id)).scalar()


def _set_current(
    conn: Connection, tables: dict, run_id: str, action: str, previous: str | None
) -> None:
    """Point `current` at run_id (previous: the run current until now, read by the caller in
    the same transaction) and log the change."""
    cur = tables["current"]
    at = _now()
    if previous is None:
        conn.execute(cur.insert().values(id=1, run_id=run_id, made_current_at=at))
    else:
        conn.execute(cur.update().where(cur.c.id == 1).values(run_id=run_id, made_current_at=at))
    conn.execute(
        tables["current_log"]
        .insert()
        .values(run_id=run_id, previous_run_id=previous, action=action, at=at)
    )


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts of plain Python values (None for missing)."""
    columns = {}
    for c in frame.columns:
        col = frame[c]
        missing = col.isna().to_numpy()
        if pd.api.types.is_datetime64_any_dtype(col):
            values = list(col.dt.to_pydatetime())
        elif pd.api.types.is_integer_dtype(col):
            values = [int(v) for v in col.fillna(0).to_numpy(dtype="int64")]
        elif pd.api.types.is_float_dtype(col):
            values = col.to_numpy(dtype=float).tolist()
        else:
            values = col.astype(object).tolist()
        columns[c] = [None if m else v for v, m in zip(values, missing, strict=True)]
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _copy_postgres(
    conn: Connection, qualified: str, frame: pd.DataFrame, chunk_rows: int, on_chunk
) -> None:
    """COPY ... FROM STDIN (CSV) inside the open transaction: the fast path for PostgreSQL."""
    dbapi = conn.connection.dbapi_connection
    if dbapi is None:
        raise RuntimeError("the connection is closed")
    cursor = dbapi.cursor()
    cols = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in frame.columns)
    sql = f"COPY {qualified} ({cols}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
    with cursor.copy(sql) as copy:
        for lo in range(0, len(frame), chunk_rows):
            buf = io.StringIO()
            frame.iloc[lo : lo + chunk_rows].to_csv(
                buf, index=False, header=False, na_rep="\\N", date_format="%Y-%m-%d %H:%M:%S.%f"
            )
            copy.write(buf.getvalue())
            if on_chunk:
                on_chunk(qualified, min(lo + chunk_rows, len(frame)), len(frame))


def _insert(
    conn: Connection,
    names: Names,
    key: str,
    table: sa.Table,
    frame: pd.DataFrame,
    chunk_rows: int,
    on_chunk,
) -> None:
    if conn.dialect.name == "postgresql":
        _copy_postgres(conn, names.qualified(conn, key), frame, chunk_rows, on_chunk)
        return
    for lo in range(0, len(frame), chunk_rows):
        conn.execute(table.insert(), _records(frame.iloc[lo : lo + chunk_rows]))
        if on_chunk:
            on_chunk(table.name, min(lo + chunk_rows, len(frame)), len(frame))


@dataclass(frozen=True)
class PublishOutcome:
    run_id: str
    action: str  # "published", "made_current" (stored before, now current again) or "unchanged"
    lead_rows: int
    account_rows: int
    previous_run_id: str | None


def publish_run(
    engine: Engine,
    run: dict,
    leads: pd.DataFrame,
    accounts: pd.DataFrame,
    prefix: str = "readiness_",
    schema: str | None = None,
    chunk_rows: int = 50_000,
    on_chunk: Callable[[str, int, int], None] | None = None,
) -> PublishOutcome:
    """Store a validated run and make it current, in one transaction (see the module docstring).

    `run` holds the RUN_COLUMNS but published_at, lead_rows and account_rows; `on_chunk(table,
    rows_done, rows_total)` reports progress.
    """
    if chunk_rows < 1:
        raise ReadinessError(
            f"publish.chunk_rows is {chunk_rows}; it must be at least 1 (rows sent per batch)."
        )
    names = Names(prefix, schema)
    lead_frame = leads.copy()
    acc_frame = accounts.copy()
    md = sa.MetaData()
    tables = _tables(md, names, lead_frame, acc_frame)
    run_id = run["run_id"]
    with engine.begin() as conn:
        _lock(conn)
        _ensure(conn, names, tables)
        previous = _current_run(conn, tables)
        stored = conn.execute(
            sa.select(tables["runs"].c.lead_rows, tables["runs"].c.account_rows).where(
                tables["runs"].c.run_id == run_id
            )
        ).first()
        if stored is not None:
            if stored.lead_rows != len(leads) or stored.account_rows != len(accounts):
                raise ReadinessError(
                    f"Run {run_id} is stored with {stored.lead_rows} leads / {stored.account_rows} accounts, "
                    f"not {len(leads)} / {len(accounts)}: a run id names one table; rescore to get a new id."
                )
            _check_rows_stored(conn, names, run_id, stored.lead_rows, stored.account_rows)
            if previous == run_id:
                return PublishOutcome(run_id, "unchanged", len(leads), len(accounts), previous)
            _set_current(conn, tables, run_id, "publish", previous)
            return PublishOutcome(run_id, "made_current", len(leads), len(accounts), previous)
        conn.execute(
            tables["runs"]
            .insert()
            .values(
                run_id=run_id,
                scored_at=pd.Timestamp(run["scored_at"]).to_pydatetime(),
                as_of=str(run["as_of"]),
                model_name=str(run["model_name"]),
                model_version=str(run["model_version"]),
                catalog_version=str(run["catalog_version"]),
                params_hash=str(run["params_hash"]),
                lead_rows=len(leads),
                account_rows=len(accounts),
                published_at=_now(),
                status=str(run.get("status", "final")),
                status_reasons="; ".join(run.get("status_reasons", [])) or None,
            )
        )
        lead_frame.insert(0, "run_id", run_id)
        acc_frame.insert(0, "run_id", run_id)
        _insert(conn, names, "leads", tables["leads"], lead_frame, chunk_rows, on_chunk)
        _insert(conn, names, "accounts", tables["accounts"], acc_frame, chunk_rows, on_chunk)
        _check_rows_stored(conn, names, run_id, len(leads), len(accounts))
        _set_current(conn, tables, run_id, "publish", previous)
    return PublishOutcome(run_id, "published", len(leads), len(accounts), previous)


def _check_rows_stored(
    conn: Connection, names: Names, run_id: str, lead_rows: int, account_rows: int
) -> None:
    """The run's rows in the data tables are as many as `runs` says, or nothing is made current
    (a run whose rows were lost must never be the current run)."""
    for key, expected in (("leads", lead_rows), ("accounts", account_rows)):
        found = conn.execute(
            sa.text(f"SELECT COUNT(*) FROM {names.qualified(conn, key)} WHERE run_id = :r"),
            {"r": run_id},
        ).scalar()
        if found != expected:
            raise ReadinessError(
                f"Run {run_id} has {found} {key} rows in {names.table(key)} but {expected} in "
                f"{names.table('runs')}: it is incomplete and is not made current. Delete the run's "
                "rows from the three tables and publish again."
            )


def _control_tables(engine_or_conn, names: Names) -> dict:
    md = sa.MetaData()
    return {
        k: sa.Table(names.table(k), md, autoload_with=engine_or_conn, schema=names.schema)
        for k in ("runs", "current", "current_log")
    }


def make_current(
    engine: Engine, run_id: str, prefix: str = "readiness_", schema: str | None = None
) -> str | None:
    """Make a stored run current again (rollback); `previous` names the run current before the
    current one. Returns the run that was current."""
    names = Names(prefix, schema)
    with engine.begin() as conn:
        _lock(conn)
        if not sa.inspect(conn).has_table(names.table("runs"), schema=schema):
            raise ReadinessError("Nothing is published yet: run `readiness publish` first.")
        tables = _control_tables(conn, names)
        current = _current_run(conn, tables)
        if run_id == "previous":
            log_t = tables["current_log"]
            row = conn.execute(
                sa.select(log_t.c.previous_run_id)
                .where(log_t.c.run_id == current)
                .order_by(log_t.c.seq.desc())
                .limit(1)
            ).scalar()
            if row is None:
                raise ReadinessError(
                    f"The current run {current} has no previous run to go back to."
                )
            run_id = row
        exists = conn.execute(
            sa.select(tables["runs"].c.run_id).where(tables["runs"].c.run_id == run_id)
        ).scalar()
        if exists is None:
            raise ReadinessError(
                f"No published run {run_id!r}; list them with `readiness publish --list`."
            )
        if current != run_id:
            _set_current(conn, tables, run_id, "rollback", current)
        return current


def list_runs(
    engine: Engine, prefix: str = "readiness_", schema: str | None = None
) -> pd.DataFrame:
    """Every published run, newest first, with a flag on the current one."""
    names = Names(prefix, schema)
    if not sa.inspect(engine).has_table(names.table("runs"), schema=schema):
        return pd.DataFrame(columns=[*RUN_COLUMNS, "current"])
    tables = _control_tables(engine, names)
    with engine.connect() as conn:
        runs = pd.DataFrame(conn.execute(sa.select(tables["runs"])).mappings().all())
        current = _current_run(conn, tables)
    runs["current"] = np.where(runs["run_id"] == current, "*", "")
    return runs.sort_values("published_at", ascending=False, ignore_index=True)


def current_run_id(
    engine: Engine, prefix: str = "readiness_", schema: str | None = None
) -> str | None:
    names = Names(prefix, schema)
    if not sa.inspect(engine).has_table(names.table("current"), schema=schema):
        return None
    with engine.connect() as conn:
        return _current_run(conn, _control_tables(conn, names))
