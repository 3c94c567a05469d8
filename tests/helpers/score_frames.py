"""Small score tables that keep the score contract, for the contract and publishing tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from readiness.domain import BELIEFS, DEFAULT_LADDER

LADDER = DEFAULT_LADDER
SCORED_AT = pd.Timestamp("2026-01-01")


def make_scores(
    n: int = 12, seed: int = 0, first_lead: int = 1
) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """(run, leads, accounts): n leads over n // 2 accounts, every route that needs fields filled."""
    rng = np.random.default_rng(seed)
    lead_id = np.arange(first_lead, first_lead + n, dtype="int64")
    account_id = (lead_id + 1) // 2
    p = np.sort(rng.uniform(0, 1, (n, len(LADDER))), axis=1)[:, ::-1]
    routes = np.array(
        ["sales_now", "disqualified", "dormant_check_in", *[f"nurture_{b}" for b in BELIEFS]]
    )
    route = routes[np.arange(n) % len(routes)]
    leads = pd.DataFrame(
        {
            "lead_id": lead_id,
            "account_id": account_id.astype("int64"),
            "scored_at": SCORED_AT,
            "current_stage": "none",
            **{f"p_{g}": p[:, i] for i, g in enumerate(LADDER)},
            "readiness_stage": np.where(p[:, 0] >= 0.5, "mql", "none"),
            "next_gate": "mql",
            "p_next_gate": p[:, 0],
            "expected_revenue": np.round(p[:, -1] * 10_000, 2),
            "driver_1": "+ Pricing page views by the lead in the last 30 days: 2",
            "driver_2": "- Days since the lead last consumed urgency content (999 = never): never",
            "driver_3": None,
            "weakest_belief": np.array(BELIEFS)[np.arange(n) % 4],
            "persona": "champion",
            "industry": "software",
            "region": "emea",
            "employee_band": "201-1000",
            "route": route,
            "disqualifiers": np.where(
                route == "disqualified", "the email address is from a competitor", None
            ),
            "next_asset_id": pd.array(
                np.where(np.char.startswith(route.astype(str), "nurture_"), 7, 0), dtype="Int64"
            ),
            "next_asset": np.where(
                np.char.startswith(route.astype(str), "nurture_"), "ROI one-pager", None
            ),
        }
    )
    leads.loc[~leads["route"].str.startswith("nurture_"), "next_asset_id"] = pd.NA
    sales = leads["route"] == "sales_now"
    for col, text in {
        "trigger": "asked for a demo on 2025-12-30",
        "problem_hypothesis": "Checking proof: engaged most with 'Case study'.",
        "disqualifiers_checked": "clear: the email address is from a competitor",
        "last_touches": "2025-12-30: asked for a demo",
        "opener": "You asked for a demo on 2025-12-30.",
        "owner": "rep_emea_1",
    }.items():
        leads[col] = np.where(sales, text, None)
    leads["sla_due"] = pd.Series(
        np.where(sales, pd.Timestamp("2026-01-02 13:00"), pd.NaT), dtype="datetime64[ns]"
    )
    accounts = (
        leads.groupby("account_id")
        .agg(
            open_leads=("lead_id", "size"),
            p_max_qualified_conversation=("p_qualified_conversation", "max"),
            most_ready_lead_id=("lead_id", "min"),
            route=("route", "first"),
        )
        .reset_index()
    )
    run = {
        "run_id": f"20260101-v1-test{seed:04d}",
        "scored_at": SCORED_AT.isoformat(),
        "as_of": "2026-01-01",
        "model_name": "readiness",
        "model_version": "1",
        "catalog_version": "test",
        "params_hash": f"hash{seed}",
        "leads": len(leads),
        "accounts": len(accounts),
    }
    return run, leads, accounts
