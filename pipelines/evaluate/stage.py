"""Stage `evaluate`: the gate models against the baselines (and, on simulated data, the truth)
on the test cohort, or on a flat export by the train stage's cross-validation; the promotion
gate.

Inputs: `paths.features`/training, `paths.labels`, `paths.models` (the trained run), and on
simulated data (`paths.ground_truth` present) `paths.truth`: the true probabilities the `truth`
stage rolled out on a sample of the test rows, refused if rolled out with other settings.
Outputs: `paths.metrics`/evaluate.json (DVC metrics: per gate and model ROC AUC, PR AUC,
top-decile lift, recall in the top 20 %, Brier, ECE; the truth comparison), `paths.plots`/
{roc,calibration,lift}.csv (DVC plots), `paths.evaluation`/ (metrics by cohort and segment, data
sufficiency, ground truth sample, PNG figures) and `paths.metrics`/promotion.json. Everything is
also logged to the training run in MLflow.
Params: evaluate, train (cohort dates), labels, ladder.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from models import registry
from models.bundle import ReadinessModel, load_baselines
from models.cohorts import (
    TEST,
    assign_cohorts,
    evaluation_method,
    is_flat,
    no_test_rows,
    training_cohorts,
)
from models.crossval import CV_FILE, unpack
from models.dataset import load_training_frame
from models.dormant import dormant_figures, load_dormant_frame
from models.evaluate import (
    HEADLINE_METRICS,
    compare_with_baselines,
    curves,
    evaluate_test,
    evaluate_timing,
    predictions,
)
from models.ground_truth import (
    TRUTH_METRICS,
    TruthSample,
    compare_timing_with_truth,
    compare_with_truth,
    truth_settings,
)
from models.labels import sufficiency
from models.plots import evaluation_figures
from models.promotion import run_promotion_gate
from models.train import crossed_at_creation, sufficiency_warnings
from pipelines.common import write_json
from readiness.errors import ReadinessError
from readiness.outputs import Output, replacing
from readiness.params import ProjectParams

log = logging.getLogger(__name__)
# what evaluate writes into paths.evaluation and paths.plots
CURVES = ("calibration", "lift", "roc")
EVALUATION_NAMES = (
    "by_cohort_and_segment.csv",
    "data_sufficiency.csv",
    *(f"{c}.png" for c in CURVES),
    "ground_truth_sample.parquet",
    "ground_truth.json",
)


def _flat_points(X: pd.DataFrame, preds: dict[str, pd.DataFrame], points: dict) -> str | None:
    """Why the points baseline ranks nothing, when every test snapshot gets the same points (its
    features are constant on this data, as belief counts are on an export whose content carries
    no belief tags): its AUC is then 0.5 and its probability one number per gate, which a
    reader of the table should be told rather than take for a weak rival."""
    if "points" not in preds or not points:
        return None
    named = [n for n in points if n in X.columns]
    if any(X[n].nunique(dropna=False) > 1 for n in named):
        return None
    return (
        "points: every test snapshot gets the same points (train.points counts "
        f"{', '.join(named[:4])}{', ...' if len(named) > 4 else ''}, which do not vary on this "
        "data): the points baseline ranks nothing here (AUC 0.5, one probability per gate). "
        "Point train.points at features your data carries to make it a rival."
    )


def run(project: ProjectParams) -> dict:
    params = project.params
    p = params.evaluate
    features, labels, settings, catalog_meta = load_training_frame(project)
    models_dir = project.resolve(params.paths.models)
    flat_export = is_flat(catalog_meta)
    method = evaluation_method(flat_export, params.train.cv_folds)
    cohort = training_cohorts(features, labels, catalog_meta, params.train, params.ladder)
    if flat_export:  # the out-of-fold predictions the train stage made: every row is a test row
        X, y, preds = _cross_validated(models_dir, features, labels)
        test = np.ones(len(X), dtype=bool)
    else:
        test = (cohort == TEST).to_numpy()
        if not test.any():
            raise no_test_rows(params.train)
        X, y = features[test].reset_index(drop=True), labels[test].reset_index(drop=True)
        model = ReadinessModel.load(models_dir / "readiness")
        preds = predictions(X, model, load_baselines(models_dir / "baselines"))
    # dormant leads, recalibrated on their own sample (models/dormant.py): the test cohort's
    dormant = None
    if not flat_export:
        idle, idle_labels = load_dormant_frame(project)
        if not idle.empty:
            rows = (assign_cohorts(idle["cutoff"], params.train) == TEST).to_numpy()
            dormant = dormant_figures(model, idle, idle_labels, rows)
    if not params.train.points:  # no hand-written points configured: no points baseline
        preds.pop("points", None)
    headline, by_group = evaluate_test(X, y, preds, params.ladder, p.segments, p.ece_bins)
    # time to threshold against the realised crossings (models/timing.py)
    when = None if flat_export else model.time_to_threshold(X, preds["model"])
    timing: dict = (
        {"unknown": "a flat export has no dates: when leads cross is unknown"}
        if when is None
        else evaluate_timing(model.timing, when, preds["model"], y, params.ladder, p.ece_bins)
    )
    # is the model's edge over (or gap to) each baseline more than noise? DeLong 95 % intervals
    versus = compare_with_baselines(y, preds, params.ladder)
    plot_data = curves(y, preds, params.ladder, p.ece_bins)
    suff = sufficiency(labels, params.ladder, cohort.fillna("outside"))
    inside = suff[suff["cohort"] != "outside"]
    stage = features.get("ladder_stage")
    warnings = sufficiency_warnings(
        inside, params.train.min_positives, crossed_at_creation(inside, stage, params.ladder)
    )
    flat_points = _flat_points(X, preds, dict(params.train.points))
    if flat_points:
        warnings.append(flat_points)

    truth = None
    simulated = project.resolve(params.paths.ground_truth).exists()
    if p.ground_truth and simulated and not flat_export:
        # the truth the `truth` stage rolled out on a sample of these test rows
        sample = TruthSample.load_if_any(project.resolve(params.paths.truth))
        if sample is None:
            raise ReadinessError(
                f"No ground truth sample in {params.paths.truth} (paths.truth): run "
                "`readiness truth` before `readiness evaluate` (`dvc repro` runs it), or set "
                "evaluate.ground_truth: false."
            )
        sample.check(truth_settings(params, settings), params.paths.truth)
        truth, beliefs = compare_with_truth(
            sample, X, y, preds, ladder=params.ladder, seed=params.train.seed
        )
        if when is not None:  # and each shorter horizon's probabilities against the truth's
            for gate, by_h in compare_timing_with_truth(
                sample, y, when, ladder=params.ladder
            ).items():
                if gate in timing.get("gates", {}):
                    timing["gates"][gate]["truth_by_horizon"] = by_h

    evaluation = project.resolve(params.paths.evaluation)
    plots = project.resolve(params.paths.plots)
    outputs = (
        Output(evaluation, "paths.evaluation", EVALUATION_NAMES),
        Output(plots, "paths.plots", tuple(f"{c}.csv" for c in CURVES)),
    )
    # both folders in place together, only once every file is written
    with replacing("evaluate", *outputs) as (evaluation_dir, plots_dir):
        for name, frame in plot_data.items():
            frame.to_csv(plots_dir / f"{name}.csv", index=False)
        by_group.to_csv(evaluation_dir / "by_cohort_and_segment.csv", index=False)
        suff.to_csv(evaluation_dir / "data_sufficiency.csv", index=False)
        figures = [evaluation / f.name for f in evaluation_figures(plot_data, evaluation_dir)]
        if truth is not None:
            beliefs.to_parquet(evaluation_dir / "ground_truth_sample.parquet", index=False)
            write_json(evaluation_dir / "ground_truth.json", truth)

    metrics = {
        gate: {
            model_name: {k: round(v, 5) for k, v in m.items() if k in HEADLINE_METRICS}
            for model_name, m in by_model.items()
        }
        for gate, by_model in headline.items()
    }
    if truth is not None:
        for gate, t in truth.items():
            metrics[gate]["ground_truth"] = {
                k: v if isinstance(v, bool) else round(v, 5)
                for k, v in t.items()
                if k in TRUTH_METRICS and v is not None
            }
            if t.get("model_above_truth"):
                warnings.append(
                    f"{gate}: the model's AUC {t['model_auc']:.4f} is above the truth's "
                    f"{t['truth_auc']:.4f} beyond the truth's Monte Carlo error and the rows' "
                    "bootstrap interval: no model can beat the truth, so suspect a leak or too few "
                    "roll-outs (evaluate.ground_truth_rollouts)."
                )
    for gate, d in (dormant or {}).get("gates", {}).items():
        if not d.get("consistent", True):
            warnings.append(
                f"{gate}: among dormant leads (no sign of life for features.dormant_after_days) "
                f"{d['positives']:,} of {d['snapshots']:,} test snapshots crossed where the model "
                f"expected {d['expected_after']:.1f} (Poisson p = {d['poisson_p']:.3g}): their "
                f"probabilities are too {'high' if d['expected_after'] > d['positives'] else 'low'}"
                ". A larger features.dormant_sample gives their recalibration more to learn from."
            )
    implausible = _implausible_your_columns(metrics, p.implausible_your_columns_auc, models_dir)
    targets = _targets(metrics, truth, versus, implausible)
    for gate, w in implausible.items():
        warnings.append(f"{gate}: {w}")

    # the promotion gate: challenger vs champion on this (the newest) cohort
    run_info = json.loads((models_dir / "run.json").read_text())
    registry.configure(project.root, params.train.mlflow.experiment)
    promotion = run_promotion_gate(
        registered_model=run_info["registered_model"],
        version=run_info["model_version"],
        X=X,
        y=y,
        challenger={g: headline[g]["model"] for g in params.ladder},
        ladder=params.ladder,
        p=p,
        # the champion was trained on these very leads: its AUC on them is not comparable
        compare_champion=not flat_export,
        versus=versus,
        catalog_version=catalog_meta["version"],
        implausible=implausible,
    )

    out = project.resolve(params.paths.metrics)
    write_json(
        out / "evaluate.json",
        {
            "evaluation_method": method,
            "gates": metrics,
            "model_minus_baseline_auc": versus,
            "targets": targets,
            "dormant": dormant,
            "implausible_your_columns": implausible,
            "time_to_threshold": timing,
        },
    )
    write_json(out / "promotion.json", promotion)
    flat = {
        f"test.{gate}.{model_name}.{k}": float(v)
        for gate, by_model in metrics.items()
        for model_name, m in by_model.items()
        for k, v in m.items()
        if v is not None and np.isfinite(v)
    } | {
        f"test.{gate}.time_to_threshold.{k}": float(t[k])
        for gate, t in timing.get("gates", {}).items()
        for k in ("concordance", "concordance_readiness_alone")
        if t.get(k) is not None
    }
    registry.log_evaluation(
        run_info["run_id"],
        flat,
        [
            *figures,
            evaluation / "by_cohort_and_segment.csv",
            evaluation / "data_sufficiency.csv",
            out / "promotion.json",
        ],
    )
    return {
        "evaluation_method": method,
        "metrics": metrics,
        "model_minus_baseline_auc": versus,
        "targets": targets,
        "dormant": dormant,
        "time_to_threshold": timing,
        "promotion": promotion,
        "warnings": warnings,
        "test_rows": int(test.sum()),
    }


def _implausible_your_columns(metrics: dict, bound: float, models_dir) -> dict[str, str]:
    """Gates that the user's own columns alone rank at an AUC of `bound` or more on the test
    rows: columns known when a lead was created rarely do, so one of them is probably filled in
    after the outcome (a score, a status, a lifecycle stage exported today) yet declared
    at_creation, which the guard cannot see. Per gate, the warning naming the strongest ones
    (the leakage screen's AUC alone)."""
    screen_file = models_dir / "leakage_screen.json"
    screen = json.loads(screen_file.read_text()) if screen_file.exists() else []
    out: dict[str, str] = {}
    for gate, by_model in metrics.items():
        auc = (by_model.get("your_columns") or {}).get("roc_auc")
        if auc is None or auc < bound:
            continue
        # the columns the model was trained on: one the guard left out inflates nothing
        own = sorted(
            (
                r
                for r in screen
                if r.get("family") == "profile"
                and r.get("single_feature_auc")
                and not r.get("excluded")
            ),
            key=lambda r: -r["single_feature_auc"],
        )[:3]
        named = ", ".join(
            f"{r['feature']} (AUC alone {r['single_feature_auc']:.3f} on its strongest gate)"
            for r in own
        )
        out[gate] = (
            f"your own columns alone rank it at AUC {auc:.3f} on the test rows (>= "
            f"evaluate.implausible_your_columns_auc {bound}): columns known when a lead is created rarely do, so "
            "one is probably filled in after the outcome (a score, a status, a lifecycle stage "
            "exported today) though declared at_creation"
            + (f"; the strongest: {named}" if named else "")
            + ". Declare such a column known: at_export, or every figure here is inflated."
        )
    return out


def _cross_validated(
    models_dir: Path, features: pd.DataFrame, labels: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    """A flat export's rows with their out-of-fold predictions (models/crossval.py)."""
    path = models_dir / CV_FILE
    if not path.exists():
        raise ReadinessError(
            f"{path} not found: the features come from a flat export, which is evaluated by "
            "cross-validation; run `readiness train` again."
        )
    cv = pd.read_parquet(path)
    keys = features[["lead_id", "cutoff"]].reset_index(drop=True)
    joined = keys.merge(cv, on=["lead_id", "cutoff"], how="left", validate="one_to_one")
    if joined["fold"].isna().any():
        raise ReadinessError(
            f"{path} has no prediction for {int(joined['fold'].isna().sum())} of the training "
            "snapshots: it is from an older training run; run `readiness train` again."
        )
    preds = unpack(joined.drop(columns=["lead_id", "cutoff", "fold"]))
    return features.reset_index(drop=True), labels.reset_index(drop=True), preds


def _targets(metrics: dict, truth: dict | None, versus: dict, implausible: dict) -> dict:
    """The issue's targets, per gate: ahead of the baselines (and at least not worse beyond
    noise: the upper end of every DeLong 95 % interval of model - baseline above 0), ECE < 0.02,
    AUC >= 0.97 x truth, and not above the truth beyond its Monte Carlo error and row sampling.
    A gate your own columns rank implausibly well (`implausible`) misses
    `your_columns_plausible`: its other figures are probably inflated by a leak."""
    out = {}
    for gate, m in metrics.items():
        model = m.get("model", {})
        row = {}
        if "your_columns" in m:
            row["your_columns_plausible"] = gate not in implausible
        if "roc_auc" in model:
            # a baseline the gate ships (the same predictions: a difference of exactly 0, se 0)
            # is the model itself, not a rival to be ahead of
            shipped = {
                b for b, d in versus.get(gate, {}).items() if d["difference"] == 0 and d["se"] == 0
            }
            row["ahead_of_baselines"] = all(
                model["roc_auc"] > m[b]["roc_auc"]
                for b in ("logistic", "your_columns", "points")
                if "roc_auc" in m.get(b, {}) and b not in shipped
            )
            # a gate that ships a baseline itself (the logistic regression chosen) is that
            # baseline: a difference of exactly 0 is not worse
            row["not_worse_than_baselines_95"] = all(
                d["high"] > 0 or (d["difference"] == 0 and d["se"] == 0)
                for d in versus.get(gate, {}).values()
            )
        if "ece" in model:
            row["ece_under_0_02"] = model["ece"] < 0.02
        if truth is not None and "model_to_truth_auc_ratio" in truth.get(gate, {}):
            row["auc_at_least_0_97_of_truth"] = truth[gate]["model_to_truth_auc_ratio"] >= 0.97
            row["not_above_truth"] = not truth[gate]["model_above_truth"]
        out[gate] = row
    return out
