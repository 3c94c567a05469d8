"""Stage `ingest`: validate the raw tables against their contracts; quarantine what fails.

Inputs: `ingest.source` (raw tables: Parquet file, Parquet folder or CSV per table).
Outputs: `paths.validated` (accepted rows, one Parquet folder per table), `paths.quarantine`
(rejected rows with their reasons and source row numbers) and `paths.metrics`/ingest.json (rows
read, accepted and quarantined per table and reason; read = accepted + quarantined).
Params: ingest.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.common import write_json
from readiness.errors import ReadinessError
from readiness.outputs import Output, replacing
from readiness.params import ProjectParams
from readiness.raw import tagging
from readiness.raw.ingest import (
    INGEST_NAMES,
    check_losses,
    check_reconciled,
    check_required,
    ingest_folder,
)


def run(project: ProjectParams, source: Path | None = None) -> dict:
    """Ingest `source` (default `ingest.source`); write the report even when the stage then fails."""
    p = project.params.ingest
    source = source or project.resolve(p.source)
    metrics = project.resolve(project.params.paths.metrics)
    metrics.mkdir(parents=True, exist_ok=True)
    outputs = (
        Output(project.resolve(project.params.paths.validated), "paths.validated", INGEST_NAMES),
        Output(project.resolve(project.params.paths.quarantine), "paths.quarantine", INGEST_NAMES),
    )
    # validated rows and the quarantine are moved into place together, and only when every count
    # reconciles: a failed ingest leaves the previous ones whole for the next stage
    with replacing("ingest", *outputs) as (validated, quarantine):
        report = ingest_folder(source, validated, quarantine, p)
        write_json(metrics / "ingest.json", report)
        check_reconciled(report)
        # a table the pipeline cannot do without left empty: the previous tables stay whole
        # (the message names the commonest reason; ingest.json has every one)
        check_required(report)
    # a table mostly quarantined stops the stage once this run's quarantine is in place, so the
    # rows and reasons it names can be read (the next stage is not run by dvc repro)
    check_losses(report, p.max_quarantined_share)
    return report


def asset_usage(project: ProjectParams) -> tuple[pd.DataFrame, dict]:
    """The validated assets with their tags and consumption, and the content coverage (for
    `readiness assets`)."""
    validated = project.resolve(project.params.paths.validated)
    if not (validated / "assets").is_dir() or not (validated / "events").is_dir():
        raise ReadinessError(
            f"No validated assets and events under {validated}: run `readiness ingest` first."
        )
    assets = pd.read_parquet(validated / "assets")
    events = pd.read_parquet(validated / "events", columns=["lead_id", "asset_id"])
    return tagging.usage(assets, events), tagging.coverage(assets, events["asset_id"])
