"""Does `readiness monitor` cry wolf, and does it see a real change? Small simulations run end to
end (simulate, ingest, features, labels, train, evaluate, monitor) on several seeds without any
injected change, and once with a strong dated change (params simulate.change_on: from that day new
leads come through another channel mix and engage less; see readiness/params.py).

Reported per run: the gates for which retraining is recommended and why, each gate's score PSI,
its label-free AUC estimate now and its test AUC, the model's age and the strongest-drifting
features. Summary: the false-alarm rate (runs without a change that recommend retraining) and
whether the change is detected by the one scoring run after it, and named: a feature of the
changed lead mix (source channel or engagement) that drifts strongly after the change and in no
run without it.

    python benchmarks/monitor_alarms.py [--leads 15000] [--seeds 7 8 9] [--monitor-only]

Writes benchmarks/results/monitor_alarms.json; every run's files, logs and MLflow store go under
benchmarks/work/monitor_alarms/<run>/ (removed and rebuilt on each call, except with
--monitor-only, which runs only the monitor stage again on them: its stage seconds are then the
monitor's alone).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import yaml
from _measure import machine, run_stages

from readiness.params import load_params

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "work" / "monitor_alarms"
OUT = ROOT / "benchmarks" / "results" / "monitor_alarms.json"
STAGES = ("simulate", "ingest", "features", "labels", "train", "evaluate", "monitor")
# three months before the data ends (and the leads are scored), after the default test cohort
# (its last cutoff 2025-09-22), so the model was tested on leads from before the change
CHANGE_ON = "2025-10-01"
# features whose drift names the injected change: the channel mix and how much leads engage
CHANGE_SIGNS = ("source_channel", "engaged_", "active_days", "momentum")


def _params(leads: int, seed: int, change_on: str | None) -> dict:
    return {
        "simulate": {
            "n_leads": leads,
            "chunk_leads": leads,
            "workers": 1,
            "seed": seed,
            "change_on": change_on,
        },
        # the cohorts are chosen from the data (null dates) on this calendar: params.yaml's
        "features": {"first_cutoff": "2023-07-03"},
        "evaluate": {"ground_truth": False},
    }


def _run_one(
    name: str, leads: int, seed: int, change_on: str | None, monitor_only: bool = False
) -> dict:
    work = WORK / name
    path = work / "params.yaml"
    if not monitor_only:
        work.mkdir(parents=True)
        path.write_text(yaml.safe_dump(_params(leads, seed, change_on), sort_keys=False))
    seconds = run_stages(load_params(path), STAGES[-1:] if monitor_only else STAGES, work=work)
    mon = json.loads((work / "artifacts" / "metrics" / "monitor.json").read_text())
    psi = {f["feature"]: f["psi"] for f in mon["features"]}
    return {
        "seed": seed,
        "change_on": change_on,
        "retrain": mon["retrain"],
        "reasons": {g: v["reasons"] for g, v in mon["gates"].items() if v["retrain"]},
        "gates": {
            g: {
                "score_psi": v["score_psi"],
                "estimated_auc_now": v["estimate_now"]["estimated_auc"],
                "test_auc": v["test_auc"],
            }
            for g, v in mon["gates"].items()
        },
        "model_age": mon.get("model_age"),
        "compared_leads": mon["current"].get("compared_leads"),
        "features_strong_drift": [f["feature"] for f in mon["features_strong_drift"]],
        "source_channel_psi": psi.get("source_channel"),
        "seconds": seconds,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--leads", type=int, default=15000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    ap.add_argument(
        "--monitor-only",
        action="store_true",
        help="run only the monitor stage again on the runs already in benchmarks/work",
    )
    args = ap.parse_args()
    if not args.monitor_only:
        shutil.rmtree(WORK, ignore_errors=True)
    t0 = time.perf_counter()
    runs = {}
    for seed in args.seeds:
        runs[f"seed{seed}"] = _run_one(f"seed{seed}", args.leads, seed, None, args.monitor_only)
        print(
            f"  seed {seed}, no change: retrain {runs[f'seed{seed}']['retrain'] or 'none'}",
            flush=True,
        )
    changed = _run_one("changed", args.leads, args.seeds[0], CHANGE_ON, args.monitor_only)
    print(f"  seed {args.seeds[0]}, change on {CHANGE_ON}: retrain {changed['retrain'] or 'none'}")
    quiet = list(runs.values())
    # the change is named by features that drift strongly after it and in no run without it
    usual = {f for r in quiet for f in r["features_strong_drift"]}
    named = [f for f in changed["features_strong_drift"] if f not in usual]
    out = {
        "benchmark": "monitor_alarms",
        "command": "python benchmarks/monitor_alarms.py",
        "machine": machine(),
        "leads": args.leads,
        "false_alarm_runs": sum(bool(r["retrain"]) for r in quiet),
        "runs_without_change": len(quiet),
        "false_alarm_rate": round(sum(bool(r["retrain"]) for r in quiet) / len(quiet), 3),
        "change_detected_in_one_scoring_run": bool(changed["retrain"]),
        "change_named_by_drifted_features": any(s in f for f in named for s in CHANGE_SIGNS),
        "features_drifting_only_after_the_change": named,
        "features_drifting_strongly_in_every_run": sorted(
            set.intersection(*(set(r["features_strong_drift"]) for r in [*quiet, changed]))
        ),
        "runs": {**runs, "changed": changed},
        "wall_seconds": round(time.perf_counter() - t0, 1),
    }
    OUT.write_text(json.dumps(out, indent=2) + "\n")
    print(
        f"false alarms {out['false_alarm_runs']}/{len(quiet)}; change detected "
        f"{out['change_detected_in_one_scoring_run']} (named: {out['change_named_by_drifted_features']})"
    )
    print(f"written {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
