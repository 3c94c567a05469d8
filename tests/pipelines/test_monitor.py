"""`readiness monitor` on the session's scored simulation: every gate estimated with its band
and a recommendation with its reasons, and an injected change in the current leads detected and
named. (The statistics themselves are checked in tests/models/test_monitor.py.)"""

from __future__ import annotations

import shutil

import pandas as pd
from small_project import write_params


def test_the_monitor_estimates_each_gate_with_its_band_and_gives_reasons(scored):
    s = scored["monitor"]  # the session's run, made before its report
    assert set(s["gates"]) == set(scored["project"].params.ladder)
    for g in s["gates"].values():
        for estimate in (g["estimate_now"], g["estimate_on_test_cohort"]):
            if estimate["estimated_auc"] is not None:
                low, high = estimate["band_90"]
                assert 0.5 <= low <= estimate["estimated_auc"] <= high <= 1
        # the estimate is judged against the same estimate on the test cohort, not the realised AUC
        now, before = (
            g["estimate_now"]["estimated_auc"],
            g["estimate_on_test_cohort"]["estimated_auc"],
        )
        margin = scored["project"].params.monitor.auc_margin
        dropped = now is not None and before is not None and now < before - margin
        assert dropped == any("below the same estimate" in r for r in g["reasons"])
        # a recommendation always comes with its reasons, and only with reasons that say so
        assert g["reasons"] and g["retrain"] == any(
            "shifted" in r or "below" in r or "learnt from" in r for r in g["reasons"]
        )
    assert {f["family"] for f in s["families"]} >= {"engagement"}


def test_the_model_age_is_the_newest_snapshot_it_learnt_from_against_the_leads_scored_now(scored):
    from models.cohorts import CALIBRATE, STOP, TEST, TRAIN
    from pipelines.monitor.stage import measure_model_age

    age = scored["monitor"]["model_age"]
    p = scored["project"].params
    # the session's model learnt up to its validation cohort, and is within the default limit
    assert pd.Timestamp(p.train.valid_start) <= pd.Timestamp(age["learnt_until"])
    assert pd.Timestamp(age["learnt_until"]) <= pd.Timestamp(p.train.valid_end)
    assert (
        age["days"] == (pd.Timestamp(age["scored_as_of"]) - pd.Timestamp(age["learnt_until"])).days
    )
    assert age["too_old"] is False and age["limit_days"] == p.monitor.max_model_age_days

    cutoffs = pd.to_datetime(["2025-01-06", "2025-03-03", "2025-03-10", "2025-06-02"])
    features = pd.DataFrame({"cutoff": cutoffs})
    cohort = pd.Series([TRAIN, STOP, CALIBRATE, TEST])
    now = pd.Timestamp("2025-12-01")
    old = measure_model_age(features, cohort, now, limit=200, flat=False)
    # the test cohort is not learnt from: the newest learnt snapshot is the calibration one
    assert old["learnt_until"] == "2025-03-10" and old["days"] == 266 and old["too_old"]
    assert not measure_model_age(features, cohort, now, limit=300, flat=False)["too_old"]
    assert not measure_model_age(features, cohort, now, limit=None, flat=False)["too_old"]
    assert measure_model_age(features, cohort, now, limit=200, flat=True)["days"] is None
    nothing = pd.Series([TEST] * 4)
    assert measure_model_age(features, nothing, now, limit=200, flat=False)["reason"].startswith(
        "unknown"
    )


def test_dormant_open_leads_are_scored_but_not_compared_with_the_training_cohort(scored):
    from pipelines.monitor.stage import select_comparable_leads

    current = pd.DataFrame(
        {
            "lead_age_days": [10, 400, 400, 400, 400],
            "engaged_days_since_last": [999, 30, 999, 999, 999],
            "sales_touch_days_since": [999, 999, 100, 999, 999],
            "milestone_days_since": [999, 999, 999, 121, 999],
        }
    )
    # new, engaged, touched by sales, and (dormant) a milestone 121 days ago, nothing at all
    assert select_comparable_leads(current, dormant_after_days=120, flat=False).tolist() == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert select_comparable_leads(current, dormant_after_days=120, flat=True).all()
    s = scored["monitor"]["current"]
    assert 0 < s["compared_leads"] <= s["open_leads"]


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
    # the model learnt from the newest labelled cohort there is: the change is real, but a
    # retrain now would learn the same, so the advice waits for newer labels, and says so
    assert s["retrain_learns_newer"] is False
    assert "would learn from the same labelled cohorts" in s["model_age"]["retrain_note"]


