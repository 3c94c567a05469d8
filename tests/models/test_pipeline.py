"""labels -> train -> evaluate on the small simulation, with a throwaway MLflow store:
registration, the promotion gate, rollback and the standard MLflow loader."""

from __future__ import annotations

import json
import shutil

import mlflow
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from small_project import write_params

from models import registry


@pytest.fixture(scope="module")
def trained(trained_project):
    return trained_project


def test_labels_carry_their_settings(trained):
    meta = pq.read_schema(trained["folder"] / "data" / "labels" / "labels.parquet").metadata
    settings = json.loads(meta[b"readiness.label_settings"])
    assert settings["horizon_days"] == 90 and settings["ladder"][-1] == "closed_won"
    assert trained["labels"]["gates"]["mql"]["train"]["positives"] > 100


def test_the_cohorts_are_chosen_from_the_data_when_params_leave_them_null(trained):
    """The small project leaves train.* dates null: labels, train and evaluate used the split
    chosen from the features' calendar, which on these simulated years is params.yaml's."""
    from pathlib import Path

    from readiness.params import COHORT_DATES, load_params

    chosen = trained["labels"]["cohorts"]
    assert chosen.pop("chosen_from_data") is True
    written = load_params(Path(__file__).resolve().parents[2] / "params.yaml").params.train
    assert chosen == {k: str(getattr(written, k)) for k in COHORT_DATES}
    assert trained["labels"]["gates"]["mql"]["test"]["labelled"] > 0


def test_the_boosters_ask_a_category_split_for_leads_not_snapshots(trained):
    """Train passes its snapshots per lead to LightGBM (models/train._lightgbm_params): a split
    of a category needs 100 leads' worth of rows, not 100 rows of a few leads."""
    import re

    from models.cohorts import TRAIN, training_cohorts
    from models.dataset import load_training_frame

    features, labels, _, meta = load_training_frame(trained["project"])
    params = trained["project"].params
    cohort = training_cohorts(features, labels, meta, params.train, params.ladder)
    rows = features.loc[(cohort == TRAIN).to_numpy(), "lead_id"]
    per_lead = len(rows) / rows.nunique()
    assert per_lead > 2  # a lead's repeated snapshots
    bundle = trained["folder"] / "artifacts" / "models" / "readiness"
    asked = {
        int(v)
        for f in bundle.glob("gate_*.txt")
        for v in re.findall(r"\[min_data_per_group: (\d+)\]", f.read_text())
    }
    assert asked == {round(100 * per_lead)}


def test_training_is_registered_as_challenger_and_the_first_is_promoted(trained):
    assert trained["train"]["model_version"] == "1"
    assert trained["train"]["gates"]["mql"]["trained"]
    promo = trained["evaluate"]["promotion"]
    assert promo["promote"] and promo["champion_after"] == "1"
    name = trained["project"].params.train.mlflow.registered_model
    assert registry.alias_version(name, "challenger") == "1"
    assert registry.alias_version(name, "champion") == "1"


def test_the_truth_is_rolled_out_once_and_read_back_only_for_its_own_test_rows(trained):
    """The truth stage's sample reads back as written; compared with other test rows than it
    was rolled out from, it is refused with what to run."""
    from models.dataset import load_training_frame
    from models.ground_truth import TruthSample, compare_with_truth
    from readiness.errors import ReadinessError

    project = trained["project"]
    folder = project.resolve(project.params.paths.truth)
    sample = TruthSample.load_if_any(folder)
    assert sample is not None and sample.rollouts == project.params.evaluate.ground_truth_rollouts
    assert len(sample.truth) == len(sample.union) == len(sample.copies["mql"])
    assert sample.copies["mql"].shape[1] == sample.rollouts
    for gate, rows in sample.rows.items():
        assert np.isin(rows, sample.union).all(), gate
    features, labels, _, _ = load_training_frame(project)
    with pytest.raises(ReadinessError, match="readiness truth"):
        # the training frame's first rows are not the test rows the sample was drawn from
        compare_with_truth(sample, features, labels, {}, ladder=project.params.ladder, seed=0)
    assert TruthSample.load_if_any(folder / "absent") is None
    metrics = json.loads((project.resolve(project.params.paths.metrics) / "truth.json").read_text())
    assert metrics["snapshots"] == len(sample.union) and metrics["skipped"] is None
    sample.check(dict(sample.settings), "data/truth")  # its own settings pass
    more = {"evaluate.ground_truth_rollouts": sample.rollouts + 1}
    with pytest.raises(
        ReadinessError, match=r"evaluate.ground_truth_rollouts: \d+ there, \d+ now.*readiness truth"
    ):
        sample.check(dict(sample.settings, **more), "data/truth")


def test_evaluation_reports_every_metric_for_the_model_and_both_baselines(trained):
    m = trained["evaluate"]["metrics"]["mql"]
    for model in ("model", "logistic"):
        for metric in ("roc_auc", "pr_auc", "top_decile_lift", "recall_at_20pct", "brier", "ece"):
            assert metric in m[model], (model, metric)
    # the small project configures no hand-written points: no points baseline is shown (it was
    # a constant score at AUC 0.5, which says nothing)
    assert not trained["project"].params.train.points and "points" not in m
    assert m["model"]["roc_auc"] > 0.70  # far from chance (0.5) even on the small simulation
    gt = m["ground_truth"]
    assert 0.5 < gt["truth_auc"] <= 1 and gt["rows"] > 100
    # the truth's own Monte Carlo error and the paired intervals of truth - model and the ratio
    assert 0 < gt["truth_auc_mc_se"] < 0.05
    assert gt["gap_low"] <= gt["gap"] <= gt["gap_high"]
    assert gt["ratio_low"] <= gt["model_to_truth_auc_ratio"] <= gt["ratio_high"]
    assert gt["model_above_truth"] is False
    assert trained["evaluate"]["targets"]["mql"]["not_above_truth"] is True
    segments = pd.read_csv(
        trained["folder"] / "artifacts" / "evaluation" / "by_cohort_and_segment.csv"
    )
    assert set(segments["by"]) == {"cohort", "industry", "employee_band", "source_channel"}
    for plot in ("roc", "calibration", "lift"):
        assert len(pd.read_csv(trained["folder"] / "artifacts" / "plots" / f"{plot}.csv")) > 10
    metrics = json.loads(
        (trained["folder"] / "artifacts" / "metrics" / "evaluate.json").read_text()
    )
    assert "targets" in metrics and "mql" in metrics["gates"]


