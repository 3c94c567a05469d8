"""Benchmark of `readiness simulate`: events generated per second and peak memory.

Sizes: 100k leads and the benchmark size of 1M leads (about 100M events), generated chunk by
chunk by 2 worker processes. Baseline, measured in the same run: writing the same number of
event rows (random values, same columns) to Parquet, i.e. the I/O floor of any generator.
Targets (issue 2): 100M events in under 10 minutes with peak memory under 6 GiB.

    python benchmarks/simulate.py            # writes benchmarks/results/simulate.json
    python benchmarks/simulate.py --quick    # 20k leads only, for a smoke run
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure, write_results  # noqa: E402

from readiness.params import load_params  # noqa: E402
from readiness.simulator.run import simulate  # noqa: E402

WORK = Path(__file__).resolve().parent / "work" / "simulate"


def parquet_floor(n_rows: int, out: Path) -> None:
    """Write n_rows random event rows in 2M-row parts: the cost of the output alone."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    start = np.datetime64("2024-01-01T00:00:00", "us")
    for i, lo in enumerate(range(0, n_rows, 2_000_000)):
        k = min(2_000_000, n_rows - lo)
        pd.DataFrame(
            {
                "event_id": np.arange(lo, lo + k, dtype=np.int64),
                "lead_id": np.sort(rng.integers(1, 1_000_000, k)),
                "occurred_at": start
                + rng.integers(0, 730 * 86400 * 10**6, k).astype("timedelta64[us]"),
                "event_type": pd.Categorical.from_codes(
                    rng.integers(0, 8, k), [f"t{j}" for j in range(8)]
                ).astype(str),
                "asset_id": pd.array(
                    np.where(rng.random(k) < 0.3, rng.integers(1, 127, k), 0), dtype="Int64"
                ),
                "properties": pd.Series([None] * k, dtype="str"),
            }
        ).to_parquet(out / f"part-{i:05d}.parquet", index=False)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="20k leads only")
    ap.add_argument("--repeat-small", type=int, default=3)
    ap.add_argument("--repeat-large", type=int, default=2)
    args = ap.parse_args()
    base = load_params().params.simulate
    sizes = (
        [(20_000, 1)]
        if args.quick
        else [(100_000, args.repeat_small), (1_000_000, args.repeat_large)]
    )
    runs = {}
    for n, repeat in sizes:
        p = replace(base, n_leads=n, workers=2, chunk_leads=50_000)
        shutil.rmtree(WORK, ignore_errors=True)
        m = measure(lambda p=p: simulate(p, WORK / "raw", WORK / "ground_truth"), repeat)
        rows = m.pop("result")["rows"]
        floor = measure(lambda rows=rows: parquet_floor(rows["events"], WORK / "floor"), 1)
        floor.pop("result")
        runs[f"{n}_leads"] = {
            **m,
            "leads": n,
            "events": rows["events"],
            "events_per_second": round(rows["events"] / m["wall_seconds_median"]),
            "parquet_floor_seconds": floor["wall_seconds_median"],
            "ratio_to_parquet_floor": round(
                m["wall_seconds_median"] / floor["wall_seconds_median"], 2
            ),
            "rows": rows,
        }
        print(
            f"{n:>9,} leads: {rows['events']:,} events in {m['wall_seconds_median']}s "
            f"({runs[f'{n}_leads']['events_per_second']:,}/s), peak {m['peak_memory_gib']} GiB, "
            f"{runs[f'{n}_leads']['ratio_to_parquet_floor']}x the Parquet floor"
        )
    shutil.rmtree(WORK, ignore_errors=True)
    big = runs.get("1000000_leads")
    targets = None
    if big:
        per_100m = big["wall_seconds_median"] * 100e6 / big["events"]
        targets = {
            "seconds_for_100m_events_extrapolated": round(per_100m, 1),
            "under_10_minutes_for_100m_events": per_100m < 600,
            "peak_memory_under_6_gib": big["peak_memory_gib"] < 6,
        }
    path = write_results(
        "simulate" if not args.quick else "simulate_quick",
        {"runs": runs, "targets": targets, "workers": 2, "chunk_leads": 50_000},
    )
    print(f"results -> {path}")


if __name__ == "__main__":
    main()
