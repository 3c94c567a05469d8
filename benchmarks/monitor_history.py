"""Does the monitor's label-free estimate track what really happened? A small simulation is
trained once (simulate, ingest, features, labels, train, evaluate), then scored and published at
the first of every month from --start to the end of the data (features --only scoring with
features.as_of, score, publish: each run's score trends are measured against the one before),
and `readiness monitor` judges every published run.

Reported per published run and gate: the realised AUC once the run's horizon has passed (on the
leads at risk of the gate when the run was scored), the confidence-based estimate the run's own
probabilities gave at publication, and their difference; before the horizon, the estimate alone.
Summary: the mean absolute error of the estimate against the realised AUC per gate and over all,
on every lead at risk and on the active ones (a sign of life in the dormancy window: the leads
the model learnt from); the dormant leads' expected against realised crossings; and the score
trends per run (leads up / down / steady / new since the previous run).

The runs start after the last snapshot the model learnt from (default --start 2025-05-01; the
validation cohort ends 2025-04-21). Its calibration labels look 90 days past that cohort (to
2025-07-20), so the crossings after the May to July runs partly informed calibration; the runs
from 2025-08-01 (after the test cohort's start, 2025-07-28) are out of sample entirely.

    python benchmarks/monitor_history.py [--leads 15000] [--seed 7] [--start 2025-05-01]

Writes benchmarks/results/monitor_history.json; every file, log and the MLflow store go under
benchmarks/work/monitor_history/ (removed and rebuilt on each call).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd
import yaml
from _measure import machine, run_logged, run_stages

from readiness.params import load_params

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "work" / "monitor_history"
OUT = ROOT / "benchmarks" / "results" / "monitor_history.json"
READINESS = Path(sys.executable).parent / "readiness"  # the CLI installed beside this Python
TRAINING = ("simulate", "ingest", "features", "labels", "train", "evaluate")


def _params(leads: int, seed: int, as_of: str | None) -> dict:
    return {
        "simulate": {"n_leads": leads, "chunk_leads": leads, "workers": 1, "seed": seed},
        # the cohorts are chosen from the data (null dates) on this calendar: params.yaml's
        "features": {"as_of": as_of, "first_cutoff": "2023-07-03"},
        "evaluate": {"ground_truth": False},
    }


def _months(start: date, end: date) -> list[date]:
    """The first of every month from `start` (itself a first) up to `end`, excluded."""
    out, d = [], start
    while d < end:
        out.append(d)
        d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return out


def _trends(work: Path) -> dict:
    leads = pd.read_parquet(work / "data" / "scores" / "leads.parquet", columns=["trend"])
    counts = leads["trend"].astype(str).value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--leads", type=int, default=15000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--start", type=date.fromisoformat, default=date(2025, 5, 1))
    args = ap.parse_args()
    if args.start.day != 1:
        raise SystemExit("--start is the first day of a month")
    os.environ.pop("READINESS_DATABASE_URL", None)  # publish to the work folder's SQLite
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    path = WORK / "params.yaml"
    t0 = time.perf_counter()
    path.write_text(yaml.safe_dump(_params(args.leads, args.seed, None), sort_keys=False))
    training_seconds = run_stages(load_params(path), TRAINING, work=WORK, label="train")
    end = pd.Timestamp(
        json.loads((WORK / "data" / "labels" / "settings.json").read_text())["end_of_data"]
    ).date()
    scored: list[dict] = []
    for as_of in [*_months(args.start, end), None]:
        path.write_text(
            yaml.safe_dump(
                _params(args.leads, args.seed, str(as_of) if as_of else None), sort_keys=False
            )
        )
        label = str(as_of) if as_of else "end"
        seconds = {}
        for name, command in (
            ("features", ["features", "--only", "scoring"]),
            ("score", ["score"]),
            ("publish", ["publish"]),
        ):
            seconds[name] = run_logged(
                [str(READINESS), *command, "--params", str(path)],
                log=WORK / "logs" / label / f"{name}.log",
                cwd=WORK,
            )
        run = json.loads((WORK / "data" / "scores" / "run.json").read_text())
        scored.append(
            {
                "as_of": run["as_of"],
                "run_id": run["run_id"],
                "trend_since_run": run.get("trend_since_run"),
                "trends": _trends(WORK),
                "seconds": seconds,
            }
        )
        print(f"  scored as of {run['as_of']}: trends {scored[-1]['trends']}", flush=True)
    monitor_seconds = run_stages(load_params(path), ("monitor",), work=WORK)
    mon = json.loads((WORK / "artifacts" / "metrics" / "monitor.json").read_text())
    runs: list[dict] = []
    errors: dict[str, dict[str, list[float]]] = {"all": {}, "active": {}}
    # the runs whose outcomes no label the model learnt from (or was calibrated on) saw
    test_start = str(load_params(path).params.train.test_start)
    unseen: dict[str, dict[str, list[float]]] = {"all": {}, "active": {}}
    for r in mon["published_runs"]:
        entry = {
            "as_of": r["as_of"],
            "state": r["state"],
            "active_leads": r.get("active_leads"),
            "leads": r.get("leads"),
            "gates": {},
        }
        for population, key in (("all", "gates"), ("active", "gates_active")):
            for gate, g in (r.get(key) or {}).items():
                realised, estimated = g.get("roc_auc"), g.get("estimated_auc_at_publication")
                error = (
                    round(estimated - realised, 5)
                    if realised is not None and estimated is not None
                    else None
                )
                entry["gates"].setdefault(gate, {})[population] = {
                    "realised_auc": realised,
                    "estimated_auc": estimated,
                    "error": error,
                    "leads_at_risk": g.get("rows"),
                    "positives": g.get("positives"),
                }
                if error is not None:
                    errors[population].setdefault(gate, []).append(error)
                    if r["as_of"] >= test_start:
                        unseen[population].setdefault(gate, []).append(error)
        for population, key in (("all", "estimates"), ("active", "estimates_active")):
            for gate, e in (r.get(key) or {}).items():
                entry["gates"].setdefault(gate, {})[population] = {
                    "estimated_auc": e.get("estimated_auc"),
                    "pending": True,
                }
        if r.get("dormant"):
            entry["dormant"] = r["dormant"]
        runs.append(entry)

    def summary(by_gate: dict[str, list[float]]) -> dict:
        every = [abs(e) for v in by_gate.values() for e in v]
        return {
            "mae": round(statistics.fmean(every), 4) if every else None,
            "max_abs_error": round(max(every), 4) if every else None,
            "mae_by_gate": {
                g: round(statistics.fmean(abs(x) for x in v), 4) for g, v in by_gate.items()
            },
            "mean_signed_error_by_gate": {
                g: round(statistics.fmean(v), 4) for g, v in by_gate.items()
            },
        }

    dormant: dict[str, dict[str, float]] = {}
    for r in runs:
        for gate, d in (r.get("dormant") or {}).get("gates", {}).items():
            total = dormant.setdefault(gate, {"expected_crossings": 0.0, "crossed": 0})
            total["expected_crossings"] = round(
                total["expected_crossings"] + d["expected_crossings"], 2
            )
            total["crossed"] += d["crossed"]
    out = {
        "command": "python benchmarks/monitor_history.py",
        "machine": machine(),
        "leads": args.leads,
        "seed": args.seed,
        "end_of_data": str(end),
        "published_runs": len(mon["published_runs"]),
        "realised_runs": sum(r["state"] == "realised" for r in mon["published_runs"]),
        "estimate_on_all_leads": summary(errors["all"]),
        "estimate_on_active_leads": summary(errors["active"]),
        "out_of_sample_runs_from": test_start,
        "estimate_on_all_leads_out_of_sample": summary(unseen["all"]),
        "estimate_on_active_leads_out_of_sample": summary(unseen["active"]),
        "dormant_leads_expected_vs_crossed": dormant,
        "monitor_estimate_vs_realised": mon.get("estimate_vs_realised"),
        "runs": runs,
        "scored": scored,
        "seconds": {"training": training_seconds, "monitor": monitor_seconds},
        "wall_seconds": round(time.perf_counter() - t0, 1),
    }
    OUT.write_text(json.dumps(out, indent=2) + "\n")
    print(
        f"{out['realised_runs']} realised runs of {out['published_runs']}: estimate MAE "
        f"{out['estimate_on_all_leads']['mae']} on all leads, "
        f"{out['estimate_on_active_leads']['mae']} on active leads"
    )
    print(f"written {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
