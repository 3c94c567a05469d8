"""Stage `simulate`: generate the built-in B2B journey data and its ground truth.

Inputs: none; seed, size and calendar come from params.yaml section `simulate`.
Outputs: `paths.raw` (the seven raw tables as Parquet), `paths.ground_truth` (latent beliefs over
time and latent traits; never read as features) and `paths.metrics`/simulate.json (realism figures).
Params: simulate.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pipelines.common import write_json
from readiness.outputs import Output, replacing
from readiness.params import ProjectParams
from readiness.raw.io import RAW_NAMES
from readiness.simulator.run import simulate


def run(project: ProjectParams, n_leads: int | None = None, out: Path | None = None) -> dict:
    """Simulate into the raw folder (or `out`); return the row counts and realism figures."""
    p = project.params.simulate
    if n_leads is not None:
        p = replace(p, n_leads=n_leads)
    raw = out or project.resolve(project.params.paths.raw)
    truth = (
        (out.parent / "ground_truth") if out else project.resolve(project.params.paths.ground_truth)
    )
    outputs = (
        # an import writes the same raw tables: its folder may be replaced by a simulation
        Output(raw, "paths.raw", RAW_NAMES, also=("import",)),
        Output(truth, "paths.ground_truth", ("beliefs", "latent_traits.parquet")),
    )
    # the raw tables and their ground truth are moved into place together, once both are whole
    with replacing("simulate", *outputs) as (raw_written, truth_written):
        result = simulate(p, raw_written, truth_written)
    metrics = project.resolve(project.params.paths.metrics)
    metrics.mkdir(parents=True, exist_ok=True)
    summary = {"rows": result["rows"], **result["sanity"]}
    write_json(metrics / "simulate.json", summary)
    return {**result, "raw": str(raw), "ground_truth": str(truth)}
