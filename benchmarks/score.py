"""Benchmark of `readiness score` and `readiness publish`: scoring open leads with per-lead drivers,
routing and handoffs, then publishing them to PostgreSQL.

Sizes: 100k and 1M open leads, made by replicating the default run's scoring snapshot (55,784
open leads) and its lead context as new leads and accounts (ids offset per copy). The context
query on the validated tables is timed once at the real size; the replicas reuse its frames.
What is timed at each size is what grows with the leads: prediction of every gate, path
attributions for the drivers (next gate) and the weakest belief (sales gate), the plain-language
drivers, routing, next-asset suggestion (a DuckDB anti-join against everything each lead
consumed), handoffs, the account view and the score contract. Publishing is one transaction
(COPY) into a fresh schema of the PostgreSQL at 127.0.0.1 (database `test`), dropped afterwards.
Baseline, measured in the same run: exact TreeSHAP (LightGBM pred_contrib) of the mql gate on a
sample, extrapolated to the size, next to the path attributions on the same rows.
Targets (issue 5): 1M leads scored with per-lead drivers in under 5 minutes on 2 cores,
published to PostgreSQL in under 1 minute.

    dvc repro score                  # the default model, features and context must exist
    python benchmarks/score.py       # writes benchmarks/results/score.json
    python benchmarks/score.py --sizes 100000 --repeat 1   # quick
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure, write_results  # noqa: E402

from features.build import connect  # noqa: E402
from features.catalog import build_catalog  # noqa: E402
from models.bundle import ReadinessModel  # noqa: E402
from models.explain import PathAttribution, exact_shap  # noqa: E402
from pipelines.publish.store import make_engine, publish_run  # noqa: E402
from pipelines.score.context import LeadContext, gather_context  # noqa: E402
from pipelines.score.leads import score_leads  # noqa: E402
from readiness.params import load_params  # noqa: E402
from readiness.scores import validate_scores  # noqa: E402

POSTGRES_URL = os.environ.get(
    "READINESS_BENCH_POSTGRES_URL", f"postgresql+psycopg://{getpass.getuser()}@127.0.0.1:5432/test"
)


def replicate(X: pd.DataFrame, ctx: LeadContext, n: int) -> tuple[pd.DataFrame, LeadContext]:
    """n open leads: copies of the snapshot as new leads and accounts (ids offset per copy)."""
    copies = -(-n // len(X))
    lead_span = int(X["lead_id"].max()) + 1
    acc_span = int(X["account_id"].max()) + 1

    def copy(frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            return frame
        out = pd.concat([frame] * copies, ignore_index=True)
        k = np.repeat(np.arange(copies, dtype=np.int64), len(frame))
        out["lead_id"] = out["lead_id"].to_numpy() + k * lead_span
        if "account_id" in out:
            out["account_id"] = out["account_id"].to_numpy() + k * acc_span
        return out

    big = copy(X).iloc[:n].reset_index(drop=True)
    keep = set(big["lead_id"].tolist())

    def trim(frame: pd.DataFrame) -> pd.DataFrame:
        f = copy(frame)
        return f[f["lead_id"].isin(keep)].reset_index(drop=True)

    return big, replace(
        ctx,
        leads=trim(ctx.leads),
        touches=trim(ctx.touches),
        triggers=trim(ctx.triggers),
        top_assets=trim(ctx.top_assets),
        consumed=trim(ctx.consumed),
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--shap-rows", type=int, default=3000)
    args = ap.parse_args()

    project = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    params = project.params
    model = ReadinessModel.load(project.resolve(params.paths.models) / "readiness")
    X0 = pd.read_parquet(project.resolve(params.paths.features) / "scoring.parquet")
    catalog = build_catalog(params.features.windows)
    deal_size = __import__("json").loads(
        (project.resolve(params.paths.labels) / "deal_size.json").read_text()
    )
    scored_at = pd.Timestamp(X0["cutoff"].iloc[0])
    con = connect(params.features, project.resolve(params.paths.scores) / ".work")
    p = params.score

    def context():
        return gather_context(
            con,
            project.resolve(params.paths.validated),
            X0["lead_id"],
            scored_at,
            p.routing.trigger_events,
            p.routing.trigger_days,
        )

    ctx_run = measure(context, args.repeat)
    ctx0 = ctx_run.pop("result")
    results = {
        "context_query": {"open_leads": len(X0), **ctx_run},
        "sizes": {},
    }
    print(f"context of {len(X0):,} open leads: {ctx_run['wall_seconds_median']} s")

    # the exact-SHAP baseline on a sample, next to the path attributions on the same rows
    gate = model.ladder[0]
    booster = model.gates[gate].booster
    sample = X0.sample(min(args.shap_rows, len(X0)), random_state=0)[model.features].astype(float)
    attribution = PathAttribution.from_booster(booster)
    t0 = time.perf_counter()
    exact_shap(booster, sample)
    shap_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    attribution.contributions(sample)
    path_s = time.perf_counter() - t0
    results["exact_shap_baseline"] = {
        "gate": gate,
        "rows": len(sample),
        "exact_shap_rows_per_second": round(len(sample) / shap_s, 1),
        "path_rows_per_second": round(len(sample) / path_s, 1),
        "speedup": round(shap_s / path_s, 1),
    }
    print(results["exact_shap_baseline"])

    for n in args.sizes:
        X, ctx = replicate(X0, ctx0, n)

        def score(X=X, ctx=ctx):
            res = score_leads(
                model,
                X,
                ctx=ctx,
                catalog=catalog,
                deal_size=deal_size,
                p=p,
                scored_at=scored_at,
                con=con,
            )
            validate_scores(res.leads, model.ladder, p.top_drivers, X["lead_id"])
            return res

        run = measure(score, args.repeat if n <= 200_000 else max(1, args.repeat - 1))
        res = run.pop("result")
        entry = {
            "open_leads": n,
            "score": {
                **run,
                "leads_per_second": round(n / run["wall_seconds_median"]),
                "parts_seconds_last_run": res.timings,
                "routes": res.leads["route"].value_counts().to_dict(),
                "exact_shap_one_gate_extrapolated_seconds": round(
                    n / results["exact_shap_baseline"]["exact_shap_rows_per_second"], 1
                ),
            },
        }
        print(
            f"score {n:,}: {run['wall_seconds_median']} s, peak {run['peak_memory_gib']} GiB, {res.timings}"
        )

        run_info = {
            "run_id": f"bench-{n}-{uuid.uuid4().hex[:8]}",
            "scored_at": scored_at.isoformat(),
            "as_of": str(scored_at.date()),
            "model_name": "readiness",
            "model_version": "bench",
            "catalog_version": model.catalog_version,
            "params_hash": "bench",
        }
        walls = []
        for _ in range(args.repeat if n <= 200_000 else max(1, args.repeat - 1)):
            schema = f"readiness_bench_{uuid.uuid4().hex[:8]}"
            engine = make_engine(POSTGRES_URL)
            try:
                t0 = time.perf_counter()
                publish_run(engine, run_info, res.leads, res.accounts, "readiness_", schema, 50_000)
                walls.append(time.perf_counter() - t0)
            finally:
                with engine.begin() as conn:
                    conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                engine.dispose()
        med = float(np.median(walls))
        entry["publish_postgres"] = {
            "lead_rows": len(res.leads),
            "account_rows": len(res.accounts),
            "wall_seconds": [round(w, 2) for w in walls],
            "wall_seconds_median": round(med, 2),
            "leads_per_second": round(n / med),
        }
        print(f"publish {n:,} to PostgreSQL: {med:.1f} s")
        results["sizes"][str(n)] = entry

    path = write_results(
        "score",
        {
            "description": __doc__.split("\n\n")[0],
            "targets": {"score_1m_seconds": 300, "publish_1m_postgres_seconds": 60},
            "postgres": sa.engine.make_url(POSTGRES_URL).render_as_string(hide_password=True),
            **results,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
