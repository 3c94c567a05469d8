"""Measurement helpers shared by the benchmark scripts: wall time and peak memory of a call.

Peak memory is the largest resident set of this process plus all its children (worker
processes included), sampled every 50 ms; timings are medians over repeats.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psutil

from readiness.params import ProjectParams

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = RESULTS.parents[1]
LOG_TAIL = 25  # lines of a failed command's log shown


class PeakMemory:
    """Samples the RSS of this process tree in a background thread."""

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree_rss(self) -> int:
        me = psutil.Process(os.getpid())
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._tree_rss())
            time.sleep(self.interval)

    def __enter__(self) -> PeakMemory:
        self.peak = self._tree_rss()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._tree_rss())


def measure(fn: Callable[[], object], repeat: int) -> dict:
    """Run `fn` `repeat` times; wall seconds of each run, their median and the peak memory."""
    walls, peaks, last = [], [], None
    for _ in range(repeat):
        with PeakMemory() as mem:
            t0 = time.perf_counter()
            last = fn()
            walls.append(time.perf_counter() - t0)
        peaks.append(mem.peak)
    return {
        "wall_seconds": [round(w, 2) for w in walls],
        "wall_seconds_median": round(statistics.median(walls), 2),
        "peak_memory_gib": round(max(peaks) / 2**30, 3),
        "result": last,
    }


BASELINE_WORKLOAD = (
    "LightGBM, 150 trees on 200,000 x 20 synthetic rows (seed 0, 2 threads), then a pandas "
    "group-by of 2,000,000 rows: the pipeline's two kinds of work, fixed"
)


def baseline_seconds() -> float:
    """Wall seconds of a fixed workload (BASELINE_WORKLOAD), run beside a benchmark's own runs
    so its figures can be read as ratios: timings on a shared machine vary two-fold between days,
    a ratio against the same machine at the same moment much less."""
    import lightgbm as lgb
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200_000, 20))
    y = (X[:, 0] + 0.5 * X[:, 1] * X[:, 2] + rng.normal(size=len(X)) > 1).astype(int)
    frame = pd.DataFrame({"k": rng.integers(0, 50_000, 2_000_000), "v": rng.normal(size=2_000_000)})
    t0 = time.perf_counter()
    lgb.LGBMClassifier(n_estimators=150, num_threads=2, random_state=0, verbose=-1).fit(X, y)
    frame.groupby("k")["v"].agg(["mean", "std", "count"])
    return round(time.perf_counter() - t0, 3)


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_results(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(
        json.dumps({"benchmark": name, "machine": machine(), **payload}, indent=2, default=str)
        + "\n"
    )
    return path


def run_logged(command: list[str], *, log: Path, cwd: Path) -> float:
    """Run `command` with its output in `log`; its wall seconds. A failure stops the benchmark
    with the end of the log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        shown = " ".join([Path(command[0]).name, *command[1:]])
        tail = "\n".join(log.read_text().splitlines()[-LOG_TAIL:])
        raise SystemExit(
            f"`{shown}` failed (exit {done.returncode}); the end of {log.relative_to(ROOT)}:\n{tail}"
        )
    return round(seconds, 2)


def run_stages(
    project: ProjectParams, stages: tuple[str, ...], *, work: Path, label: str | None = None
) -> dict[str, float]:
    """`readiness <stage> --params <project's params.yaml>` for each stage in turn, in `work`
    (MLflow's store there too), each one's output in work/logs/<stage>.log; each one's wall
    seconds. With a `label`, each stage's time is printed as it ends."""
    track_mlflow_in(project, work)
    readiness = Path(sys.executable).parent / "readiness"  # the CLI installed beside this Python
    seconds = {}
    for stage in stages:
        command = [str(readiness), stage, "--params", str(project.path)]
        seconds[stage] = run_logged(command, log=work / "logs" / f"{stage}.log", cwd=work)
        if label is not None:
            print(f"  {label:<5} {stage:<9} {seconds[stage]:7.1f} s", flush=True)
    return seconds


def track_mlflow_in(project: ProjectParams, work: Path) -> None:
    """MLflow's store and run artifacts in `work`, for this process and (through the environment)
    the stages: left alone, the train stage would keep both next to params.yaml, in the repo."""
    from models import registry  # imported after readiness, which turns MLflow's telemetry off

    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
    # the experiment is created here, so its artifact folder is work/mlartifacts
    registry.configure(work, project.params.train.mlflow.experiment)
