"""The small simulation taken through every stage once per session (features, labels, train,
evaluate, score, report), for the scoring, publishing, report and notebook tests."""

from __future__ import annotations

import pytest
from small_project import write_params


@pytest.fixture(scope="session")
def scored(small_validated, tmp_path_factory):
    from pipelines.evaluate import stage as evaluate
    from pipelines.features import stage as features
    from pipelines.labels import stage as labels
    from pipelines.report import stage as report
    from pipelines.score import stage as score
    from pipelines.train import stage as train

    folder = tmp_path_factory.mktemp("scoring_project")
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
    mp.delenv("READINESS_DATABASE_URL", raising=False)
    project = write_params(folder, small_validated)
    features.run(project)
    labels.run(project)
    train.run(project)
    evaluate.run(project)  # promotes the first version to champion
    summary = score.run(project)
    rep = report.run(project)
    yield {
        "folder": folder,
        "project": project,
        "summary": summary,
        "report": rep,
        "sim": small_validated,
        "mp": mp,
    }
    mp.undo()
