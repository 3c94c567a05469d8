"""Routing rules: disqualifiers, owners, business-hours SLAs, next assets and handoff text.

Pure functions of frames and params (no I/O): the rules themselves live in params.yaml
(`score.routing`), so marketing ops change a threshold, an owner list or an opener without code.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import ibis
import numpy as np
import pandas as pd

from readiness.params import AssignmentParams, DisqualifierRule, SlaParams
from readiness.scores import DISQUALIFIED, DORMANT, NURTURE, ROUTES, SALES_NOW, WITH_SALES

__all__ = ["DISQUALIFIED", "DORMANT", "NURTURE", "ROUTES", "SALES_NOW", "WITH_SALES"]


def disqualify(
    X: pd.DataFrame, rules: tuple[DisqualifierRule, ...]
) -> tuple[np.ndarray, list[str]]:
    """Which leads a disqualifier holds for, and for each lead the reasons ('' when none)."""
    hits = np.zeros((len(X), len(rules)), dtype=bool)
    for j, rule in enumerate(rules):
        hits[:, j] = X[rule.feature].to_numpy(dtype=float) >= rule.at_least
    reasons = ["; ".join(r.reason for r, h in zip(rules, row, strict=True) if h) for row in hits]
    return np.asarray(hits.any(axis=1)), reasons


def disqualifiers_checked(rules: tuple[DisqualifierRule, ...]) -> str:
    """The handoff line of a lead no disqualifier holds for: every rule, checked and clear."""
    if not rules:
        return "no disqualifier rules configured"
    return "; ".join(f"clear: {r.reason}" for r in rules)


def assign_owners(
    account_id: pd.Series, region: pd.Series, account_owner: pd.Series, p: AssignmentParams
) -> pd.Series:
    """An owner per lead; the leads of one account always get the same owner.

    Round robin goes over this run's accounts in account-id order, within the region's reps
    (region_round_robin) or over all reps (round_robin); account_owner keeps the account's
    current rep and round-robins the rest by region.
    """
    frame = pd.DataFrame(
        {
            "account_id": account_id.to_numpy(),
            "region": region.to_numpy(),
            "owner": account_owner.to_numpy(),
        },
        index=account_id.index,
    )
    accounts = frame.drop_duplicates("account_id").sort_values("account_id")
    if p.rule == "round_robin":
        reps = sorted({o for os in p.owners.values() for o in os}) or list(p.fallback)
        turn = np.arange(len(accounts))
        chosen = pd.Series([reps[i % len(reps)] for i in turn], index=accounts["account_id"])
        return frame["account_id"].map(chosen)
    chosen = {}
    keep = p.rule == "account_owner"
    counters: dict[str, int] = {}
    for acc, reg, own in accounts[["account_id", "region", "owner"]].itertuples(index=False):
        if keep and isinstance(own, str) and own:
            chosen[acc] = own
            continue
        local = tuple((p.owners.get(reg) if isinstance(reg, str) else None) or p.fallback)
        key = reg if isinstance(reg, str) and reg in p.owners else "_fallback"
        i = counters.get(key, 0)
        counters[key] = i + 1
        chosen[acc] = local[i % len(local)]
    return frame["account_id"].map(chosen)


def sla_due(scored_at: pd.Timestamp, p: SlaParams) -> pd.Timestamp:
    """scored_at (naive UTC) plus p.hours business hours in p.timezone; returned as naive UTC."""
    tz = ZoneInfo(p.timezone)
    t = pd.Timestamp(scored_at).tz_localize("UTC").tz_convert(tz).to_pydatetime()
    left = timedelta(hours=p.hours)
    holidays = set(p.holidays)
    for _ in range(3660):
        day = t.date()
        start = datetime(day.year, day.month, day.day, p.day_start, tzinfo=tz)
        end = (
            datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(days=1)
            if p.day_end == 24
            else datetime(day.year, day.month, day.day, p.day_end, tzinfo=tz)
        )
        if t.weekday() in p.working_days and day not in holidays and t < end:
            t = max(t, start)
            if t + left <= end:
                due = t + left
                return pd.Timestamp(due).tz_convert("UTC").tz_localize(None)
            left -= end - t
        nxt = day + timedelta(days=1)
        t = datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz)
    raise ValueError("no business hours in the next ten years: check score.routing.sla")


def rank_assets(assets: pd.DataFrame, groups: pd.DataFrame) -> pd.DataFrame:
    """Candidate assets for each (belief, persona, industry) group, best first.

    An asset suits a group when it moves the group's belief and is not made for another industry;
    it ranks higher for the lead's own industry, then for the lead's own role (then for anyone,
    then for other roles), then by how many leads consumed it recently.
    """
    rows = []
    for g in groups[["belief", "persona", "industry"]].drop_duplicates().itertuples(index=False):
        a = assets[
            (assets["belief_stage"] == g.belief)
            & (assets["industry"].isna() | (assets["industry"] == g.industry))
        ]
        if a.empty:
            continue
        own_industry = (a["industry"] == g.industry).to_numpy()
        audience = np.where(a["audience"] == g.persona, 0, np.where(a["audience"] == "any", 1, 2))
        order = np.lexsort(
            (a["asset_id"].to_numpy(), -a["popularity"].to_numpy(), audience, ~own_industry)
        )
        ranked = a.iloc[order]
        rows.append(
            pd.DataFrame(
                {
                    "belief": g.belief,
                    "persona": g.persona,
                    "industry": g.industry,
                    "asset_id": ranked["asset_id"].to_numpy(),
                    "rank": np.arange(len(ranked), dtype=np.int32),
                }
            )
        )
    if not rows:
        return pd.DataFrame(columns=["belief", "persona", "industry", "asset_id", "rank"])
    return pd.concat(rows, ignore_index=True)


def suggest_assets(
    con: ibis.BaseBackend,
    leads: pd.DataFrame,
    consumed: pd.DataFrame,
    assets: pd.DataFrame,
) -> pd.DataFrame:
    """For each lead (lead_id, belief, persona, industry), the best-ranked suitable asset it has
    not consumed: lead_id, next_asset_id, next_asset (title). Leads with none left are omitted."""
    keyed = leads.assign(
        persona=leads["persona"].fillna("unknown"), industry=leads["industry"].fillna("unknown")
    )
    cands = rank_assets(assets, keyed)
    if cands.empty or keyed.empty:
        return pd.DataFrame(columns=["lead_id", "next_asset_id", "next_asset"])
    lt = ibis.memtable(keyed[["lead_id", "belief", "persona", "industry"]])
    ct = ibis.memtable(cands)
    used = ibis.memtable(consumed[["lead_id", "asset_id"]].astype("int64"))
    x = lt.join(ct, ["belief", "persona", "industry"]).select("lead_id", "asset_id", "rank")
    x = x.anti_join(used, ["lead_id", "asset_id"])
    w = ibis.window(group_by=x.lead_id, order_by=x["rank"])
    best = x.mutate(n=ibis.row_number().over(w)).filter(lambda t: t.n == 0)
    out = con.to_pandas(best.select("lead_id", next_asset_id="asset_id"))
    titles = assets.set_index("asset_id")["title"]
    out["next_asset"] = out["next_asset_id"].map(titles)
    return out


def suggest_general(
    leads: pd.DataFrame,
    consumed: pd.DataFrame,
    assets: pd.DataFrame,
    top: int = 50,
    similar: pd.DataFrame | None = None,
    prior_leads: int = 20,
) -> pd.DataFrame:
    """For leads whose weakest belief is unknown: the asset that converting leads like this one
    consumed before they progressed past MQL, that the lead has not consumed; none when no such
    content exists (an empty next asset, not a guess). Columns as `suggest_assets`.

    "Like this one": with `similar` (LeadContext.similar) and the leads' persona and industry,
    each candidate's share of the converting leads of the lead's persona, and of its industry,
    each shrunk towards its share of all converting leads by `prior_leads` converting leads'
    worth (params score.routing.similar_prior_leads: a persona with 5 converting leads mostly
    follows everyone, one with 500 itself), averaged;
    ties (and leads of an unknown persona and industry) go to the overall count, then the more
    popular, then the lower id. Candidates are the `top` assets by overall converters."""
    empty = pd.DataFrame(columns=["lead_id", "next_asset_id", "next_asset"])
    if leads.empty or "converters" not in assets:
        return empty
    ranked = assets[assets["converters"] > 0].sort_values(
        ["converters", "popularity", "asset_id"], ascending=[False, False, True]
    )[:top]
    if ranked.empty:
        return empty
    pairs = leads[["lead_id"]].merge(
        ranked[["asset_id", "title"]].assign(rank=np.arange(len(ranked))), how="cross"
    )
    seen = consumed[["lead_id", "asset_id"]].astype("int64").assign(seen=True)
    pairs = pairs.merge(seen, on=["lead_id", "asset_id"], how="left")
    pairs = pairs[pairs["seen"].isna()]
    if similar is not None and not similar.empty and {"persona", "industry"} <= set(leads):
        pairs = pairs.assign(like=_similar_share(pairs, leads, similar, prior_leads))
        pairs = pairs.sort_values(["lead_id", "like", "rank"], ascending=[True, False, True])
    else:
        pairs = pairs.sort_values(["lead_id", "rank"])
    best = pairs.drop_duplicates("lead_id")
    return best.rename(columns={"asset_id": "next_asset_id", "title": "next_asset"})[
        ["lead_id", "next_asset_id", "next_asset"]
    ]


def _similar_share(
    pairs: pd.DataFrame, leads: pd.DataFrame, similar: pd.DataFrame, prior_leads: int
) -> np.ndarray:
    """Per (lead, candidate) row of `pairs`: the mean over the lead's persona and industry of the
    share of that segment's converting leads who consumed the candidate, shrunk towards the share
    of all converting leads."""
    overall = similar[similar["segment"] == "all"]
    n_all = float(overall["segment_leads"].max()) if len(overall) else 0.0
    prior = (
        pairs["asset_id"].map(overall.set_index("asset_id")["converters"]).fillna(0).to_numpy()
        / n_all
        if n_all
        else np.zeros(len(pairs))
    )
    m = prior_leads
    shares = []
    for segment in ("persona", "industry"):
        rows = similar[similar["segment"] == segment]
        value = pairs["lead_id"].map(leads.set_index("lead_id")[segment]).astype(object)
        key = pd.MultiIndex.from_arrays(
            [value.astype(str).to_numpy(), pairs["asset_id"].to_numpy()]
        )
        count = rows.set_index(["value", "asset_id"])["converters"].reindex(key).fillna(0)
        size = rows.drop_duplicates("value").set_index("value")["segment_leads"]
        n = value.astype(str).map(size).fillna(0).to_numpy(dtype=float)
        known = value.notna().to_numpy()
        # a known segment with no converting lead and no shrinkage (prior_leads 0): everyone's
        with np.errstate(invalid="ignore", divide="ignore"):
            own = (count.to_numpy(dtype=float) + m * prior) / (n + m)
        shares.append(np.where(known & (n + m > 0), own, prior))
    return (shares[0] + shares[1]) / 2


def fill(template: str, **values: object) -> str:
    """A params template with {names} filled in; unknown names stay as they are."""

    class _Keep(dict):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    clean = {
        k: (
            "their"
            if v is None or (isinstance(v, float) and np.isnan(v))
            else str(v).replace("_", " ")
        )
        for k, v in values.items()
    }
    return template.format_map(_Keep(clean))
