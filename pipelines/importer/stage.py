"""Stage `import` (this module is `importer`: `import` is a Python keyword): a user's CRM and
marketing-automation export onto the raw tables, through a declarative mapping file.

Inputs: the mapping (`import.mapping`, or --mapping) and the export's files (the mapping's
`source`, or `import.source`, or --source).
Outputs: `paths.raw`/<table>.parquet for every raw table (tables the export lacks are empty),
`paths.raw`/_import.json and `paths.metrics`/import.json (rows per table and file, absent tables,
mostly empty columns, zero-amount deals). The normal stages (ingest onwards) follow.
Params: import, paths.raw.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.common import write_json
from readiness.errors import ReadinessError
from readiness.outputs import Output, replacing
from readiness.params import ProjectParams
from readiness.raw.io import RAW_NAMES
from readiness.raw.mapping import import_export, load_mapping


def run(project: ProjectParams, mapping: Path | None = None, source: Path | None = None) -> dict:
    params = project.params
    p = params.importer
    if mapping is None:
        if not p.mapping:
            raise ReadinessError(
                "No mapping: pass --mapping FILE or set import.mapping in params.yaml."
            )
        mapping = project.resolve(p.mapping)
    if source is None and p.source:
        source = project.resolve(p.source)
    if source is not None and not source.is_dir():
        raise ReadinessError(
            f"The export folder {source} does not exist: pass --source DIR (the folder that holds the mapping's files)."
        )
    load_mapping(Path(mapping))  # a broken mapping stops before anything is cleared
    raw = project.resolve(params.paths.raw)
    # the simulator writes the same raw tables: its folder may be replaced by an import
    output = Output(raw, "paths.raw", RAW_NAMES, also=("simulate",))
    with replacing("import", output) as (written,):  # in place only once the import succeeds
        report = import_export(Path(mapping), written, source)
    metrics = project.resolve(params.paths.metrics)
    metrics.mkdir(parents=True, exist_ok=True)
    write_json(metrics / "import.json", report)
    return report