def test_a_retrain_learns_newer_only_when_validation_moved_past_what_the_model_learnt():
    from pipelines.monitor.stage import _retrain_learns_newer

    age = {"learnt_until": "2025-03-26"}
    assert _retrain_learns_newer(age, "2025-03-26") is False
    assert _retrain_learns_newer(age, "2025-05-01") is True
    assert _retrain_learns_newer({}, "2025-05-01") is None  # a flat export: no cohorts


def test_published_runs_are_judged_once_their_horizon_has_passed(scored, tmp_path):
    import json
    from types import SimpleNamespace

    from models.labels import LabelSettings
    from pipelines.monitor import stage
    from pipelines.publish.export import export_run
    from pipelines.report.build import _monitor_section

    # a fresh project folder on the same simulation: only its exports are new
    project = write_params(tmp_path, scored["sim"])
    params = project.params
    done = scored["folder"]
    settings = LabelSettings.from_json((done / "data" / "labels" / "settings.json").read_text())
    scores = done / "data" / "scores"
    leads = pd.read_parquet(scores / "leads.parquet")
    accounts = pd.read_parquet(scores / "accounts.parquet")
    run = json.loads((scores / "run.json").read_text())
    exports = project.resolve(params.publish.exports)
    # the run scored now, and the same scores as if published one horizon and a month earlier
    export_run(exports, run, leads, accounts)
    end = pd.Timestamp(settings.end_of_data)
    past_as_of = end - pd.Timedelta(days=settings.horizon_days + 30)
    past = {**run, "run_id": run["run_id"] + "-past", "as_of": str(past_as_of.date())}
    export_run(exports, past, leads, accounts)

    runs = stage.published_history(project, settings, flat=False)
    history = {r["run_id"]: r for r in runs}
    assert history[run["run_id"]]["state"] == "pending"
    assert "horizon ends" in history[run["run_id"]]["reason"]
    judged = history[past["run_id"]]
    assert judged["state"] == "realised" and judged["as_of"] == past["as_of"]
    # the realised figures are those of the milestones recorded in the horizon after it: the
    # first gate counts as crossed at a lead's first milestone of any gate (a cumulative ladder)
    milestones = pd.read_parquet(project.resolve(params.paths.validated) / "milestones")
    gate = params.ladder[0]
    first = (
        milestones[milestones["milestone"].isin(params.ladder)]
        .groupby("lead_id")["occurred_at"]
        .min()
    )
    when = leads["lead_id"].map(first)
    at_risk = ~(when < past_as_of)
    in_window = (when >= past_as_of) & (
        when < past_as_of + pd.Timedelta(days=settings.horizon_days)
    )
    assert judged["gates"][gate]["rows"] == int(at_risk.sum())
    assert judged["gates"][gate]["positives"] == int((at_risk & in_window).sum()) > 0
    assert sum(r["leads"] for r in judged["routes"].values()) == len(leads)
    # judged again on the leads with a sign of life in the dormancy window before the run
    # (creation, an engaged action, a sales touch, a milestone), and the dormant rest's
    # expected against realised crossings
    validated = project.resolve(params.paths.validated)
    events = pd.read_parquet(validated / "events", columns=["lead_id", "occurred_at", "event_type"])
    signs = pd.concat(
        [
            pd.read_parquet(validated / "leads", columns=["lead_id", "created_at"]).set_axis(
                ["lead_id", "at"], axis=1
            ),
            events.loc[events["event_type"] != "email_open", ["lead_id", "occurred_at"]].set_axis(
                ["lead_id", "at"], axis=1
            ),
            pd.read_parquet(
                validated / "sales_touches", columns=["lead_id", "occurred_at"]
            ).set_axis(["lead_id", "at"], axis=1),
            milestones[["lead_id", "occurred_at"]].set_axis(["lead_id", "at"], axis=1),
        ]
    )
    window = pd.Timedelta(days=params.features.dormant_after_days)
    alive = signs[(signs["at"] < past_as_of) & (signs["at"] >= past_as_of - window)]
    active = leads["lead_id"].isin(alive["lead_id"])
    assert 0 < judged["active_leads"] == int(active.sum()) < len(leads)
    assert judged["gates_active"][gate]["rows"] == int((at_risk & active).sum())
    assert judged["gates_active"][gate]["positives"] == int((at_risk & active & in_window).sum())
    dormant = judged["dormant"]["gates"][gate]
    assert dormant["at_risk"] == int((at_risk & ~active).sum())
    assert dormant["crossed"] == int((at_risk & ~active & in_window).sum())
    expected = leads.loc[at_risk & ~active, f"p_{gate}"].sum()
    assert abs(dormant["expected_crossings"] - expected) < 0.006

    # the estimate the run gave at publication against what happened: only the realised run
    errors = stage.estimate_errors(runs, params.ladder)
    g = judged["gates"][gate]
    assert errors["gates"][gate]["runs"] == 1
    assert errors["gates"][gate]["mean_signed_error"] == round(
        g["estimated_auc_at_publication"] - g["roc_auc"], 5
    )
    assert errors["gates"][gate]["mae"] == abs(errors["gates"][gate]["mean_signed_error"])
    assert errors["gate_runs"] == len(errors["gates"])
    active_errors = stage.estimate_errors(runs, params.ladder, "gates_active")
    g = judged["gates_active"][gate]
    assert active_errors["gates"][gate]["mean_signed_error"] == round(
        g["estimated_auc_at_publication"] - g["roc_auc"], 5
    )
    pending = history[run["run_id"]]
    assert pending["estimates_active"][gate]["estimated_auc"] is not None
    none_yet = stage.estimate_errors([pending], params.ladder)
    assert none_yet["mae"] is None and "unknown" in none_yet["reason"]

    # the report's last section reads it: estimated against realised, and the route outcomes
    monitored = json.loads((done / "artifacts" / "metrics" / "monitor.json").read_text())
    section = _monitor_section(
        SimpleNamespace(
            monitor={**monitored, "published_runs": runs, "estimate_vs_realised": errors},
            ladder=params.ladder,
        )
    )
    html = "".join(section.blocks)
    assert f"mean absolute error {errors['mae']:.3f}" in html
    assert "Estimated and realised AUC per published run" in html
    assert "Route outcomes of the published runs" in html
    assert section.summary["realised_runs"] == 1 and section.summary["published_runs"] == 2

    # a published file edited afterwards is not trusted
    tampered = exports / past["run_id"] / "leads.parquet"
    leads.head(10).to_parquet(tampered, index=False)
    again = {r["run_id"]: r for r in stage.published_history(project, settings, flat=False)}
    assert again[past["run_id"]]["state"] == "unreadable"


