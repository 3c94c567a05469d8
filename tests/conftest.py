"""Shared fixtures: one small simulation per test session, reused by every test that needs data;
and the type checker started beside the tests when the session includes it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from type_check import MYPY, start_mypy

from readiness.params import IngestParams, SimulateParams
from readiness.raw.ingest import ingest_folder
from readiness.simulator.run import simulate

SMALL = SimulateParams(n_leads=3000, workers=1, chunk_leads=3000, seed=11)


def pytest_collection_finish(session: pytest.Session) -> None:
    """A cold mypy run takes 40-60 s on its own: started once the tests are collected, it checks
    on the second core while they run, and tests/test_style.py::test_mypy reads its verdict."""
    if any(item.name == "test_mypy" for item in session.items):
        session.config.stash[MYPY] = start_mypy()


@pytest.fixture(scope="session")
def small_sim(tmp_path_factory) -> dict:
    """A 3,000-lead simulation: raw tables, ground truth and the run's result."""
    root = tmp_path_factory.mktemp("sim")
    result = simulate(SMALL, root / "raw", root / "ground_truth")
    return {
        "params": SMALL,
        "raw": root / "raw",
        "truth": root / "ground_truth",
        "result": result,
        "root": root,
    }


@pytest.fixture(scope="session")
def small_validated(small_sim) -> dict:
    """The small simulation after ingest."""
    root = small_sim["root"]
    report = ingest_folder(
        small_sim["raw"], root / "validated", root / "quarantine", IngestParams()
    )
    return {
        **small_sim,
        "validated": root / "validated",
        "quarantine": root / "quarantine",
        "report": report,
    }


@pytest.fixture(scope="session")
def make_params():
    """SimulateParams like the small simulation's, with some fields changed."""

    def make(**changes) -> SimulateParams:
        return replace(SMALL, **changes)

    return make


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """An empty project folder with a params.yaml whose paths point inside it."""
    (tmp_path / "params.yaml").write_text(
        "simulate:\n  n_leads: 800\n  workers: 1\n  chunk_leads: 800\n  seed: 5\n"
    )
    return tmp_path


@pytest.fixture(scope="session")
def trained_project(small_validated, tmp_path_factory):
    """The small simulation taken through features, labels, truth, train and evaluate once per session,
    with its own MLflow store (the first version is promoted to champion). Shared by the model,
    scoring, publishing, report and notebook tests."""
    from small_project import write_params

    from pipelines.evaluate import stage as evaluate
    from pipelines.features import stage as features
    from pipelines.labels import stage as labels
    from pipelines.train import stage as train
    from pipelines.truth import stage as truth

    folder = tmp_path_factory.mktemp("project")
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
    mp.delenv("READINESS_DATABASE_URL", raising=False)
    project = write_params(folder, small_validated)
    features.run(project)
    lab = labels.run(project)
    truth.run(project)
    tr = train.run(project)
    ev = evaluate.run(project)
    yield {
        "folder": folder,
        "project": project,
        "labels": lab,
        "train": tr,
        "evaluate": ev,
        "sim": small_validated,
        "mp": mp,
    }
    mp.undo()
