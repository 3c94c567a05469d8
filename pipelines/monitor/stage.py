"""Stage `monitor`: is the model still right for the leads scored now?

Inputs: `paths.features` (training snapshots and catalogue; scoring.parquet, the current open
leads), `paths.labels` (cohorts), `paths.models`/readiness (the model that scored) and
`paths.metrics`/evaluate.json (its test AUC per gate).
Outputs: `paths.metrics`/monitor.json: feature drift per feature and family (PSI against the
training cohort), the drift of each gate's score distribution, each gate's label-free AUC
estimate on the current leads next to the same estimate on the test cohort and the test cohort's
realised AUC, and a retraining recommendation per gate with its reasons.
Params: monitor, ladder, train (cohort dates).
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from models.bundle import ReadinessModel, probability_column
from models.cohorts import TEST, TRAIN, training_cohorts
from models.dataset import load_training_frame
from models.monitor import estimate_performance, family_drift, feature_drift, psi, reading
from pipelines.common import write_json
from readiness.errors import ReadinessError
from readiness.params import ProjectParams

log = logging.getLogger(__name__)


def _at_risk(X: pd.DataFrame, ladder: tuple[str, ...], gate: str) -> np.ndarray:
    """Rows that have not crossed `gate` yet (ladder_stage counts gates reached)."""
    if "ladder_stage" not in X:
        return np.ones(len(X), dtype=bool)
    return X["ladder_stage"].to_numpy() <= ladder.index(gate)


def run(project: ProjectParams) -> dict:
    params = project.params
    p = params.monitor
    features, labels, _, catalog_meta = load_training_frame(project)
    cohort = training_cohorts(features, labels, catalog_meta, params.train, params.ladder)
    scoring = project.resolve(params.paths.features) / "scoring.parquet"
    if not scoring.exists():
        raise ReadinessError(f"{scoring} not found: run `readiness features` first.")
    current = pd.read_parquet(scoring)
    model = ReadinessModel.load(project.resolve(params.paths.models) / "readiness")
    evaluation = project.resolve(params.paths.metrics) / "evaluate.json"
    tested = json.loads(evaluation.read_text())["gates"] if evaluation.exists() else {}

    rng = np.random.default_rng(p.seed)
    train_rows = np.flatnonzero((cohort == TRAIN).to_numpy())
    if len(train_rows) == 0:  # a flat export: every snapshot is the reference
        train_rows = np.arange(len(features))
    sample = rng.choice(train_rows, min(p.reference_rows, len(train_rows)), replace=False)
    reference = features.iloc[np.sort(sample)].reset_index(drop=True)
    families = {f["name"]: f["family"] for f in catalog_meta["features"]}
    drift = feature_drift(reference[model.features], current[model.features], families, p.bins)
    by_family = family_drift(drift)

    ref_probs, cur_probs = model.predict(reference), model.predict(current)
    test_rows = (cohort == TEST).to_numpy()
    test_probs = model.predict(features[test_rows]) if test_rows.any() else None
    gates: dict = {}
    for gate in params.ladder:
        col = probability_column(gate)
        ref_risk, cur_risk = (
            _at_risk(reference, params.ladder, gate),
            _at_risk(current, params.ladder, gate),
        )
        score_psi = psi(
            ref_probs[col].to_numpy()[ref_risk], cur_probs[col].to_numpy()[cur_risk], p.bins
        )
        now = estimate_performance(cur_probs[col].to_numpy()[cur_risk], p.draws, p.seed)
        then = (
            estimate_performance(
                test_probs[col].to_numpy()[_at_risk(features[test_rows], params.ladder, gate)],
                p.draws,
                p.seed,
            )
            if test_probs is not None
            else {"estimated_auc": None}
        )
        test_auc = tested.get(gate, {}).get("model", {}).get("roc_auc")
        reasons = []
        if not np.isnan(score_psi) and score_psi >= p.score_psi_alert:
            reasons.append(
                f"its score distribution shifted (PSI {score_psi:.3f} >= {p.score_psi_alert})"
            )
        estimate = now["estimated_auc"]
        if estimate is not None and test_auc is not None and estimate < test_auc - p.auc_margin:
            reasons.append(
                f"its estimated AUC on the current leads {estimate:.3f} is more than "
                f"{p.auc_margin} below its test AUC {test_auc:.3f}"
            )
        gates[gate] = {
            "score_psi": None if np.isnan(score_psi) else round(score_psi, 4),
            "score_drift": reading(score_psi),
            "estimate_now": now,
            "estimate_on_test_cohort": then,
            "test_auc": test_auc,
            "retrain": bool(reasons),
            "reasons": reasons
            or (
                ["unknown: too few leads at risk of this gate now to estimate its AUC"]
                if now["estimated_auc"] is None
                else ["score distribution stable and estimated AUC within the margin"]
            ),
        }
    strong = drift[drift["reading"] == "strong"]
    summary = {
        "reference": {"cohort": "training", "snapshots": len(reference)},
        "current": {"open_leads": len(current), "as_of": str(current["cutoff"].max())[:10]},
        "retrain": [g for g, v in gates.items() if v["retrain"]],
        "gates": gates,
        "families": by_family.round({"max_psi": 4}).to_dict("records"),
        "features_strong_drift": strong.round({"psi": 4})[["feature", "family", "psi"]].to_dict(
            "records"
        ),
        "features": drift.round({"psi": 4}).to_dict("records"),
        "assumption": (
            "the estimate assumes the probabilities stay calibrated on the new leads: it tracks "
            "a change in who the leads are, not in how the signals relate to buying"
        ),
    }
    metrics = project.resolve(params.paths.metrics)
    write_json(metrics / "monitor.json", summary)
    log.info("monitor: retraining recommended for %s", summary["retrain"] or "no gate")
    return summary