def test_a_rescored_run_says_how_each_lead_moved_since_the_published_one(scored, tmp_path):
    import json

    from pipelines.publish.export import export_run
    from pipelines.score import stage as score

    folder = tmp_path / "trend"
    shutil.copytree(scored["folder"], folder, ignore=shutil.ignore_patterns("mlflow.db", "mlruns"))
    project = write_params(folder, scored["sim"])
    scores = folder / "data" / "scores"
    published = json.loads((scores / "run.json").read_text())
    before = pd.read_parquet(scores / "leads.parquet")
    # the run as published, but one lead's probabilities were lower then, one lead not scored
    then = before.copy()
    gates = [c for c in then if c.startswith("p_") and c != "p_next_gate"]
    then.loc[0, gates] = then.loc[0, gates] * 0.5
    then = then.drop(index=1)
    run = {**published, "run_id": published["run_id"][:-16] + "000000000000" + "0000"}
    export_run(
        project.resolve(project.params.publish.exports),
        run,
        then,
        pd.read_parquet(scores / "accounts.parquet"),
    )

    s = score.run(project)
    assert s["run"]["trend_since_run"] == run["run_id"]
    leads = pd.read_parquet(scores / "leads.parquet").set_index("lead_id")
    first, second = before["lead_id"].iloc[0], before["lead_id"].iloc[1]
    assert leads.loc[second, "trend"] == "new"
    expected = (
        "up"
        if before.loc[0, "p_next_gate"] * 0.5 <= before.loc[0, "p_next_gate"] - 0.01
        else "steady"
    )
    assert leads.loc[first, "trend"] == expected
    others = leads.drop(index=[first, second])
    assert (others["trend"] == "steady").all() and (others["change_p_mql"].abs() < 1e-9).all()
    assert s["trends"]["steady"] == len(others) + (expected == "steady")


