"""Credentials in tracking and database URLs are never printed or logged, whatever fails; the
registry listing shows its aliases."""

from __future__ import annotations

import logging

import pytest

from readiness.errors import scrub_secrets

SECRET = "s3cr3t-pw"
TRACKING = f"http://alice:{SECRET}@127.0.0.1:9"


@pytest.mark.parametrize(
    "text, expected",
    [
        (f"postgresql://bob:{SECRET}@db:5432/x", "postgresql://bob:***@db:5432/x"),
        (
            f"API request to {TRACKING}/api/2.0 failed",
            "API request to http://alice:***@127.0.0.1:9/api/2.0 failed",
        ),
        (
            f"postgresql+psycopg://u:{SECRET}@h/db and https://v:{SECRET}@k",
            "postgresql+psycopg://u:***@h/db and https://v:***@k",
        ),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
        ("http://127.0.0.1:5000/path", "http://127.0.0.1:5000/path"),
    ],
)
def test_passwords_in_urls_are_scrubbed(text, expected):
    assert scrub_secrets(text) == expected


@pytest.mark.parametrize("command", [("promote", "--list"), ("score",)])
def test_an_unreachable_tracking_server_never_prints_its_password(publish_project, cli, command):
    """Issue 12 item 6: `promote --list` and `score` printed http://user:pw@host in errors."""
    project = publish_project()
    out = cli(*command, "--params", str(project["params"]), env={"MLFLOW_TRACKING_URI": TRACKING})
    assert out.returncode == 2, out.stderr
    assert SECRET not in out.stderr + out.stdout
    assert "http://alice:***@127.0.0.1:9" in out.stderr and "Traceback" not in out.stderr


def test_log_lines_of_the_command_are_scrubbed():
    from pipelines.cli import _ScrubSecrets

    record = logging.LogRecord("x", logging.INFO, "f", 1, "connecting to %s", (TRACKING,), None)
    assert _ScrubSecrets().filter(record)
    assert SECRET not in record.getMessage() and "alice:***@" in record.getMessage()


def test_promote_list_shows_the_aliases(tmp_path, monkeypatch, cli):
    """Issue 12 item 13: `promote --list` showed no aliases although the registry had champion."""
    from mlflow import MlflowClient

    from models import registry

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    registry.configure(tmp_path, "readiness")
    client = MlflowClient()
    client.create_registered_model("readiness")
    for _ in range(3):
        client.create_model_version("readiness", source=(tmp_path / "model").as_uri())
    client.set_registered_model_alias("readiness", "champion", "1")
    client.set_registered_model_alias("readiness", "challenger", "3")
    table = registry.versions("readiness").set_index("version")["aliases"]
    assert table.to_dict() == {1: "champion", 2: "", 3: "challenger"}
    (tmp_path / "params.yaml").write_text("publish: {chunk_rows: 100}\n")
    out = cli(
        "promote",
        "--list",
        "--params",
        str(tmp_path / "params.yaml"),
        env={"MLFLOW_TRACKING_URI": uri},
    )
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines()[1:]}
    assert "champion" in lines["1"] and "challenger" in lines["3"]
