"""A tiny inline world and a helper that computes features for explicit (lead, cutoff) pairs."""

from __future__ import annotations

import ibis
import pandas as pd

from features.catalog import build_catalog
from features.engine import snapshot_features
from features.sources import Tables, day_stream, measure_streams, static_attributes

T = pd.Timestamp
LADDER = ("mql", "sales_accepted", "qualified_conversation", "opportunity", "closed_won")
WINDOWS = (7, 30, 90)


def frames() -> dict[str, pd.DataFrame]:
    """Account 1 (software, 51-200): champion 10, finance 11, executive 12 (joins late).
    Account 2 (retail, 1-50): a single lead 20 with a free email address. Lead 30: no events."""
    ev = [
        # (event_id, lead, time, type, asset, properties)
        (1, 10, "2024-03-01 10:00", "asset_download", 101, None),  # urgency
        (2, 10, "2024-03-20 09:00", "page_view", 101, None),  # urgency again (same asset)
        (3, 10, "2024-03-25 15:00", "asset_download", 102, None),  # urgency, new asset
        (4, 10, "2024-03-27 11:00", "webinar_attended", 201, None),  # category
        (5, 10, "2024-03-28 08:00", "asset_download", 301, None),  # software case study: matches
        (6, 10, "2024-03-29 08:00", "asset_download", 302, None),  # retail case study: no match
        (7, 10, "2024-03-30 12:00", "pricing_page_view", None, None),
        (
            8,
            10,
            "2024-03-30 12:05",
            "form_submit",
            None,
            '{"budget_authority":"yes","timeline":"this_quarter"}',
        ),
        (9, 10, "2024-03-30 18:00", "email_open", None, None),
        (
            10,
            11,
            "2024-03-15 10:00",
            "asset_download",
            401,
            None,
        ),  # finance one-pager (stakeholder)
        (11, 11, "2024-03-31 23:59", "demo_request", None, None),  # last second before the cutoff
        (12, 12, "2024-03-26 10:00", "page_view", 402, None),  # exec brief (stakeholder)
        (13, 10, "2024-04-01 00:00", "demo_request", None, None),  # exactly at the cutoff: excluded
        (14, 10, "2024-04-03 10:00", "asset_download", 103, None),  # after the cutoff
        (15, 20, "2024-02-10 10:00", "email_click", 101, None),
        (16, 20, "2024-03-05 10:00", "email_open", None, None),
    ]
    events = pd.DataFrame(
        ev, columns=["event_id", "lead_id", "occurred_at", "event_type", "asset_id", "properties"]
    )
    events["occurred_at"] = pd.to_datetime(events["occurred_at"])
    events["asset_id"] = events["asset_id"].astype("Int64")
    events["properties"] = (
        events["properties"].astype("str").where(events["properties"].notna(), None)
    )
    return {
        "accounts": pd.DataFrame(
            {
                "account_id": [1, 2],
                "industry": ["software", "retail"],
                "employee_band": ["51-200", "1-50"],
                "region": ["emea", "latam"],
                "created_at": [T("2024-01-02"), T("2024-01-05")],
            }
        ),
        "leads": pd.DataFrame(
            {
                "lead_id": [10, 11, 12, 20, 30],
                "account_id": [1, 1, 1, 2, 2],
                "created_at": [
                    T("2024-01-02 09:00"),
                    T("2024-02-01"),
                    T("2024-03-20"),
                    T("2024-01-05"),
                    T("2024-03-01"),
                ],
                "source_channel": [
                    "organic_search",
                    "events",
                    "outbound",
                    "paid_social",
                    "referral",
                ],
                "persona": ["champion", "finance", "executive", "end_user", None],
                "seniority": ["manager", "director", "c_level", "individual_contributor", None],
                "email_domain_type": ["business", "business", "business", "free", "business"],
            }
        ),
        "assets": pd.DataFrame(
            {
                "asset_id": [101, 102, 103, 201, 301, 302, 401, 402],
                "title": [
                    "Cost of delay",
                    "Benchmark",
                    "Report",
                    "Comparison",
                    "Software case",
                    "Retail case",
                    "ROI one-pager",
                    "Exec brief",
                ],
                "belief_stage": [
                    "urgency",
                    "urgency",
                    "urgency",
                    "category",
                    "capability",
                    "capability",
                    "alignment",
                    "alignment",
                ],
                "audience": ["any", "any", "any", "any", "any", "any", "finance", "executive"],
                "format": [
                    "benchmark",
                    "report",
                    "report",
                    "comparison",
                    "case_study",
                    "case_study",
                    "one_pager",
                    "brief",
                ],
                "industry": [None, None, None, None, "software", "retail", None, None],
            }
        ),
        "events": events,
        "milestones": pd.DataFrame(
            {
                "lead_id": [10, 10],
                "milestone": ["mql", "sales_accepted"],
                "occurred_at": [T("2024-03-30 12:10"), T("2024-04-02 10:00")],
                "opportunity_id": pd.array([None, None], dtype="Int64"),
            }
        ),
        "opportunities": pd.DataFrame(
            {
                "opportunity_id": pd.Series([], dtype="int64"),
                "account_id": pd.Series([], dtype="int64"),
                "primary_lead_id": pd.array([], dtype="Int64"),
                "created_at": pd.Series([], dtype="datetime64[ns]"),
                "closed_at": pd.Series([], dtype="datetime64[ns]"),
                "outcome": pd.Series([], dtype="str"),
                "amount": pd.Series([], dtype="float64"),
            }
        ),
        "sales_touches": pd.DataFrame(
            {
                "touch_id": [1, 2, 3],
                "lead_id": [10, 10, 10],
                "occurred_at": [
                    T("2024-03-31 10:00"),
                    T("2024-03-31 11:00"),
                    T("2024-04-05 10:00"),
                ],
                "touch_type": ["call", "meeting", "meeting"],
                "owner_id": ["rep_emea_1"] * 3,
            }
        ),
    }


def tables(con: ibis.BaseBackend, data: dict[str, pd.DataFrame]) -> Tables:
    return Tables(
        **{name: con.create_table(f"t_{name}", df, overwrite=True) for name, df in data.items()}
    )


def compute(
    data: dict[str, pd.DataFrame],
    cutoffs: list[str],
    strategy: str = "window",
    level: str = "rows",
    leads: list[int] | None = None,
    windows: tuple[int, ...] = WINDOWS,
) -> pd.DataFrame:
    """Features of every (lead, cutoff) pair, indexed by (lead_id, cutoff)."""
    con = ibis.duckdb.connect()
    t = tables(con, data)
    streams = measure_streams(t, LADDER)
    if level == "days":
        streams = {k: day_stream(v) for k, v in streams.items()}
    lead_frame = data["leads"][["lead_id", "account_id"]]
    if leads is not None:
        lead_frame = lead_frame[lead_frame["lead_id"].isin(leads)]
    cut_days = [int((T(c) - T("1970-01-01")).days) for c in cutoffs]
    snaps = con.create_table(
        "snaps",
        lead_frame.merge(pd.DataFrame({"cutoff_day": cut_days}), how="cross").astype(
            {"cutoff_day": "int32"}
        ),
        overwrite=True,
    )
    static = static_attributes(t, ("1-50",))
    out = snapshot_features(
        streams, snaps, static, build_catalog(windows), 30.0, strategy
    ).to_pandas()
    out["cutoff"] = out["cutoff"].astype("datetime64[ns]")
    return out.set_index(["lead_id", "cutoff"]).sort_index()
