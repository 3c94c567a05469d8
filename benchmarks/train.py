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

With `--shortcuts`, also the cost of each shortcut (issue 15): the default data trained as the
train stage does (leakage guard first), once as shipped and once per shortcut, with every gate's
test AUC (the gate's calibrated probability on the test cohort) and the time of `train_models`.

    dvc repro train                 # the default features and labels must exist
    python benchmarks/train.py      # writes benchmarks/results/train.json
    python benchmarks/train.py --quick   # default size only, one repeat
    python benchmarks/train.py --shortcuts   # the shortcuts' AUC cost (kept in train.json)
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure, write_results  # noqa: E402

import models.train as training  # noqa: E402
from features.profile import catalog_from_meta  # noqa: E402
from models.cohorts import TEST, TRAIN, assign_cohorts  # noqa: E402
from models.dataset import load_training_frame  # noqa: E402
from models.guard import screen_for_training  # noqa: E402
from models.labels import label_column  # noqa: E402
from models.train import train_models  # noqa: E402
from readiness.params import ProjectParams, load_params  # noqa: E402

# (name, train params changed, LightGBM params changed, LightGBM's own parameters added)
SHORTCUTS = (
    ("as shipped", {}, {}, {}),
    (
        "early stopping after 100 rounds without gain (before)",
        {},
        {"early_stopping_rounds": 100},
        {},
    ),
    ("row cap 250,000 per gate (negatives sampled)", {"max_train_rows": 250_000}, {}, {}),
    ("regressions fitted on 200,000 rows", {"logistic_max_rows": 200_000}, {}, {}),
    ("63 histogram bins", {}, {}, {"max_bin": 63}),
)


def replicate(features: pd.DataFrame, labels: pd.DataFrame, copies: int):
    """`copies` copies of the rows as distinct leads (lead ids offset per copy)."""
    span = int(features["lead_id"].max()) + 1
    f = pd.concat([features] * copies, ignore_index=True)
    lab = pd.concat([labels] * copies, ignore_index=True)
    offset = np.repeat(np.arange(copies, dtype=np.int64) * span, len(features))
    f["lead_id"] = f["lead_id"].to_numpy() + offset
    lab["lead_id"] = f["lead_id"].to_numpy()
    return f, lab


def shortcuts(project: ProjectParams) -> list[dict]:
    """Each shortcut's training time and test AUC per gate, trained as the train stage does."""
    params = project.params
    features, labels, settings, meta = load_training_frame(project)
    catalog = catalog_from_meta(meta)
    cohort = assign_cohorts(features["cutoff"], params.train).reset_index(drop=True)
    tp = params.train
    screen = screen_for_training(
        features,
        labels,
        catalog,
        params.ladder,
        (cohort == TRAIN).to_numpy(),
        tp,
        test_rows=(cohort == TEST).to_numpy(),
    )
    left_out = {r["feature"] for r in screen if r["excluded"]}
    catalog = tuple(f for f in catalog if f.name not in left_out)
    test = (cohort == TEST).to_numpy()
    X_test = features.loc[test, [f.name for f in catalog]].astype(float)
    own_params = training._lightgbm_params
    out = []
    for name, changes, lgb_changes, lgb_own in SHORTCUTS:
        p = dataclasses.replace(
            tp, lightgbm=dataclasses.replace(tp.lightgbm, **lgb_changes), **changes
        )
        training._lightgbm_params = lambda q, m, r=1.0, extra=lgb_own: {
            **own_params(q, m, r),
            **extra,
        }
        try:
            m = measure(
                lambda p=p: train_models(
                    features,
                    labels,
                    cohort=cohort,
                    catalog=catalog,
                    catalog_version=meta["version"],
                    ladder=params.ladder,
                    horizon_days=settings.horizon_days,
                    p=p,
                ),
                repeat=1,
            )
        finally:
            training._lightgbm_params = own_params
        result = m.pop("result")
        aucs = {}
        for gate in params.ladder:
            y = labels.loc[test, label_column(gate)]
            known = y.notna().to_numpy()
            proba = result.model.gates[gate].proba(X_test[known])
            aucs[gate] = round(float(roc_auc_score(y[known].astype(int), proba)), 4)
        out.append({"shortcut": name, "seconds": m["wall_seconds"][0], "test_auc": aucs})
        print(f"  {name}: {m['wall_seconds'][0]:.1f}s, test AUC {aucs}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shortcuts", action="store_true")
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
    if args.shortcuts:
        results["shortcuts"] = shortcuts(project)
    write_results("train", results)


if __name__ == "__main__":
    main()
