"""What the probes share: the `readiness` command run as a user runs it (exit code and the one
paragraph on stderr are the point), and a project folder holding a scored run ready to publish,
built from the small score tables of tests/helpers/score_frames.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml
from score_frames import make_scores

from readiness.scores import content_hash

RUN_DATE = "20260101"


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess]:
    """Run `readiness ARGS` in a subprocess; `env` adds or (with None) removes variables."""

    def run(*args: str, env: dict[str, str | None] | None = None, timeout: float = 120):
        full = {**os.environ, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
        full["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "3"
        full.pop("READINESS_DATABASE_URL", None)
        for k, v in (env or {}).items():
            if v is None:
                full.pop(k, None)
            else:
                full[k] = v
        return subprocess.run(
            [sys.executable, "-m", "pipelines.cli", *args],
            capture_output=True,
            text=True,
            env=full,
            timeout=timeout,
        )

    return run


def scored_run(n: int = 40, seed: int = 3) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """A contract-keeping run whose id carries its tables' content hashes, as `score` makes it."""
    run, leads, accounts = make_scores(n, seed=seed)
    run["run_id"] = f"{RUN_DATE}-v1-{content_hash(leads)}{content_hash(accounts)[:4]}"
    return run, leads, accounts


def write_publish_project(folder: Path, n: int = 40, seed: int = 3, **publish) -> dict:
    """params.yaml, data/scores/{leads,accounts}.parquet + run.json and the scoring snapshot's
    lead ids: everything `readiness publish` reads. Returns paths and the run."""
    run, leads, accounts = scored_run(n, seed)
    scores = folder / "data" / "scores"
    scores.mkdir(parents=True, exist_ok=True)
    leads.to_parquet(scores / "leads.parquet", index=False)
    accounts.to_parquet(scores / "accounts.parquet", index=False)
    # the run id names the tables as they read back from disk
    assert content_hash(pd.read_parquet(scores / "leads.parquet")) == content_hash(leads)
    (scores / "run.json").write_text(json.dumps(run))
    features = folder / "data" / "features"
    features.mkdir(parents=True, exist_ok=True)
    leads[["lead_id"]].to_parquet(features / "scoring.parquet", index=False)
    params = {"publish": {"sqlite_path": "data/warehouse/readiness.db", **publish}}
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    return {
        "params": folder / "params.yaml",
        "scores": scores,
        "exports": folder / "data" / "exports",
        "db": folder / "data" / "warehouse" / "readiness.db",
        "run": run,
        "leads": leads,
        "accounts": accounts,
    }


@pytest.fixture
def publish_project(tmp_path) -> Callable[..., dict]:
    """`publish_project(folder=None, n=40, seed=3, **publish_params)`: see write_publish_project."""

    def make(folder: Path | None = None, **kwargs) -> dict:
        return write_publish_project(folder or tmp_path / "project", **kwargs)

    return make
