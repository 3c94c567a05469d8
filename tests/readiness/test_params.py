"""params.yaml: validated, typed, paths relative to the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from readiness.errors import ReadinessError
from readiness.params import load_params


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
