"""The session's trained project (tests/conftest.py) scored and reported once, for the scoring,
publishing, report and notebook tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def scored(trained_project):
    from pipelines.monitor import stage as monitor
    from pipelines.report import stage as report
    from pipelines.score import stage as score

    project = trained_project["project"]
    summary = score.run(project)
    monitored = monitor.run(project)  # as in dvc.yaml: the report reads it
    rep = report.run(project)
    return {
        "folder": trained_project["folder"],
        "project": project,
        "summary": summary,
        "monitor": monitored,
        "report": rep,
        "sim": trained_project["sim"],
        "mp": trained_project["mp"],
    }
