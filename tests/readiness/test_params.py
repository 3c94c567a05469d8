"""params.yaml: validated, typed, paths relative to the file."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from readiness.errors import ReadinessError
from readiness.params import COHORT_DATES, choose_cohorts, cohort_dates, load_params


def test_the_projects_params_file_loads():
    project = load_params(Path(__file__).resolve().parents[2] / "params.yaml")
    assert project.params.ladder[0] == "mql" and project.params.ladder[-1] == "closed_won"
    assert project.params.simulate.n_leads > 0


def test_paths_resolve_against_the_params_folder_not_the_cwd(tmp_path, monkeypatch):
    (tmp_path / "params.yaml").write_text("paths:\n  raw: somewhere/raw\n")
    monkeypatch.chdir("/")
    project = load_params(tmp_path / "params.yaml")
    assert project.resolve(project.params.paths.raw) == tmp_path / "somewhere" / "raw"


@pytest.mark.parametrize(
    "text, fragment",
    [
        (
            "simulate:\n  n_leads: 5\n",
            "simulate.n_leads: Input should be greater than or equal to 10",
        ),
        ("simulate:\n  start: 2025-01-01\n  end: 2024-01-01\n", "end must be after start"),
        ("simulate:\n  typo_key: 1\n", "simulate.typo_key"),
        ("ladder: [mql, mql]\n", "each milestone once"),
        ("[1, 2]\n", "mapping of sections"),
        (
            "evaluate:\n  ground_truth_rollouts: 1\n",
            "evaluate.ground_truth_rollouts: Input should be greater than or equal to 2",
        ),
    ],
)
def test_invalid_params_name_the_problem(tmp_path, text, fragment):
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(ReadinessError, match=fragment) as err:
        load_params(tmp_path / "params.yaml")
    # no empty key or pydantic's "Value error, " before a whole-file check's message
    assert ": :" not in str(err.value) and "Value error" not in str(err.value)


def test_section_hash_changes_with_the_section_only(tmp_path):
    (tmp_path / "params.yaml").write_text("simulate:\n  seed: 1\ningest:\n  batch_rows: 10\n")
    a = load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("simulate:\n  seed: 2\ningest:\n  batch_rows: 10\n")
    b = load_params(tmp_path / "params.yaml")
    assert a.section_hash("ingest") == b.section_hash("ingest")
    assert a.section_hash("simulate") != b.section_hash("simulate")


def test_the_sales_gate_follows_a_shorter_ladder(tmp_path):
    """A ladder without qualified_conversation needs no routing edit; a sales gate off the ladder
    names the key, the ladder and the fix."""
    path = tmp_path / "params.yaml"
    path.write_text("ladder: [mql, closed_won]\n")
    assert load_params(path).params.score.routing.sales_gate == "closed_won"
    path.write_text("ladder: [mql]\n")
    assert load_params(path).params.score.routing.sales_gate == "mql"
    assert load_params(None).params.score.routing.sales_gate == "qualified_conversation"
    path.write_text("ladder: [mql, closed_won]\nscore:\n  routing:\n    sales_gate: opportunity\n")
    with pytest.raises(
        ReadinessError,
        match=r"sales_gate 'opportunity' is not on the ladder \['mql', 'closed_won'\]: set it",
    ):
        load_params(path)


def test_the_general_route_is_configurable_but_never_a_belief_route(tmp_path):
    from readiness.scores import routes

    path = tmp_path / "params.yaml"
    path.write_text("score:\n  routing:\n    general_route: nurture_newsletter\n")
    assert load_params(path).params.score.routing.general_route == "nurture_newsletter"
    assert "nurture_newsletter" in routes("nurture_newsletter")
    assert "nurture_general" not in routes("nurture_newsletter")
    path.write_text("score:\n  routing:\n    general_route: nurture_urgency\n")
    with pytest.raises(ReadinessError, match="general_route 'nurture_urgency' is a belief route"):
        load_params(path)
    path.write_text("score:\n  routing:\n    general_route: Newsletter\n")
    with pytest.raises(ReadinessError, match="general_route"):
        load_params(path)


def _calendar(first: str, last: str, cadence: int, end: str) -> dict:
    return {"first_cutoff": first, "last_cutoff": last, "cadence_days": cadence, "end_of_data": end}


def test_cohorts_chosen_from_the_default_simulations_calendar_are_params_yaml_s():
    """The rule reproduces the split written out by hand in the project's params.yaml."""
    project = load_params(Path(__file__).resolve().parents[2] / "params.yaml")
    t = project.params.train
    features = project.params.features
    # the default simulation's training cutoffs, its last record on 2025-12-31
    cal = _calendar(str(features.first_cutoff), "2025-12-29", features.cadence_days, "2026-01-01")
    chosen = choose_cohorts(cal, project.params.labels.horizon_days)
    assert chosen == {k: getattr(t, k) for k in COHORT_DATES}


