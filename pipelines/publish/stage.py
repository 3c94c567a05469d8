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

import pandas as pd

from pipelines.common import write_json
from pipelines.publish.export import export_run
from pipelines.publish.store import database_url, list_runs, make_current, make_engine, publish_run
from readiness.errors import ReadinessError
from readiness.params import ProjectParams
from readiness.scores import content_hash, validate_scores

log = logging.getLogger(__name__)


def engine_for(project: ProjectParams, write: bool = True):
    p = project.params.publish
    url, where = database_url(p.url_env, project.resolve(p.sqlite_path))
    return make_engine(url, write=write), where


def load_run(project: ProjectParams) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    params = project.params
    folder = project.resolve(params.paths.scores)
    if not (folder / "run.json").exists():
        raise ReadinessError(f"No scored run in {folder}: run `readiness score` first.")
    run = json.loads((folder / "run.json").read_text())
    leads = pd.read_parquet(folder / "leads.parquet")
    accounts = pd.read_parquet(folder / "accounts.parquet")
    open_leads = pd.read_parquet(
        project.resolve(params.paths.features) / "scoring.parquet", columns=["lead_id"]
    )
    validate_scores(leads, params.ladder, params.score.top_drivers, open_leads["lead_id"])
    if content_hash(leads) not in run["run_id"]:
        raise ReadinessError(
            f"{folder / 'leads.parquet'} is not the table run {run['run_id']} was scored as (its content changed "
            "since `readiness score`); score again so that the run id names this table."
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
        outcome = publish_run(
            engine, run_info, leads, accounts, p.table_prefix, p.schema, p.chunk_rows, progress
        )
    finally:
        engine.dispose()
    db_seconds = time.perf_counter() - t0
    exported = export_run(project.resolve(p.exports), run_info, leads, accounts)
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
    engine, where = engine_for(project)
    try:
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
        return list_runs(engine, p.table_prefix, p.schema), where
    finally:
        engine.dispose()
