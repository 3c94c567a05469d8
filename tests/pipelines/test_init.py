"""`readiness init`: a project folder for one's own export that `dvc repro` can run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from raw_export import CONTACTS, DEALS, mapping

from pipelines.init import init_project
from readiness.errors import ReadinessError
from readiness.params import load_params


@pytest.fixture
def export(tmp_path: Path) -> Path:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "contacts.csv").write_text(CONTACTS)
    (folder / "deals.csv").write_text(DEALS)
    (folder / "mapping.yaml").write_text(yaml.safe_dump(mapping()))
    return folder


def _names(params: dict, key: str) -> bool:
    node = params
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_init_writes_a_project_whose_dvc_yaml_runs_on_its_params(export, tmp_path, monkeypatch):
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    folder = tmp_path / "project"
    r = init_project(folder, export / "mapping.yaml")
    # the ladder: the gates the mapping's milestones name, in buying order
    assert r["ladder"] == ["mql", "sales_accepted", "closed_won"] and not r["flat"]
    project = load_params(folder / "params.yaml")
    assert project.params.ladder == ("mql", "sales_accepted", "closed_won")
    assert project.params.train.train_start is None and project.cohorts_chosen
    assert project.params.features.first_cutoff is None
    mapped = project.resolve(project.params.importer.mapping).resolve()
    assert mapped == (export / "mapping.yaml").resolve()

    stages = yaml.safe_load((folder / "dvc.yaml").read_text())["stages"]
    assert list(stages)[0] == "import" and {"simulate", "truth"}.isdisjoint(stages)
    assert "monitor" in stages
    written = yaml.safe_load((folder / "params.yaml").read_text())
    for name, stage in stages.items():
        assert stage["cmd"] == f"readiness {name} --params params.yaml"
        # every key dvc.yaml names is in params.yaml (dvc stops on a missing one)
        assert [p for p in stage.get("params", []) if not _names(written, p)] == [], name
        for dep in stage["deps"]:
            if not dep.startswith(("data/", "artifacts/")):  # code, the mapping, the export
                assert (folder / dep).exists(), (name, dep)
            assert dep not in ("data/ground_truth", "data/truth")  # no simulator here
    assert os.path.relpath(export, folder) in stages["import"]["deps"]
    # outside a DVC repository it makes one, analytics off; dvc reads the stages
    assert "analytics = false" in (folder / ".dvc" / "config").read_text()
    listed = subprocess.run(
        ["dvc", "stage", "list"], cwd=folder, capture_output=True, text=True, check=True
    )
    assert [line.split()[0] for line in listed.stdout.splitlines()] == list(stages)


def test_init_never_overwrites_a_project(export, tmp_path, monkeypatch):
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "params.yaml").write_text("ladder: [mql]\n")
    with pytest.raises(ReadinessError, match="already holds params.yaml: .* never overwrites"):
        init_project(folder, export / "mapping.yaml")
    assert (folder / "params.yaml").read_text() == "ladder: [mql]\n"
    assert not (folder / "dvc.yaml").exists()


def test_a_flat_export_gets_no_monitor(export, tmp_path, monkeypatch):
    """A flat export has no run history to watch; the report does not wait for one."""
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    (export / "mapping.yaml").write_text(yaml.safe_dump(mapping(flat={"as_of": "2024-06-01"})))
    r = init_project(tmp_path / "project", export / "mapping.yaml")
    stages = yaml.safe_load((tmp_path / "project" / "dvc.yaml").read_text())["stages"]
    assert r["flat"] and "monitor" not in stages
    assert not [d for d in stages["report"]["deps"] if d.endswith("monitor.json")]


def test_a_missing_export_folder_is_named(export, tmp_path):
    with pytest.raises(ReadinessError, match="export folder .*nowhere does not exist"):
        init_project(tmp_path / "project", export / "mapping.yaml", tmp_path / "nowhere")


def test_a_project_inside_its_export_folder_is_refused(export, tmp_path):
    """Its import would depend on the folder its own outputs are written into (a DVC cycle)."""
    with pytest.raises(ReadinessError, match="hold one another"):
        init_project(export / "project", export / "mapping.yaml")
    assert not (export / "project").exists()
