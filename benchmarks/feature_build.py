"""Benchmark of the features stage: the scoring snapshot and the training snapshots.

Sizes: 100k leads (~10M events) and the benchmark size of 1M leads (~100M events), simulated and
ingested first (kept under benchmarks/work/ between runs). For each size: wall time (median of
repeats), events per second and peak memory of the process tree, for the scoring snapshot (one
row per open lead) and for the training snapshots (every active lead every 14 days), built
separately. At 100k, in the same run: both training strategies ("window" and "join") and the
pandas baseline (benchmarks/pandas_features.py, the same features, checked equal by a test).

Targets (issue 3): at 100M events the scoring snapshot in under 2 minutes and the training
snapshots in under 10 minutes, peak memory under 8 GiB, at least 10x faster than pandas.

    python benchmarks/feature_build.py          # writes benchmarks/results/features.json
    python benchmarks/feature_build.py --quick  # 20k leads, no pandas training baseline
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure, write_results  # noqa: E402
from pandas_features import pandas_features  # noqa: E402

from features.build import build_features  # noqa: E402
from readiness.params import IngestParams, load_params  # noqa: E402
from readiness.raw.ingest import ingest_folder  # noqa: E402
from readiness.simulator.run import simulate  # noqa: E402

WORK = Path(__file__).resolve().parent / "work" / "features"


def dataset(n_leads: int) -> tuple[Path, int]:
    """Simulated and validated data of n_leads (reused when already there); its event count."""
    root = WORK / f"{n_leads}"
    report = root / "ingest.json"
    if not report.exists():
        shutil.rmtree(root, ignore_errors=True)
        base = load_params().params.simulate
        simulate(
            replace(base, n_leads=n_leads, workers=2, chunk_leads=50_000),
            root / "raw",
            root / "ground_truth",
        )
        rep = ingest_folder(root / "raw", root / "validated", root / "quarantine", IngestParams())
        shutil.rmtree(root / "raw")
        report.write_text(json.dumps(rep))
    events = json.loads(report.read_text())["tables"]["events"]["accepted"]
    return root / "validated", events


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat-small", type=int, default=3)
    ap.add_argument("--repeat-large", type=int, default=2)
    args = ap.parse_args()
    project = load_params()
    p, ladder = project.params.features, project.params.ladder
    sizes = (
        [(20_000, 1)]
        if args.quick
        else [(100_000, args.repeat_small), (1_000_000, args.repeat_large)]
    )
    runs: dict = {}
    for n, repeat in sizes:
        validated, events = dataset(n)
        out = WORK / f"{n}-out"
        r: dict = {"leads": n, "events": events}
        for part in ("scoring", "training"):
            m = measure(
                functools.partial(build_features, validated, out, p, ladder, (part,)), repeat
            )
            summary = m.pop("result")
            r[part] = {
                **m,
                "events_per_second": round(events / m["wall_seconds_median"]),
                "summary": summary[part],
            }
            print(
                f"{n:>9,} leads, {events:,} events: {part} {m['wall_seconds_median']}s, peak {m['peak_memory_gib']} GiB"
            )
        if n == 100_000 or args.quick:
            other = "join" if p.training_strategy == "window" else "window"
            m = measure(
                functools.partial(
                    build_features,
                    validated,
                    WORK / "other",
                    replace(p, training_strategy=other),
                    ladder,
                    ("training",),
                ),
                repeat,
            )
            m.pop("result")
            r[f"training_{other}_strategy"] = m
            print(
                f"   training with the {other} strategy: {m['wall_seconds_median']}s, peak {m['peak_memory_gib']} GiB"
            )
            score_rows = pd.read_parquet(out / "scoring.parquet", columns=["lead_id", "cutoff"])
            m = measure(
                functools.partial(
                    pandas_features,
                    validated,
                    score_rows,
                    p.windows,
                    ladder,
                    p.recency_days,
                    p.out_of_profile_bands,
                ),
                1,
            )
            m.pop("result")
            r["pandas_scoring"] = {
                **m,
                "ratio_to_readiness": round(
                    m["wall_seconds_median"] / r["scoring"]["wall_seconds_median"], 1
                ),
            }
            print(
                f"   pandas scoring {m['wall_seconds_median']}s ({r['pandas_scoring']['ratio_to_readiness']}x)"
            )
            if not args.quick:
                train_rows = pd.read_parquet(out / "training", columns=["lead_id", "cutoff"])
                m = measure(
                    functools.partial(
                        pandas_features,
                        validated,
                        train_rows,
                        p.windows,
                        ladder,
                        p.recency_days,
                        p.out_of_profile_bands,
                    ),
                    1,
                )
                m.pop("result")
                r["pandas_training"] = {
                    **m,
                    "ratio_to_readiness": round(
                        m["wall_seconds_median"] / r["training"]["wall_seconds_median"], 1
                    ),
                }
                print(
                    f"   pandas training {m['wall_seconds_median']}s ({r['pandas_training']['ratio_to_readiness']}x)"
                )
        runs[f"{n}_leads"] = r
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(WORK / "other", ignore_errors=True)
    targets = None
    big = runs.get("1000000_leads")
    small = runs.get("100000_leads")
    if big and small:
        scale = 100e6 / big["events"]
        targets = {
            "scoring_seconds_per_100m_events": round(
                big["scoring"]["wall_seconds_median"] * scale, 1
            ),
            "training_seconds_per_100m_events": round(
                big["training"]["wall_seconds_median"] * scale, 1
            ),
            "scoring_under_2_minutes": big["scoring"]["wall_seconds_median"] * scale < 120,
            "training_under_10_minutes": big["training"]["wall_seconds_median"] * scale < 600,
            "peak_memory_under_8_gib": max(
                big["scoring"]["peak_memory_gib"], big["training"]["peak_memory_gib"]
            )
            < 8,
            "scoring_10x_faster_than_pandas": small["pandas_scoring"]["ratio_to_readiness"] >= 10,
            "training_10x_faster_than_pandas": small["pandas_training"]["ratio_to_readiness"] >= 10,
        }
    path = write_results(
        "features_quick" if args.quick else "features",
        {
            "runs": runs,
            "targets": targets,
            "params": {
                "windows": list(p.windows),
                "cadence_days": p.cadence_days,
                "training_strategy": p.training_strategy,
                "bucket_events": p.bucket_events,
                "threads": p.threads,
                "memory_limit": p.memory_limit,
            },
        },
    )
    print(f"results -> {path}")


if __name__ == "__main__":
    main()
