"""`readiness monitor` on the session's scored simulation: every gate estimated with its band
and a recommendation with its reasons, and an injected change in the current leads detected and
named. (The statistics themselves are checked in tests/models/test_monitor.py.)"""

from __future__ import annotations

import shutil

import pandas as pd
from small_project import write_params


def test_the_monitor_estimates_each_gate_with_its_band_and_gives_reasons(scored):
    from pipelines.monitor import stage

    s = stage.run(scored["project"])
    assert set(s["gates"]) == set(scored["project"].params.ladder)
    for g in s["gates"].values():
        for estimate in (g["estimate_now"], g["estimate_on_test_cohort"]):
            if estimate["estimated_auc"] is not None:
                low, high = estimate["band_90"]
                assert 0.5 <= low <= estimate["estimated_auc"] <= high <= 1
        # a recommendation always comes with its reasons, and only with reasons that say so
        assert g["reasons"] and g["retrain"] == any(
            "shifted" in r or "below its test AUC" in r for r in g["reasons"]
        )
    assert {f["family"] for f in s["families"]} >= {"engagement"}


def test_an_injected_change_in_the_current_leads_is_detected_and_named(scored, tmp_path):
    from pipelines.monitor import stage

    sim = scored["sim"]
    folder = tmp_path / "changed"
    shutil.copytree(scored["folder"], folder, ignore=shutil.ignore_patterns("mlflow.db", "mlruns"))
    project = write_params(folder, sim)
    scoring = folder / "data" / "features" / "scoring.parquet"
    X = pd.read_parquet(scoring)
    # a dated change: every open lead suddenly shows a burst of engaged actions
    engaged = [c for c in X.columns if c.startswith("engaged_actions_")]
    X[engaged] = X[engaged] * 6 + 5
    X.to_parquet(scoring, index=False)
    s = stage.run(project)
    assert s["retrain"], s["gates"]
    drifted = {f["feature"] for f in s["features_strong_drift"]}
    assert set(engaged) & drifted
    first = s["gates"][s["retrain"][0]]
    assert any("score distribution shifted" in r for r in first["reasons"])
