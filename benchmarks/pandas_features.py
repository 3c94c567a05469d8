"""The same features written the way a data scientist would in pandas: a loop over cutoffs,
masks and group-bys. It is the baseline of benchmarks/feature_build.py, and an independent reference
implementation: tests/features/test_pandas_reference.py checks that it gives the same numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.catalog import NEVER_DAYS, Feature, build_catalog
from features.sources import CATEGORICAL_VOCABULARY, CONTENT_EVENTS, DEEP_EVENTS
from readiness.domain import BELIEFS, STAKEHOLDER_AUDIENCES

EPOCH = pd.Timestamp("1970-01-01")


def _day(ts: pd.Series) -> pd.Series:
    return (ts.dt.floor("D") - EPOCH).dt.days


def load(validated) -> dict[str, pd.DataFrame]:
    return {
        t: pd.read_parquet(validated / t)
        for t in ("accounts", "leads", "assets", "events", "milestones", "sales_touches")
    }


def prepare(data: dict[str, pd.DataFrame], ladder: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """Join events to their lead, account and asset once; add day numbers."""
    leads = data["leads"].merge(data["accounts"], on="account_id", suffixes=("", "_account"))
    ev = data["events"].merge(leads[["lead_id", "account_id", "persona", "industry"]], on="lead_id")
    ev = ev.merge(
        data["assets"][["asset_id", "belief_stage", "audience", "industry"]].rename(
            columns={"industry": "asset_industry"}
        ),
        on="asset_id",
        how="left",
    )
    ev["day"] = _day(ev["occurred_at"])
    ev["content"] = ev["event_type"].isin(CONTENT_EVENTS) & ev["asset_id"].notna()
    ev["engaged"] = ev["event_type"] != "email_open"
    ms = data["milestones"].copy()
    ms["day"] = _day(ms["occurred_at"])
    ms["rank"] = ms["milestone"].map({m: i + 1 for i, m in enumerate(ladder)}).fillna(0)
    tc = data["sales_touches"].merge(leads[["lead_id", "account_id"]], on="lead_id")
    tc["day"] = _day(tc["occurred_at"])
    leads["created_day"] = _day(leads["created_at"])
    return {"events": ev, "milestones": ms, "touches": tc, "leads": leads}


def _count(frame: pd.DataFrame, key: str, index: pd.Index) -> pd.Series:
    return frame.groupby(key).size().reindex(index, fill_value=0).astype(float)


def features_at(
    prep: dict[str, pd.DataFrame],
    lead_ids: pd.Series,
    cutoff_day: int,
    catalog: tuple[Feature, ...],
    recency_days: float,
    bands: tuple[str, ...],
) -> pd.DataFrame:
    """Every catalogue feature for some leads at one cutoff."""
    D = cutoff_day
    leads = prep["leads"].set_index("lead_id").loc[lead_ids]
    idx = leads.index
    acc = leads["account_id"]
    ev = prep["events"]
    ev = ev[ev["day"] < D]
    lev = ev[ev["lead_id"].isin(idx)]
    out = pd.DataFrame(index=idx)

    def window(frame, days):
        return frame if days is None else frame[frame["day"] >= D - days]

    def days_since_last(frame):
        return (
            (D - frame.groupby("lead_id")["day"].max())
            .reindex(idx)
            .clip(upper=NEVER_DAYS)
            .fillna(NEVER_DAYS)
        )

    def by_account(series_by_account):
        return pd.Series(acc.map(series_by_account).fillna(0).to_numpy(), index=idx).astype(float)

    first_belief = {}
    for b in BELIEFS:
        c = lev[lev["content"] & (lev["belief_stage"] == b)]
        for w in [
            *sorted(
                set(
                    x.window_days
                    for x in catalog
                    if x.name.startswith(f"{b}_content_") and x.window_days
                )
            ),
            None,
        ]:
            out[f"{b}_content_{w}d" if w else f"{b}_content_all"] = _count(
                window(c, w), "lead_id", idx
            )
        out[f"{b}_deep_all"] = _count(c[c["event_type"].isin(DEEP_EVENTS)], "lead_id", idx)
        out[f"{b}_distinct_assets"] = (
            c.groupby("lead_id")["asset_id"].nunique().reindex(idx, fill_value=0).astype(float)
        )
        out[f"{b}_recency_weighted"] = (
            np.exp(-(D - c["day"]) / recency_days)
            .groupby(c["lead_id"])
            .sum()
            .reindex(idx, fill_value=0.0)
        )
        out[f"{b}_days_since_last"] = days_since_last(c)
        first_belief[b] = c.groupby("lead_id")["day"].min().reindex(idx)
    proof = lev[
        lev["content"]
        & (lev["belief_stage"] == "capability")
        & (lev["asset_industry"] == lev["industry"])
    ]
    longest = max(x.window_days for x in catalog if x.window_days)
    out[f"capability_industry_proof_{longest}d"] = _count(window(proof, longest), "lead_id", idx)
    out["capability_industry_proof_all"] = _count(proof, "lead_id", idx)
    out["capability_industry_proof_distinct"] = (
        proof.groupby("lead_id")["asset_id"].nunique().reindex(idx, fill_value=0).astype(float)
    )

    # account level: the whole buying committee, whoever it is
    aev = ev[ev["account_id"].isin(acc.unique())]
    stake = aev[
        aev["content"]
        & (aev["belief_stage"] == "alignment")
        & aev["audience"].isin(STAKEHOLDER_AUDIENCES)
    ]
    for w in [
        *sorted(
            {
                x.window_days
                for x in catalog
                if x.name.startswith("account_stakeholder_content_") and x.window_days
            }
        ),
        None,
    ]:
        out[f"account_stakeholder_content_{w}d" if w else "account_stakeholder_content_all"] = (
            by_account(window(stake, w).groupby("account_id").size())
        )
    out["account_stakeholder_downloads_all"] = by_account(
        stake[stake["event_type"] == "asset_download"].groupby("account_id").size()
    )
    out["account_stakeholder_personas"] = by_account(
        stake.groupby("account_id")["persona"].nunique()
    )
    engaged = aev[aev["engaged"]]
    out["account_personas_engaged"] = by_account(engaged.groupby("account_id")["persona"].nunique())
    all_leads = prep["leads"]
    known = all_leads[all_leads["created_day"] < D].groupby("account_id").size()
    out["account_leads"] = by_account(known)
    engaged_leads = engaged.groupby("account_id")["lead_id"].nunique()
    n_known, n_engaged = by_account(known), by_account(engaged_leads)
    out["account_engaged_share"] = np.where(
        n_known > 0, np.minimum(n_engaged / n_known.where(n_known > 0, 1), 1.0), 0.0
    )
    out["account_executive_engaged"] = (
        by_account(engaged[engaged["persona"] == "executive"].groupby("account_id").size())
        .gt(0)
        .astype(float)
    )
    out["account_finance_engaged"] = (
        by_account(engaged[engaged["persona"] == "finance"].groupby("account_id").size())
        .gt(0)
        .astype(float)
    )
    out[f"account_engaged_{longest}d"] = by_account(
        window(engaged, longest).groupby("account_id").size()
    )

    pricing = lev[lev["event_type"] == "pricing_page_view"]
    for w in [
        *sorted(
            {
                x.window_days
                for x in catalog
                if x.name.startswith("pricing_views_") and x.window_days
            }
        ),
        None,
    ]:
        out[f"pricing_views_{w}d" if w else "pricing_views_all"] = _count(
            window(pricing, w), "lead_id", idx
        )
    demo = lev[lev["event_type"] == "demo_request"]
    out["demo_requests_all"] = _count(demo, "lead_id", idx)
    out["demo_request_days_since"] = days_since_last(demo)
    out[f"forms_{longest}d"] = _count(
        window(lev[lev["event_type"] == "form_submit"], longest), "lead_id", idx
    )
    props = lev["properties"].fillna("")
    timeline = np.select(
        [
            props.str.contains('"timeline":"this_quarter"'),
            props.str.contains('"timeline":"this_year"'),
            props.str.contains('"timeline":"exploring"'),
        ],
        [3, 2, 1],
        0,
    )
    out["timeline_stated"] = (
        pd.Series(timeline, index=lev.index)
        .groupby(lev["lead_id"])
        .max()
        .reindex(idx, fill_value=0)
        .astype(float)
    )
    out["budget_authority_stated"] = (
        props.str.contains('"budget_authority":"yes"')
        .groupby(lev["lead_id"])
        .max()
        .reindex(idx, fill_value=False)
        .astype(float)
    )

    eng = lev[lev["engaged"]]
    for w in [
        *sorted(
            {
                x.window_days
                for x in catalog
                if x.name.startswith("engaged_actions_") and x.window_days
            }
        ),
        None,
    ]:
        out[f"engaged_actions_{w}d" if w else "engaged_actions_all"] = _count(
            window(eng, w), "lead_id", idx
        )
    out["engaged_recency_weighted"] = (
        np.exp(-(D - eng["day"]) / recency_days)
        .groupby(eng["lead_id"])
        .sum()
        .reindex(idx, fill_value=0.0)
    )
    days_active = eng[["lead_id", "day"]].drop_duplicates()
    for w in [
        *sorted(
            {x.window_days for x in catalog if x.name.startswith("active_days_") and x.window_days}
        ),
        None,
    ]:
        out[f"active_days_{w}d" if w else "active_days_all"] = _count(
            window(days_active, w), "lead_id", idx
        )
    for name, kind in (
        ("email_clicks", "email_click"),
        ("page_views", "page_view"),
        ("downloads", "asset_download"),
        ("webinars", "webinar_attended"),
    ):
        of_kind = eng[eng["event_type"] == kind]
        windows = {
            x.window_days for x in catalog if x.name.startswith(f"{name}_") and x.window_days
        }
        for w in sorted(windows):
            out[f"{name}_{w}d"] = _count(window(of_kind, w), "lead_id", idx)
        out[f"{name}_all"] = _count(of_kind, "lead_id", idx)
    opens = lev[~lev["engaged"]]
    out[f"email_opens_{longest}d"] = _count(window(opens, longest), "lead_id", idx)
    out["email_opens_all"] = _count(opens, "lead_id", idx)
    out["engaged_days_since_last"] = days_since_last(eng)
    last30, last60 = (
        _count(window(eng, 30), "lead_id", idx),
        _count(window(eng, 60), "lead_id", idx),
    )
    prev30 = last60 - last30
    out["momentum_30d"] = np.where(last60 > 0, (last30 - prev30) / last60.where(last60 > 0, 1), 0.0)
    tc = prep["touches"]
    tc = tc[(tc["day"] < D) & tc["lead_id"].isin(idx)]
    calls = tc[tc["touch_type"] != "meeting"]
    out["sales_touches_all"] = _count(calls, "lead_id", idx)
    out["sales_meetings_all"] = _count(tc[tc["touch_type"] == "meeting"], "lead_id", idx)
    out["sales_touch_days_since"] = days_since_last(calls)

    firsts = pd.DataFrame(first_belief)
    out["belief_stages_touched"] = firsts.notna().sum(axis=1).astype(float)
    in_order = pd.Series(True, index=idx)
    for i, a in enumerate(BELIEFS):
        for b in BELIEFS[i + 1 :]:
            in_order &= firsts[a].isna() | firsts[b].isna() | (firsts[a] <= firsts[b])
    out["touched_in_ladder_order"] = ((out["belief_stages_touched"] >= 2) & in_order).astype(float)
    any_belief = lev[lev["content"] & lev["belief_stage"].isin(BELIEFS)]
    out["first_touch_days_since"] = (
        (D - any_belief.groupby("lead_id")["day"].min())
        .reindex(idx)
        .clip(upper=NEVER_DAYS)
        .fillna(NEVER_DAYS)
    )
    out["lead_age_days"] = (D - leads["created_day"]).astype(float)
    ms = prep["milestones"]
    ms = ms[(ms["day"] < D) & ms["lead_id"].isin(idx) & (ms["rank"] > 0)]
    out["ladder_stage"] = (
        ms.groupby("lead_id")["rank"].max().reindex(idx, fill_value=0).astype(float)
    )
    out["milestone_days_since"] = days_since_last(ms)

    for name, vocab in CATEGORICAL_VOCABULARY.items():
        out[name] = leads[name].map({v: i for i, v in enumerate(vocab)}).fillna(-1).astype(float)
    out["free_email_domain"] = (leads["email_domain_type"] == "free").astype(float)
    out["competitor_email_domain"] = (leads["email_domain_type"] == "competitor").astype(float)
    out["out_of_profile_size"] = leads["employee_band"].isin(bands).astype(float)
    out.insert(0, "cutoff", EPOCH + pd.Timedelta(days=int(D)))
    out.insert(0, "account_id", acc)
    return out[["account_id", "cutoff", *(f.name for f in catalog)]].reset_index()


def pandas_features(
    validated, snapshots: pd.DataFrame, windows, ladder, recency_days: float = 30.0, bands=("1-50",)
) -> pd.DataFrame:
    """Features of every (lead_id, cutoff) in `snapshots`, one cutoff at a time."""
    catalog = build_catalog(windows)
    prep = prepare(load(validated), tuple(ladder))
    parts = []
    for cutoff, group in snapshots.groupby("cutoff"):
        parts.append(
            features_at(
                prep,
                group["lead_id"],
                int((pd.Timestamp(cutoff) - EPOCH).days),
                catalog,
                recency_days,
                bands,
            )
        )
    return (
        pd.concat(parts, ignore_index=True)
        .sort_values(["lead_id", "cutoff"])
        .reset_index(drop=True)
    )
