"""A real `readiness publish` SIGKILLed at random moments (seeded, a bounded number of kills) on
SQLite and on the machine's PostgreSQL, while a reader polls the current views: the reader never
sees a partial or mixed run, the database never keeps rows of an unrecorded run, and every export
folder is complete (it verifies against its run) or absent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from postgres import POSTGRES_URL, drop_schema, postgres_or_skip

from pipelines.publish.export import verify_export
from pipelines.publish.store import Names, make_engine

KILLS = 4  # per database
LEADS = 20_000
SEED = 12


def _start(project: dict, env: dict) -> tuple[subprocess.Popen, threading.Event]:
    """Start a publish; the event is set at its first progress line (the transaction is open)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "publish", "--params", str(project["params"])],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    started = threading.Event()

    def watch() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "publish: " in line:
                started.set()
        started.set()  # exited before any progress: nothing to wait for

    threading.Thread(target=watch, daemon=True).start()
    return proc, started


class Reader:
    """Polls the current leads view and the run records until stopped; collects violations."""

    def __init__(self, url: str, schema: str | None):
        self.engine = make_engine(url, write=False)
        self.names = Names("readiness_", schema)
        self.polls = 0
        self.problems: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        q = lambda n: self.names.qualified(self.engine, n)  # noqa: E731
        while not self._stop.is_set():
            try:
                with self.engine.connect() as conn:
                    seen = conn.exec_driver_sql(
                        f"SELECT v.run_id, COUNT(*), MAX(r.lead_rows) FROM {q('current_leads')} v "
                        f"JOIN {q('runs')} r ON r.run_id = v.run_id GROUP BY v.run_id"
                    ).all()
                    conn.rollback()
            except Exception as exc:  # tables not created yet, or a locked SQLite file
                if "no such table" not in str(exc) and "does not exist" not in str(exc):
                    self.problems.append(f"reader failed: {exc}")
                time.sleep(0.02)
                continue
            self.polls += 1
            if len(seen) > 1:
                self.problems.append(f"mixed runs visible: {seen}")
            for run_id, rows, declared in seen:
                if rows != declared:
                    self.problems.append(f"partial run {run_id}: {rows} of {declared} rows")
            time.sleep(0.005)

    def __enter__(self) -> Reader:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.engine.dispose()


def _check_database(url: str, schema: str | None) -> str | None:
    """Every stored row belongs to a recorded run with as many rows; returns the current run."""
    engine = make_engine(url, write=False)
    names = Names("readiness_", schema)
    q = lambda n: names.qualified(engine, n)  # noqa: E731
    try:
        with engine.connect() as conn:
            runs = dict(conn.exec_driver_sql(f"SELECT run_id, lead_rows FROM {q('runs')}").all())
            stored = dict(
                conn.exec_driver_sql(
                    f"SELECT run_id, COUNT(*) FROM {q('leads')} GROUP BY run_id"
                ).all()
            )
            current = conn.exec_driver_sql(f"SELECT run_id FROM {q('current')}").scalar()
    finally:
        engine.dispose()
    assert stored == runs, f"rows per run {stored} do not match the run records {runs}"
    return current


def _check_exports(folder: Path) -> list[str]:
    """Every run folder verifies; returns the complete runs."""
    if not folder.exists():
        return []
    complete = []
    for path in folder.iterdir():
        if path.name.startswith(".") or path.is_file():
            continue  # temporary folders of a killed export are never a run's name
        verify_export(path)
        complete.append(path.name)
    latest = folder / "latest.json"
    if latest.exists():
        assert json.loads(latest.read_text())["run_id"] in complete
    return complete


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_publish_killed_at_random_moments_never_leaves_a_partial_run(
    kind, tmp_path, publish_project
):
    env = {**os.environ}
    env.pop("READINESS_DATABASE_URL", None)
    schema = None
    extra: dict = {"chunk_rows": 1_000}
    if kind == "postgresql":
        postgres_or_skip()
        schema = f"readiness_kill_{uuid.uuid4().hex[:10]}"
        env["READINESS_DATABASE_URL"] = POSTGRES_URL
        extra["schema"] = schema
        url = POSTGRES_URL
    else:
        url = f"sqlite:///{tmp_path / 'project' / 'data' / 'warehouse' / 'readiness.db'}"
    rng = np.random.default_rng(SEED)
    try:
        # a complete publish first: the run readers see until a new one commits, and the time
        # from the first progress line to the end (the window the kills fall in)
        project = publish_project(n=LEADS, seed=1, **extra)
        proc, started = _start(project, env)
        started.wait(120)
        t0 = time.perf_counter()
        assert proc.wait(120) == 0
        window = time.perf_counter() - t0
        assert _check_database(url, schema) == project["run"]["run_id"]

        outcomes = []
        with Reader(url, schema) as reader:
            for i in range(KILLS):
                project = publish_project(n=LEADS, seed=100 + i, **extra)
                proc, started = _start(project, env)
                started.wait(120)
                time.sleep(float(rng.uniform(0, window * 1.1)))
                proc.send_signal(signal.SIGKILL)
                code = proc.wait(60)
                current = _check_database(url, schema)
                complete = _check_exports(project["exports"])
                outcomes.append((code, current == project["run"]["run_id"], len(complete)))
        assert not reader.problems, reader.problems[:5]
        assert reader.polls > 0
        assert len(outcomes) == KILLS and any(code == -signal.SIGKILL for code, *_ in outcomes)

        # the last run published to the end: current, exported whole, nothing left behind
        proc, started = _start(project, env)
        assert proc.wait(120) == 0
        assert _check_database(url, schema) == project["run"]["run_id"]
        assert project["run"]["run_id"] in _check_exports(project["exports"])
        assert not [p for p in project["exports"].iterdir() if p.name.startswith(".")]
        leads = pd.read_csv(project["exports"] / project["run"]["run_id"] / "leads.csv")
        assert len(leads) == LEADS
    finally:
        if schema:
            drop_schema(schema)
