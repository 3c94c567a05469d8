"""Stage `features`: snapshots and belief-signal features, point in time.

Inputs: `paths.validated` (the validated tables).
Outputs: `paths.features`/scoring.parquet (one row per open lead at `features.as_of`),
`paths.features`/training/ (one row per active, open lead per training cutoff), both under the
feature contract; `paths.features`/catalog.json (the feature catalogue and its version) and
`paths.metrics`/features.json (counts and timings).
Params: features, ladder. When the train.* cohort dates are null, the cohorts the later stages
will choose from catalog.json's calendar are tried before the build, so an export too short for
a time split stops here (labels.json records the choice).
"""

from __future__ import annotations

from features.build import build_features
from pipelines.common import write_json
from readiness.params import ProjectParams, cohorts_for


def run(project: ProjectParams, parts: tuple[str, ...] = ("scoring", "training")) -> dict:
    params = project.params_as_written  # the calendar it writes chooses null cohort dates

    def try_cohorts(calendar: dict) -> None:
        if params.train.train_start is None:
            cohorts_for(params, calendar)  # an error when the data are too short

    summary = build_features(
        project.resolve(params.paths.validated),
        project.resolve(params.paths.features),
        params.features,
        params.ladder,
        parts,
        on_calendar=try_cohorts,
    )
    metrics = project.resolve(params.paths.metrics)
    metrics.mkdir(parents=True, exist_ok=True)
    write_json(metrics / "features.json", summary)
    return summary
