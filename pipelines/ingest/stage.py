"""Stage `ingest`: validate the raw tables against their contracts; quarantine what fails.

Inputs: `ingest.source` (raw tables: Parquet file, Parquet folder or CSV per table).
Outputs: `paths.validated` (accepted rows, one Parquet folder per table), `paths.quarantine`
(rejected rows with their reasons and source row numbers) and `paths.metrics`/ingest.json (rows
read, accepted and quarantined per table and reason; read = accepted + quarantined).
Params: ingest.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.common import write_json
from readiness.params import ProjectParams
from readiness.raw.ingest import check_reconciled, check_required, ingest_folder


def run(project: ProjectParams, source: Path | None = None) -> dict:
    """Ingest `source` (default `ingest.source`); write the report even when the stage then fails."""
    p = project.params.ingest
    source = source or project.resolve(p.source)
    report = ingest_folder(
        source,
        project.resolve(project.params.paths.validated),
        project.resolve(project.params.paths.quarantine),
        p,
    )
    metrics = project.resolve(project.params.paths.metrics)
    metrics.mkdir(parents=True, exist_ok=True)
    write_json(metrics / "ingest.json", report)
    check_reconciled(report)
    check_required(report)
    return report
