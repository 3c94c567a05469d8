"""Stage `publish`: the validated score run into the database (atomic, idempotent) and the CRM
exports.

Inputs: `paths.scores`/leads.parquet, accounts.parquet and run.json, `paths.features`/
scoring.parquet (the open leads the run must cover: the contract is checked again here, a file
is never trusted). The database: the SQLAlchemy URL in the environment variable `publish.url_env`
(PostgreSQL in production), else the SQLite file `publish.sqlite_path`. The URL is never printed,
logged or written anywhere.
Outputs: the run in the database (tables and views `<prefix>current_*`), `publish.exports`/
<run_id>/ (CSV and Parquet), `paths.metrics`/publish.json.
Params: publish.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import sqlalchemy as sa

from pipelines.common import write_json
from pipelines.publish.export import export_run, verify_export
from pipelines.publish.store import database_url, list_runs, make_current, make_engine, publish_run
from readiness.errors import ReadinessError, scrub_secrets
from readiness.params import ProjectParams
from readiness.scores import (
    check_run_content,
    check_run_id,
    scored_population,
    validate_scores,
)

log = logging.getLogger(__name__)


def engine_for(project: ProjectParams, write: bool = True):
    p = project.params.publish
    try:
        url, where = database_url(p.url_env, project.resolve(p.sqlite_path))
        return make_engine(url, write=write), where
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ValueError) as exc:
        raise ReadinessError(
            f"The database URL in ${p.url_env} is not a usable SQLAlchemy URL "
            f"({type(exc).__name__}); it looks like postgresql://user:password@host:5432/db. "
            "(The URL itself is not printed: it may hold a password.)"
        ) from exc


@contextmanager
def database_errors(where: str) -> Iterator[None]:
    """A database that cannot be reached or refuses us is one paragraph, never a traceback, and
    never shows the URL's password."""
    try:
        yield
    except sa.exc.DBAPIError as exc:
        first = str(exc.orig or exc).strip().splitlines()[0] if str(exc.orig or exc).strip() else ""
        raise ReadinessError(
            f"The {where} could not be used ({type(exc.orig or exc).__name__}: "
            f"{scrub_secrets(first)[:300]}). Check that the server is running and reachable and "
            "that the URL, user and database are right; nothing was published."
        ) from exc


def _read_table(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # pyarrow's errors are both
        raise ReadinessError(
            f"{path} is missing or not a readable Parquet file ({type(exc).__name__}); run "
            "`readiness score` again."
        ) from exc


def load_run(project: ProjectParams) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """The scored run, checked: its contract, its id (a safe name carrying the tables' content
    hash), run.json against the tables, and finite numbers in the accounts table."""
    params = project.params
    folder = project.resolve(params.paths.scores)
    if not (folder / "run.json").exists():
        raise ReadinessError(f"No scored run in {folder}: run `readiness score` first.")
    try:
        run = json.loads((folder / "run.json").read_text())
        run_id = check_run_id(run["run_id"], str(folder / "run.json"))
        declared = (run["leads"], run["accounts"], run["scored_at"], run["model_version"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ReadinessError(
            f"{folder / 'run.json'} is not a run record of `readiness score` ({exc}); score again."
        ) from exc
    leads = _read_table(folder / "leads.parquet")
    accounts = _read_table(folder / "accounts.parquet")
    scoring = project.resolve(params.paths.features) / "scoring.parquet"
    schema_names = pq.read_schema(scoring).names if scoring.exists() else []
    # the open leads the run must cover: those `readiness score` scores (it leaves out a lead
    # whose stage is in doubt, its milestone row quarantined: run.json says so)
    open_leads, _ = scored_population(
        pd.read_parquet(
            scoring,
            columns=["lead_id", *(["ladder_stage"] if "ladder_stage" in schema_names else [])],
        ),
        project.resolve(params.paths.validated),
        params.ladder,
    )
    validate_scores(
        leads,
        params.ladder,
        params.score.top_drivers,
        open_leads["lead_id"],
        # the route name the scores were made with (older runs: the current setting)
        run.get("general_route", params.score.routing.general_route),
    )
    check_run_content(run_id, leads, accounts, str(folder))
    prefix = f"{pd.Timestamp(declared[2]):%Y%m%d}-v{declared[3]}-"
    if not run_id.startswith(prefix):
        raise ReadinessError(
            f"{folder / 'run.json'}: scored_at and model_version ({declared[2]}, version "
            f"{declared[3]}) are not those of run id {run_id}; run `readiness score` again."
        )
    numbers = accounts.select_dtypes("number").to_numpy(dtype=float)
    if not np.isfinite(numbers[~np.isnan(numbers)]).all():
        raise ReadinessError(
            f"{folder / 'accounts.parquet'} holds an infinite number; it is not published. "
            "Check the deal sizes in the labels stage and score again."
        )
    if len(leads) != run["leads"] or len(accounts) != run["accounts"]:
        raise ReadinessError(
            f"{folder}: run.json counts ({run['leads']} leads, {run['accounts']} accounts) do not match the "
            f"tables ({len(leads)}, {len(accounts)}); run `readiness score` again."
        )
    return run, leads, accounts


def run(project: ProjectParams) -> dict:
    params = project.params
    p = params.publish
    t0 = time.perf_counter()
    run_info, leads, accounts = load_run(project)
    engine, where = engine_for(project)

    def progress(table: str, done: int, total: int) -> None:
        log.info("publish: %s %d/%d rows", table, done, total)

    try:
        with database_errors(where):
            outcome = publish_run(
                engine, run_info, leads, accounts, p.table_prefix, p.schema, p.chunk_rows, progress
            )
    finally:
        engine.dispose()
    db_seconds = time.perf_counter() - t0
    exports = project.resolve(p.exports)
    exported = export_run(exports, run_info, leads, accounts)
    verify_export(exports / outcome.run_id)
    summary = {
        "run_id": outcome.run_id,
        "action": outcome.action,
        "previous_run_id": outcome.previous_run_id,
        "database": where,
        "lead_rows": outcome.lead_rows,
        "account_rows": outcome.account_rows,
        "exported": exported,
        "seconds": {"database": round(db_seconds, 2), "total": round(time.perf_counter() - t0, 2)},
    }
    metrics = project.resolve(params.paths.metrics)
    metrics.mkdir(parents=True, exist_ok=True)
    write_json(metrics / "publish.json", summary)
    return summary


def rollback(project: ProjectParams, run_id: str) -> tuple[str | None, str, str]:
    """Make a stored run (or 'previous') current again; returns (was current, now current, where)."""
    p = project.params.publish
    if run_id != "previous":
        check_run_id(run_id, "--rollback")
    engine, where = engine_for(project)
    try:
        with database_errors(where):
            was = make_current(engine, run_id, p.table_prefix, p.schema)
            runs = list_runs(engine, p.table_prefix, p.schema)
    finally:
        engine.dispose()
    now = runs.loc[runs["current"] == "*", "run_id"].iloc[0]
    return was, now, where


def runs(project: ProjectParams) -> tuple[pd.DataFrame, str]:
    p = project.params.publish
    engine, where = engine_for(project, write=False)
    try:
        with database_errors(where):
            return list_runs(engine, p.table_prefix, p.schema), where
    finally:
        engine.dispose()