def _latest_trained_is_a_newer_version(scored, folder):
    """A project beside the scored one where a newer model (version 2) was trained since and
    failed promotion: artifacts/models/run.json names it, data/scores still carries version 1's
    scores. It has no model folder, and its evaluate.json is bogus, so only the registry (the
    session's MLflow store) can answer."""
    import json

    folder.mkdir()
    project = write_params(folder, scored["sim"])
    done = scored["folder"]
    for part in ("data/scores/run.json", "artifacts/models/run.json"):
        (folder / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(done / part, folder / part)
    assert str(json.loads((folder / "data/scores/run.json").read_text())["model_version"]) == "1"
    models_run = folder / "artifacts" / "models" / "run.json"
    models_run.write_text(json.dumps({**json.loads(models_run.read_text()), "model_version": "2"}))
    bogus = json.loads((done / "artifacts" / "metrics" / "evaluate.json").read_text())
    for by_model in bogus["gates"].values():
        by_model["model"]["roc_auc"] = 0.5
    (folder / "artifacts" / "metrics").mkdir(parents=True, exist_ok=True)
    (folder / "artifacts" / "metrics" / "evaluate.json").write_text(json.dumps(bogus))
    return project


def test_the_monitor_watches_the_version_that_scored_the_leads_not_a_newer_failed_one(
    scored, tmp_path
):
    from mlflow import MlflowClient

    from pipelines.monitor import stage

    # the session's own run: the latest trained model scored the leads
    assert scored["monitor"]["model"]["version"] == "1"
    assert "latest trained" in scored["monitor"]["model"]["which"]

    project = _latest_trained_is_a_newer_version(scored, tmp_path / "challenged")
    columns = pd.read_parquet(scored["folder"] / "data" / "features" / "scoring.parquet").columns
    watched = stage.monitored_model(project, columns)
    assert watched["version"] == "1"
    assert "version 2" in watched["which"]
    client = MlflowClient()
    run_id = client.get_model_version(project.params.train.mlflow.registered_model, "1").run_id
    logged = client.get_run(run_id).data.metrics
    for gate, auc in watched["test_auc"].items():
        assert auc == logged[f"test.{gate}.model.roc_auc"] != 0.5
        # the same figures as the session's monitor read from evaluate.json for version 1
        assert auc == scored["monitor"]["gates"][gate]["test_auc"]
    # the age of version 1's knowledge: the end of its validation cohort (as its training run
    # logged it: chosen from the session project's data, which this folder lacks)
    valid_end = scored["project"].params.train.valid_end
    assert valid_end is not None and project.params.train.valid_end is None
    assert watched["learnt_until"] == pd.Timestamp(valid_end)
    cutoffs = pd.DataFrame({"cutoff": pd.to_datetime(["2025-01-05", "2025-09-01"])})
    age = stage.measure_model_age(
        cutoffs,
        pd.Series(["train", "test"]),
        pd.Timestamp("2026-01-01"),
        limit=365,
        flat=False,
        learnt_until=watched["learnt_until"],
    )
    assert age["learnt_until"] == str(valid_end)
    assert age["days"] == (pd.Timestamp("2026-01-01") - watched["learnt_until"]).days
    # the version's own predictions: the same model the session scored with
    X = pd.read_parquet(scored["folder"] / "data" / "features" / "scoring.parquet").head(50)
    from models.bundle import ReadinessModel

    same = ReadinessModel.load(scored["folder"] / "artifacts" / "models" / "readiness")
    pd.testing.assert_frame_equal(watched["model"].predict(X), same.predict(X))


def test_a_scoring_snapshot_without_a_feature_the_scoring_model_needs_is_named(scored, tmp_path):
    import pytest

    from pipelines.monitor import stage
    from readiness.errors import ReadinessError

    project = _latest_trained_is_a_newer_version(scored, tmp_path / "narrowed")
    columns = pd.read_parquet(scored["folder"] / "data" / "features" / "scoring.parquet").columns
    needed = stage.monitored_model(project, columns)["model"].features
    with pytest.raises(ReadinessError, match=f"version 1.*{needed[0]}"):
        stage.monitored_model(project, columns.drop(needed[0]))
