"""Stage `truth`: on simulated data, the simulator's true probabilities of a sample of test
snapshots, which evaluate compares every model with.

The roll-outs are the evaluation's costliest part and depend on the simulation and the test
cohort only, never on a model: as a stage of their own they are not rolled out again when a
model is retrained.

Inputs: `paths.features`/training, `paths.labels` (the test rows and their labels, to sample
positives and negatives), `paths.ground_truth` (the simulator's hidden parameters; absent on a
user's export).
Outputs: `paths.truth`/ (truth.parquet: per sampled snapshot the latent beliefs and each gate's
true probability with its Monte Carlo error; copies/<gate>.npy: every roll-out copy's value;
rows.json: each gate's sampled test rows and the settings), or, where there is no truth to roll
out, only skipped.json saying why; `paths.metrics`/truth.json (how many, how long, or why not).
Params: evaluate (ground_truth, ground_truth_rollouts, ground_truth_positives,
ground_truth_negatives), train (test cohort dates, seed), labels, ladder, simulate.
"""

from __future__ import annotations

import logging
import time

from models.cohorts import TEST, is_flat, no_test_rows, training_cohorts
from models.dataset import load_training_frame
from models.ground_truth import TruthSample, roll_out_sample, truth_settings
from pipelines.common import write_json
from readiness.outputs import replace_output
from readiness.params import ProjectParams

log = logging.getLogger(__name__)
SKIPPED = "skipped.json"


def run(project: ProjectParams) -> dict:
    params = project.params
    p = params.evaluate
    t0 = time.perf_counter()
    features, labels, settings, catalog_meta = load_training_frame(project)
    skipped = (
        "evaluate.ground_truth is false"
        if not p.ground_truth
        else "a flat export has no simulator behind it"
        if is_flat(catalog_meta)
        else f"no simulator ground truth at {params.paths.ground_truth} (real data)"
        if not project.resolve(params.paths.ground_truth).exists()
        else None
    )
    sample = None
    if skipped is None:
        cohort = training_cohorts(features, labels, catalog_meta, params.train, params.ladder)
        test = (cohort == TEST).to_numpy()
        if not test.any():
            raise no_test_rows(params.train)
        sample = roll_out_sample(
            params.simulate,
            features[test].reset_index(drop=True),
            labels[test].reset_index(drop=True),
            truth_settings(params, settings),
        )

    def write(folder):
        if sample is None:
            write_json(folder / SKIPPED, {"reason": skipped})
        else:
            sample.save(folder)

    replace_output(
        project.resolve(params.paths.truth),
        "truth",
        write,
        setting="paths.truth",
        owned_names=(*TruthSample.FILES, SKIPPED),
    )
    summary = {
        "snapshots": 0 if sample is None else len(sample.union),
        "rollouts": 0 if sample is None else sample.rollouts,
        "skipped": skipped,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    write_json(project.resolve(params.paths.metrics) / "truth.json", summary)
    log.info(
        "truth: %s (%.1fs)",
        f"skipped: {skipped}"
        if skipped
        else f"{summary['snapshots']:,} test snapshots, {summary['rollouts']} roll-outs each",
        summary["seconds"],
    )
    return summary