def test_the_standard_mlflow_loader_scores_a_feature_frame_coherently(trained):
    frame = pd.read_parquet(trained["folder"] / "data" / "features" / "scoring.parquet")
    model = mlflow.pyfunc.load_model("models:/readiness@champion")
    probs = model.predict(frame)
    cols = [f"p_{g}" for g in trained["project"].params.ladder]
    assert list(probs.columns) == cols and len(probs) == len(frame)
    values = probs.to_numpy()
    assert ((values >= 0) & (values <= 1)).all()
    assert (np.diff(values, axis=1) <= 1e-12).all()  # a later gate is never more likely


def test_a_worse_challenger_is_not_promoted_and_rollback_is_one_call(trained, tmp_path):
    from pipelines.evaluate import stage as evaluate
    from pipelines.train import stage as train

    # a copy of the session's project (same MLflow registry), so its outputs stay the champion's
    folder = tmp_path / "project"
    shutil.copytree(
        trained["folder"], folder, ignore=shutil.ignore_patterns("mlflow.db", "mlartifacts")
    )
    project = write_params(
        folder,
        trained["sim"],
        # the promotion gate compares with the champion on the test cohort: no roll-outs needed
        extra={"evaluate": {"ground_truth": False}},
        lightgbm={
            "n_estimators": 2,
            "learning_rate": 0.001,
            "early_stopping_rounds": 1,
            "num_leaves": 2,
        },
    )
    tr = train.run(project)
    ev = evaluate.run(project)
    assert tr["model_version"] == "2"
    promo = ev["promotion"]
    assert not promo["promote"] and promo["champion_after"] == "1"
    assert any("below the champion" in r for r in promo["reasons"])
    name = project.params.train.mlflow.registered_model
    assert registry.alias_version(name, "challenger") == "2"
    assert registry.set_champion(name, "2") == "1"  # roll forward by hand ...
    assert registry.set_champion(name, "1") == "2"  # ... and back: one call each
    table = registry.versions(name)
    assert table["version"].tolist() == [1, 2]


def test_the_crm_properties_reach_the_model_and_the_leaky_one_is_left_out(trained):
    """The simulator's CRM properties: revenue (follows the hidden fit), current tool (follows
    need) and a dated headcount are used; sales' grade, written after the outcome and declared as
    known at creation, is caught by the leakage guard."""
    from models.bundle import ReadinessModel

    left_out = trained["train"]["left_out_by_leakage_guard"]
    assert list(left_out) == ["attr_sales_rating"]
    assert "filled for" in left_out["attr_sales_rating"]
    model = ReadinessModel.load(trained["folder"] / "artifacts" / "models" / "readiness")
    used = {"attr_annual_revenue", "attr_current_tool", "attr_employees"}
    assert used <= set(model.features) and "attr_sales_rating" not in model.features
    # the signal-bearing properties are split on by the gate models
    gain = {}
    for gate in model.gates.values():
        if gate.booster is not None:
            for name, g in zip(
                gate.booster.feature_name(),
                gate.booster.feature_importance("gain"),
                strict=True,
            ):
                gain[name] = gain.get(name, 0.0) + float(g)
    assert gain["attr_annual_revenue"] > 0 and gain["attr_current_tool"] > 0
    screen = json.loads(
        (trained["folder"] / "artifacts" / "models" / "leakage_screen.json").read_text()
    )
    assert {r["feature"] for r in screen if r["excluded"]} == {"attr_sales_rating"}


def test_a_labels_run_that_fails_midway_leaves_the_previous_labels_whole(trained, tmp_path):
    """A labels stage that fails after computing the labels (here: the deal sizes) used to leave a
    new labels.parquet beside the old settings, and train ran on the mix; now the output folder
    is replaced only when every file is written."""
    import pipelines.labels.stage as labels_stage
    from readiness.errors import ReadinessError

    folder = tmp_path / "project"
    shutil.copytree(
        trained["folder"], folder, ignore=shutil.ignore_patterns("mlflow.db", "mlartifacts")
    )
    project = write_params(folder, trained["sim"], extra={"labels": {"horizon_days": 60}})
    out = folder / "data" / "labels"
    before = {p.name: p.read_bytes() for p in sorted(out.iterdir())}

    def broken(*args, **kwargs):
        raise ReadinessError("deal sizes failed")

    mp = pytest.MonkeyPatch()
    mp.setattr(labels_stage, "deal_sizes", broken)
    try:
        with pytest.raises(ReadinessError, match="deal sizes failed"):
            labels_stage.run(project)
    finally:
        mp.undo()
    assert {p.name: p.read_bytes() for p in sorted(out.iterdir())} == before
    assert sorted(p.name for p in (folder / "data").iterdir() if p.name.startswith(".")) == []
    # and a run that succeeds replaces the folder whole, with the new settings
    labels_stage.run(project)
    assert json.loads((out / "settings.json").read_text())["horizon_days"] == 60
