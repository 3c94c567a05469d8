"""Evaluate's reading of its own figures: your columns alone ranking a gate implausibly well, a
points baseline that cannot rank."""

from __future__ import annotations

import json

import pandas as pd

from pipelines.evaluate.stage import _implausible_your_columns, _targets


def test_your_columns_ranking_a_gate_implausibly_well_name_the_strongest(tmp_path):
    screen = [
        {"feature": "attr_lead_status", "family": "profile", "single_feature_auc": 0.88},
        {"feature": "attr_hubspot_score", "family": "profile", "single_feature_auc": 0.91},
        {"feature": "attr_country", "family": "profile", "single_feature_auc": 0.52},
        # left out by the guard: it inflates nothing, so it is not named
        {
            "feature": "attr_lifecycle",
            "family": "profile",
            "single_feature_auc": 0.99,
            "excluded": True,
        },
        {"feature": "ladder_stage", "family": "progression", "single_feature_auc": 0.97},
    ]
    (tmp_path / "leakage_screen.json").write_text(json.dumps(screen))
    metrics = {
        "mql": {"model": {"roc_auc": 0.97}, "your_columns": {"roc_auc": 0.962}},
        "closed_won": {"model": {"roc_auc": 0.95}, "your_columns": {"roc_auc": 0.81}},
        "opportunity": {"model": {"roc_auc": 0.95}},  # no columns of yours: nothing to say
    }
    out = _implausible_your_columns(metrics, 0.95, tmp_path)
    assert list(out) == ["mql"]
    assert "AUC 0.962" in out["mql"] and "at_export" in out["mql"]
    # your columns, strongest first; built-in features are not yours to blame
    assert out["mql"].index("attr_hubspot_score") < out["mql"].index("attr_lead_status")
    assert "ladder_stage" not in out["mql"] and "attr_lifecycle" not in out["mql"]
    assert _implausible_your_columns(metrics, 0.99, tmp_path) == {}
    # the gate's targets say it: its figures are probably inflated, whatever else it meets
    targets = _targets(metrics, None, {}, out)
    assert targets["mql"]["your_columns_plausible"] is False
    assert targets["closed_won"]["your_columns_plausible"] is True
    assert "your_columns_plausible" not in targets["opportunity"]
    # and such a model is not promoted: its every figure is inflated
    from models.promotion import failed_checks, promotion_decision
    from readiness.params import PromotionParams

    challenger = {g: m["model"] | {"ece": 0.01} for g, m in metrics.items()}
    decision = promotion_decision(challenger, None, PromotionParams(), implausible=out)
    assert not decision["promote"]
    assert any(r.startswith("mql: implausibly well ranked") for r in failed_checks(decision))
    assert promotion_decision(challenger, None, PromotionParams(), implausible={})["promote"]


def test_a_points_baseline_that_cannot_vary_is_said_to_rank_nothing():
    from pipelines.evaluate.stage import _flat_points

    X = pd.DataFrame({"urgency_content_all": [0, 0, 0], "email_clicks_all": [0, 3, 1]})
    preds = {"points": pd.DataFrame({"p_mql": [0.1, 0.1, 0.1]})}
    note = _flat_points(X, preds, {"urgency_content_all": 5})
    assert note is not None and "urgency_content_all" in note and "ranks nothing" in note
    # points that vary on the data, or no points baseline: nothing to say
    assert _flat_points(X, preds, {"urgency_content_all": 5, "email_clicks_all": 2}) is None
    assert _flat_points(X, {}, {"urgency_content_all": 5}) is None