@pytest.mark.parametrize(
    "cal, horizon, follow",
    [
        (_calendar("2017-07-03", "2018-11-12", 7, "2018-11-15"), 60, 0),
        (_calendar("2024-01-01", "2024-12-30", 7, "2025-01-02"), 90, 0),
        (_calendar("2021-01-04", "2025-06-02", 14, "2025-06-10"), 90, 180),
        (_calendar("2024-03-01", "2024-09-27", 1, "2024-09-28"), 30, 0),
    ],
)
def test_chosen_cohorts_keep_a_horizon_apart_and_the_test_labels_complete(cal, horizon, follow):
    c = choose_cohorts(cal, horizon, follow)
    first, end = date.fromisoformat(cal["first_cutoff"]), date.fromisoformat(cal["end_of_data"])
    assert c["train_start"] == first
    assert (c["valid_start"] - c["train_end"]).days >= horizon
    assert (c["test_start"] - c["valid_end"]).days >= horizon
    assert c["train_start"] <= c["train_end"] < c["valid_start"] <= c["valid_end"]
    assert c["valid_end"] < c["test_start"] <= c["test_end"]
    # the newest cutoff whose window (and follow-through) lies in the data is the test's last
    assert (end - c["test_end"]).days >= horizon + follow
    assert (end - c["test_end"]).days < horizon + follow + cal["cadence_days"]
    # two validation cutoffs at least: early stopping and calibration each get one
    assert (c["valid_end"] - c["valid_start"]).days >= cal["cadence_days"]
    # every date is a cutoff of the calendar
    for d in c.values():
        assert (d - first).days % cal["cadence_days"] == 0
    # the training cohort is at least twice as long as the other two together
    widths = [
        (c[b] - c[a]).days for a, b in (("valid_start", "valid_end"), ("test_start", "test_end"))
    ]
    assert (c["train_end"] - c["train_start"]).days >= 2 * sum(widths)


def test_an_export_too_short_for_a_time_split_says_what_to_change():
    with pytest.raises(ReadinessError, match="too short for a time split with a 90-day horizon"):
        choose_cohorts(_calendar("2024-01-01", "2024-07-29", 7, "2024-08-05"), 90)
    # the same months with a 30-day horizon split
    assert choose_cohorts(_calendar("2024-01-01", "2024-07-29", 7, "2024-08-05"), 30)


def test_null_cohort_dates_are_chosen_once_the_features_wrote_their_calendar(tmp_path):
    (tmp_path / "params.yaml").write_text("labels:\n  horizon_days: 60\n")
    project = load_params(tmp_path / "params.yaml")
    assert project.params.train.train_start is None and project.cohorts_chosen
    with pytest.raises(ReadinessError, match="run `readiness features` first"):
        cohort_dates(project.params.train)
    catalog = tmp_path / "data" / "features" / "catalog.json"
    catalog.parent.mkdir(parents=True)
    cal = _calendar("2017-07-03", "2018-11-12", 7, "2018-11-15")
    catalog.write_text(json.dumps({"calendar": cal, "flat": None}))
    t = load_params(tmp_path / "params.yaml").params.train
    assert {k: getattr(t, k) for k in COHORT_DATES} == choose_cohorts(cal, 60)
    # the stages up to features load without choosing: an older calendar cannot stop them
    assert load_params(tmp_path / "params.yaml", cohorts=False).params.train.test_end is None
    # a flat export has no time split
    catalog.write_text(json.dumps({"calendar": None, "flat": {"as_of": "2018-11-15"}}))
    assert load_params(tmp_path / "params.yaml").params.train.train_start is None


def test_cohort_dates_are_all_set_or_all_null(tmp_path):
    (tmp_path / "params.yaml").write_text('train:\n  train_start: "2024-01-01"\n')
    with pytest.raises(
        ReadinessError,
        match=r"set all six cohort dates .* train_end, valid_start.* not set \(null\)",
    ):
        load_params(tmp_path / "params.yaml")
