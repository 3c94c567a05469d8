"""Benchmark of the simulator's ground truth (`readiness truth`, the truth stage that evaluate compares with):
its bias, its stability across disjoint sets of roll-outs, and its time.

The rows are those the truth stage samples from the default test cohort (every positive up
to 400 per gate plus 600 negatives). The roll-outs run twice on `--copies` copies per row with
the same random streams (so both see the same simulated futures): "sampled" counts the copies
that crossed (the estimator before issue 15), "compensator" adds up each copy's exact chance of
stepping over the gate on each day it sits one step below it; "combined" (the default since) is
made from the two as the library makes it. The copies are independent, so every disjoint set of
R of them is an independent truth with R roll-outs: per gate, estimator and R, the truth's AUC
over the disjoint sets (mean, spread, largest difference between two sets; plain and debiased
as in models/ground_truth.py) against the reference, the debiased combined estimate on all the
copies (the sets are drawn from the same copies: the bias is a mean bias, the reference's own
being smaller still). Then the truth stage's setting is timed: today's (combined,
`evaluate.ground_truth_rollouts` roll-outs) against the old one (160 roll-outs, counted), in the
same run.

    dvc repro evaluate              # the default simulation, features and labels must exist
    python benchmarks/truth.py --copies 640 --keep /tmp/truth_copies.npz
                                    # benchmarks/results/truth.json (about 20 minutes)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import ROOT, write_results  # noqa: E402

from models.bundle import ReadinessModel, probability_column  # noqa: E402
from models.cohorts import TEST, training_cohorts  # noqa: E402
from models.dataset import load_training_frame  # noqa: E402
from models.ground_truth import sample_rows, truth_error  # noqa: E402
from models.labels import label_column  # noqa: E402
from readiness.params import load_params  # noqa: E402
from readiness.simulator.truth import estimate, finish, true_probability_copies  # noqa: E402

OLD_ROLLOUTS = 160  # the truth's setting before issue 15 (sampled)
RUNS = ("sampled", "compensator")  # rolled out; "combined" is made from the two
SET_SIZES = (20, 40, 80, 160)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--copies", type=int, default=320, help="roll-outs per row per estimator")
    ap.add_argument("--smoke", action="store_true", help="a few rows, to try the script")
    ap.add_argument(
        "--keep",
        help="a .npz file outside the repository: the copies are saved there, or read from it "
        "when it exists (to redo the analysis without the roll-outs)",
    )
    ap.add_argument(
        "--mql-gap-only",
        action="store_true",
        help="only the mql gap, added to an existing benchmarks/results/truth.json",
    )
    args = ap.parse_args()
    project = load_params(ROOT / "params.yaml")
    params = project.params
    features, labels, settings, meta = load_training_frame(project)
    cohort = training_cohorts(features, labels, meta, params.train, params.ladder)
    test = (cohort == TEST).to_numpy()
    X, y = features[test].reset_index(drop=True), labels[test].reset_index(drop=True)
    ev = params.evaluate
    rows = sample_rows(
        y, params.ladder, ev.ground_truth_positives, ev.ground_truth_negatives, params.train.seed
    )
    if args.smoke:
        rows = {g: r[:60] for g, r in rows.items()}
    union = np.unique(np.concatenate(list(rows.values())))
    queries = X.iloc[union][["lead_id", "cutoff"]].reset_index(drop=True)
    options = {"horizon_days": settings.horizon_days}

    def truth(estimator: str, rollouts: int) -> tuple[dict[str, np.ndarray], float]:
        t0 = time.perf_counter()
        _, copies = true_probability_copies(
            params.simulate,
            queries,
            params.ladder,
            rollouts=rollouts,
            estimator=estimator,
            **options,
        )
        return copies, round(time.perf_counter() - t0, 1)

    if args.mql_gap_only:
        path = ROOT / "benchmarks" / "results" / "truth.json"
        result = json.loads(path.read_text())
        result["mql_gap"] = mql_gap(project, X, y, rows["mql"], queries, union, options, None)
        result["mql_gap"]["truth_auc"] = result["gates"]["mql"]["reference_truth_auc"]
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"mql gap: {result['mql_gap']}")
        return
    print(f"{len(queries)} test snapshots; {args.copies} roll-outs each, per estimator", flush=True)
    copies, seconds = {}, {}
    cache = Path(args.keep) if args.keep else None
    if cache is not None and cache.exists():  # the copies of an earlier run, for the analysis
        kept = np.load(cache)
        copies = {est: {g: kept[f"{est}/{g}"] for g in params.ladder} for est in RUNS}
        seconds = {est: float(kept[f"{est}/seconds"]) for est in RUNS}
    else:
        for est in RUNS:
            copies[est], seconds[est] = truth(est, args.copies)
            print(f"  {est}: {seconds[est]} s", flush=True)
        if cache is not None:
            np.savez(
                cache,
                **{f"{est}/{g}": m for est, by in copies.items() for g, m in by.items()},
                **{f"{est}/seconds": np.array(seconds[est]) for est in RUNS},
            )
    # the same random streams: the combined estimate of the same copies, as the library makes it
    copies["combined"] = {
        g: finish(copies["sampled"][g], copies["compensator"][g], "combined") for g in params.ladder
    }
    rng = np.random.default_rng(params.train.seed)

    gates = {}
    for gate in params.ladder:
        at = np.searchsorted(union, rows[gate])
        yy = y[label_column(gate)].to_numpy()[rows[gate]].astype(int)
        c = {est: m[gate][at] for est, m in copies.items()}
        ok = ~np.isnan(c["compensator"][:, 0])
        yy, c = yy[ok], {est: m[ok] for est, m in c.items()}
        reference = truth_error(yy, c["combined"], rng)
        entry: dict = {
            "rows": int(ok.sum()),
            "positives": int(yy.sum()),
            "reference_truth_auc": round(reference["truth_auc_plain"], 5),
            "reference_truth_auc_debiased": round(reference["truth_auc"], 5),
            "reference_rollouts": args.copies,
        }
        for est, m in c.items():
            entry[est] = {}
            for size in SET_SIZES:
                sets = [m[:, k : k + size] for k in range(0, args.copies - size + 1, size)]
                aucs = np.array([roc_auc_score(yy, estimate(s)) for s in sets])
                fixed = np.array([truth_error(yy, s, rng, resamples=0)["truth_auc"] for s in sets])
                zero_positives = np.mean([(estimate(s)[yy == 1] == 0).mean() for s in sets])
                entry[est][str(size)] = {
                    "sets": len(sets),
                    "truth_auc_mean": round(float(aucs.mean()), 5),
                    "bias_vs_reference": round(float(aucs.mean() - reference["truth_auc"]), 5),
                    "spread_sd": round(float(aucs.std(ddof=1)), 5) if len(sets) > 1 else None,
                    "largest_difference": round(float(aucs.max() - aucs.min()), 5),
                    "debiased_auc_mean": round(float(fixed.mean()), 5),
                    "debiased_bias_vs_reference": round(
                        float(fixed.mean() - reference["truth_auc"]), 5
                    ),
                    "debiased_spread_sd": round(float(fixed.std(ddof=1)), 5)
                    if len(sets) > 1
                    else None,
                    "debiased_largest_difference": round(float(fixed.max() - fixed.min()), 5),
                    "positives_estimated_zero": round(float(zero_positives), 4),
                }
        gates[gate] = entry
        now = entry["combined"][str(ev.ground_truth_rollouts)]
        print(
            f"  {gate:<24} reference {reference['truth_auc']:.4f}; at 160: sampled "
            f"{entry['sampled']['160']['truth_auc_mean']:.4f}, compensator "
            f"{entry['compensator']['160']['truth_auc_mean']:.4f}, combined "
            f"{entry['combined']['160']['truth_auc_mean']:.4f}, debiased "
            f"{entry['combined']['160']['debiased_auc_mean']:.4f}; debiased sets of "
            f"{ev.ground_truth_rollouts} differ by up to {now['debiased_largest_difference']}",
            flush=True,
        )

    # the truth stage's setting, timed against the old one in the same run
    _, old_seconds = truth("sampled", OLD_ROLLOUTS)
    _, new_seconds = truth("combined", ev.ground_truth_rollouts)
    timing = {
        "old": {"estimator": "sampled", "rollouts": OLD_ROLLOUTS, "seconds": old_seconds},
        "now": {
            "estimator": "combined",
            "rollouts": ev.ground_truth_rollouts,
            "seconds": new_seconds,
        },
        "ratio_now_to_old": round(new_seconds / old_seconds, 3),
    }
    print(f"  timing: old {old_seconds} s, now {new_seconds} s", flush=True)
    if args.smoke:
        return
    gap = mql_gap(project, X, y, rows["mql"], queries, union, options, copies["combined"])
    print(f"  mql gap: {gap}", flush=True)
    path = write_results(
        "truth",
        {
            "command": "python benchmarks/truth.py",
            "test_snapshots": len(queries),
            "horizon_days": settings.horizon_days,
            "copies_per_estimator": args.copies,
            "seconds_per_estimator": seconds,
            "gates": gates,
            "evaluate_stage": timing,
            "mql_gap": gap,
        },
    )
    print(f"wrote {path.relative_to(ROOT)}")


def mql_gap(project, X, y, rows, queries, union, options, copies: dict | None) -> dict:
    """Cross-validated AUCs on the mql rows: the model's score alone, then with the hidden state
    at the cutoff (engagement energy, marketing's score) added; and the truth's AUC."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    params = project.params
    at = np.searchsorted(union, rows)
    state, _ = true_probability_copies(
        params.simulate, queries.iloc[at], ("mql",), rollouts=2, **options
    )
    model = ReadinessModel.load(project.resolve(params.paths.models) / "readiness")
    p = model.predict(X.iloc[rows])[probability_column("mql")].to_numpy()
    yy = y[label_column("mql")].to_numpy()[rows].astype(int)
    at_risk = state["p_mql"].notna().to_numpy()  # the truth's rows: the gate not crossed yet
    p, yy, state = p[at_risk], yy[at_risk], state[at_risk]
    score = np.log(np.clip(p, 1e-6, 1 - 1e-6) / np.clip(1 - p, 1e-6, 1))
    energy, marketing = state["energy"].to_numpy(), state["marketing_score"].to_numpy()
    folds = StratifiedKFold(5, shuffle=True, random_state=params.train.seed)

    def cv_auc(*columns: np.ndarray) -> float:
        design = np.column_stack(columns)
        design = (design - design.mean(axis=0)) / (design.std(axis=0) + 1e-12)
        fitted = cross_val_predict(
            LogisticRegression(max_iter=1000), design, yy, cv=folds, method="predict_proba"
        )[:, 1]
        return round(float(roc_auc_score(yy, fitted)), 4)

    truth = (
        round(float(roc_auc_score(yy, estimate(copies["mql"][at][at_risk]))), 4)
        if copies is not None
        else None
    )
    return {
        "rows": int(at_risk.sum()),
        "positives": int(yy.sum()),
        "model_auc": round(float(roc_auc_score(yy, p)), 4),
        "model_cv_auc": cv_auc(score),
        "model_and_marketing_score_cv_auc": cv_auc(score, np.log1p(marketing)),
        "model_and_energy_cv_auc": cv_auc(score, energy),
        "model_energy_and_marketing_score_cv_auc": cv_auc(score, energy, np.log1p(marketing)),
        "truth_auc": truth,
    }


if __name__ == "__main__":
    main()
