"""Benchmark of a retrain at the default size: the `train` and `evaluate` stages as `dvc repro`
runs them after a change to the training (each a `readiness` process: start-up, loading, the
leakage guard, fitting, MLflow, the evaluation and the promotion gate), on the features, labels
and truth sample `dvc repro` built (the `truth` stage itself runs only when the data or its own
settings change; its time is in its log and in benchmarks/results/truth.json).

Everything the stages write goes to benchmarks/work/train_evaluate/ (params there point the
inputs at the project's data folders, the outputs and MLflow at the work folder), which is
removed and rebuilt on each call. Target (issue 15): train + evaluate under 2 minutes.

    dvc repro evaluate                      # the default features, labels and truth must exist
    python benchmarks/train_evaluate.py     # writes benchmarks/results/train_evaluate.json
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import (  # noqa: E402
    BASELINE_WORKLOAD,
    ROOT,
    baseline_seconds,
    run_stages,
    write_results,
)

from readiness.params import load_params  # noqa: E402

WORK = ROOT / "benchmarks" / "work" / "train_evaluate"
INPUTS = ("raw", "ground_truth", "validated", "quarantine", "features", "labels", "truth")
TARGET_SECONDS = 120


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    project = load_params(ROOT / "params.yaml")
    for key in ("features", "labels", "truth"):
        folder = project.resolve(getattr(project.params.paths, key))
        if not folder.exists():
            raise SystemExit(f"{folder} not found: run `dvc repro evaluate` first.")
    shutil.rmtree(WORK, ignore_errors=True)  # this benchmark's own folder only
    WORK.mkdir(parents=True)
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["paths"] = {
        **raw.get("paths", {}),
        **{k: str(project.resolve(getattr(project.params.paths, k))) for k in INPUTS},
        "models": "artifacts/models",
        "evaluation": "artifacts/evaluation",
        "plots": "artifacts/plots",
        "metrics": "artifacts/metrics",
    }
    (WORK / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    work_project = load_params(WORK / "params.yaml")
    runs = []
    for i in range(args.repeat):
        base = baseline_seconds()  # the machine's speed just before this run
        seconds = run_stages(work_project, ("train", "evaluate"), work=WORK, label=f"run {i + 1}")
        total = round(sum(seconds.values()), 2)
        runs.append(
            {
                **seconds,
                "train_and_evaluate": total,
                "baseline_seconds": base,
                "ratio_to_baseline": round(total / base, 1),
            }
        )
    totals = [r["train_and_evaluate"] for r in runs]
    median = statistics.median(totals)
    ratio = statistics.median(r["ratio_to_baseline"] for r in runs)
    results = {
        "runs": runs,
        "train_and_evaluate_median_seconds": round(median, 2),
        "baseline": {
            "workload": BASELINE_WORKLOAD,
            "median_seconds": statistics.median(r["baseline_seconds"] for r in runs),
        },
        # the same retrain in units of the baseline: comparable across days and machines
        "ratio_to_baseline_median": ratio,
        "target_seconds": TARGET_SECONDS,
        "met": median < TARGET_SECONDS,
    }
    print(
        f"train + evaluate: median {median:.1f} s over {len(runs)} runs ({totals}); "
        f"{ratio:.1f}x the baseline workload"
    )
    write_results("train_evaluate", results)


if __name__ == "__main__":
    main()
