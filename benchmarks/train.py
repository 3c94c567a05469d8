"""Benchmark of `readiness train`: wall time and peak memory of fitting every gate model (with
early stopping and calibration) and both baselines.

Sizes: the default simulated data (the training snapshots `dvc repro` built) and a scaled-up
frame: the default frame's train and validation rows replicated as new leads (lead ids offset
per copy, features and labels unchanged), without a large feature build first. Its AUCs are not
meaningful (copies add no information); only its time and memory are. Default scale: 300k
leads, where every gate's training cohort but mql's already exceeds `train.max_train_rows` (3M),
so those gate models fit on as many rows as they would at 1M leads (negatives beyond the cap are
sampled); what still grows beyond it is prediction on the validation rows and the baselines.
`--leads 1000000` replicates to 1M leads (about 14.5M rows x 87 features, plus the float64
matrix training makes); it was not run here, for memory.
Baseline, measured in the same run: one plain LightGBM fit of the first gate on the same rows
with the same parameters (no early stopping, calibration or baselines).
Target (issue 4): all gates in under 5 minutes at 1M leads.

    dvc repro train                 # the default features and labels must exist
    python benchmarks/train.py      # writes benchmarks/results/train.json
    python benchmarks/train.py --quick   # default size only, one repeat
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure, write_results  # noqa: E402

from features.profile import catalog_from_meta  # noqa: E402
from models.cohorts import TEST, assign_cohorts  # noqa: E402
from models.dataset import load_training_frame  # noqa: E402
from models.labels import label_column  # noqa: E402
from models.train import train_models  # noqa: E402
from readiness.params import load_params  # noqa: E402


def replicate(features: pd.DataFrame, labels: pd.DataFrame, copies: int):
    """`copies` copies of the rows as distinct leads (lead ids offset per copy)."""
    span = int(features["lead_id"].max()) + 1
    f = pd.concat([features] * copies, ignore_index=True)
    lab = pd.concat([labels] * copies, ignore_index=True)
    offset = np.repeat(np.arange(copies, dtype=np.int64) * span, len(features))
    f["lead_id"] = f["lead_id"].to_numpy() + offset
    lab["lead_id"] = f["lead_id"].to_numpy()
    return f, lab


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--leads", type=int, default=300_000)
    args = ap.parse_args()
    project = load_params()
    params = project.params
    features, labels, settings, meta = load_training_frame(project)
    catalog = catalog_from_meta(meta)
    n_leads = int(features["lead_id"].nunique())
    # rows training never reads (test cohort, gaps) are left out of the replicas
    cohort = assign_cohorts(features["cutoff"], params.train)
    keep = (cohort.notna() & (cohort != TEST)).to_numpy()
    features, labels = (
        features[keep].reset_index(drop=True),
        labels[keep].reset_index(drop=True),
    )

    def fit(f, lab):
        return lambda: train_models(
            f,
            lab,
            cohort=assign_cohorts(f["cutoff"], params.train).reset_index(drop=True),
            catalog=catalog,
            catalog_version=meta["version"],
            ladder=params.ladder,
            horizon_days=settings.horizon_days,
            p=params.train,
        )

    def plain(f, lab):
        gate = params.ladder[0]
        y = lab[label_column(gate)]
        ok = y.notna().to_numpy()
        X = f.loc[ok, [c.name for c in catalog]].astype(float)
        lp = params.train.lightgbm
        return lambda: lgb.train(
            {
                "objective": "binary",
                "learning_rate": lp.learning_rate,
                "num_leaves": lp.num_leaves,
                "min_child_samples": lp.min_child_samples,
                "verbose": -1,
                "num_threads": 2,
            },
            lgb.Dataset(X, y[ok].astype(int)),
            num_boost_round=200,
        )

    results = {"simulated_leads": n_leads, "sizes": {}}
    copies = max(1, round(args.leads / n_leads))
    plan = [("default", 1)] if args.quick else [("default", 1), (f"{args.leads // 1000}k", copies)]
    for name, k in plan:
        f, lab = (features, labels) if k == 1 else replicate(features, labels, k)
        repeat = 1 if args.quick or k > 1 else args.repeat
        print(f"{name}: {len(f):,} training and validation snapshots ({k} x {n_leads:,} leads)")
        m = measure(fit(f, lab), repeat=repeat)
        report = m.pop("result").report
        base = measure(plain(f, lab), repeat=repeat)
        base.pop("result", None)
        results["sizes"][name] = {
            "leads": n_leads * k,
            "snapshots": len(f),
            "train_all_gates": m,
            "plain_lightgbm_first_gate_200_rounds": base,
            "ratio_to_plain_fit": round(m["wall_seconds_median"] / base["wall_seconds_median"], 2),
            "gates": {
                g: {
                    kk: v
                    for kk, v in r.items()
                    if kk
                    in (
                        "train_rows",
                        "train_rows_used",
                        "train_positives",
                        "best_iteration",
                        "seconds",
                    )
                }
                for g, r in report.items()
            },
        }
        print(
            f"  all gates {m['wall_seconds_median']:.1f}s (peak {m['peak_memory_gib']:.2f} GiB); "
            f"plain first-gate fit {base['wall_seconds_median']:.1f}s"
        )
        del f, lab
    results["target_seconds_at_1M"] = 300
    write_results("train", results)


if __name__ == "__main__":
    main()
