"""Score every open lead: probabilities per gate, readiness stage, expected revenue, drivers, the
weakest belief, the route and, for sales routes, the handoff; then roll leads up to accounts.

`score_leads` is a pure function of the model, the scoring snapshot's features, the lead context
and params; `pipelines/score/stage.py` does the reading and writing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from features.catalog import Feature
from models.bundle import ReadinessModel
from models.explain import GateAttribution, belief_contributions, top_drivers
from models.timing import when_text
from pipelines.score import routing as r
from pipelines.score.context import LeadContext, describe_event, touch_text
from readiness.domain import BELIEFS
from readiness.params import ScoreParams
from readiness.scores import (
    HANDOFF_COLUMNS,
    NO_STAGE,
    UNKNOWN_BELIEF,
    probability_column,
)

log = logging.getLogger(__name__)


@dataclass
class ScoreResult:
    leads: pd.DataFrame
    accounts: pd.DataFrame
    timings: dict[str, float]
    # leads whose weakest belief is unknown, by reason
    unknown_beliefs: dict[str, int]
    # per gate, the open leads whose probability coherence lowered to an earlier gate's
    ladder_caps: dict[str, dict]


def thresholds_of(p: ScoreParams, ladder: tuple[str, ...]) -> dict[str, float]:
    return {g: float(p.thresholds.get(g, 0.5)) for g in ladder}


def readiness_stage(
    probs: pd.DataFrame, ladder: tuple[str, ...], thresholds: dict[str, float]
) -> np.ndarray:
    """The furthest gate whose probability reaches its threshold ('none' when no gate does)."""
    out = np.full(len(probs), NO_STAGE, dtype=object)
    for g in ladder:
        out[probs[probability_column(g)].to_numpy() >= thresholds[g]] = g
    return out


def explain(
    model: ReadinessModel,
    X: pd.DataFrame,
    next_rank: np.ndarray,
    catalog: tuple[Feature, ...],
    k: int,
    belief_gate: str,
) -> tuple[list[list[str]], pd.DataFrame]:
    """Drivers of each lead's next gate (plain language), and per-belief contributions to
    `belief_gate` (the sales gate): the weakest belief is what most holds the lead back from a
    sales conversation, whatever gate it is at."""
    M = X[model.features].astype(float)
    attributions = {
        g: a
        for g, m in model.gates.items()
        if (a := GateAttribution.of(m, model.features)) is not None
    }
    contrib = np.zeros((len(X), len(model.features)), dtype=np.float32)
    for rank, gate in enumerate(model.ladder):
        rows = np.flatnonzero(next_rank == rank)
        if len(rows) and gate in attributions:
            contrib[rows] = attributions[gate].contributions(M.iloc[rows])
    drivers = top_drivers(contrib, M, catalog, model.features, k)
    if belief_gate not in attributions:
        return drivers, belief_contributions(np.zeros_like(contrib), catalog, model.features)
    belief_rank = model.ladder.index(belief_gate)
    other = np.flatnonzero(next_rank != belief_rank)
    if len(other):
        contrib[other] = attributions[belief_gate].contributions(M.iloc[other])
    return drivers, belief_contributions(contrib, catalog, model.features)


def weakest_beliefs(
    beliefs: pd.DataFrame, X: pd.DataFrame, unavailable: dict[str, str]
) -> tuple[np.ndarray, dict[str, int]]:
    """Per lead, the belief whose signals hold it back most (the lowest summed contribution of
    its features), or UNKNOWN_BELIEF when the data cannot say, with how many leads are unknown
    for each reason: a belief family the data cannot feed is never named; a lead that consumed no
    belief-tagged content, or whose beliefs the model does not use, has no weakest belief."""
    available = [b for b in BELIEFS if b not in unavailable]
    names = np.full(len(beliefs), UNKNOWN_BELIEF, dtype=object)
    why: dict[str, int] = {}
    if not available:
        # one reason for every belief (the belief counts show no signal), or the data's own
        reasons = {unavailable[b] for b in BELIEFS}
        reason = reasons.pop() if len(reasons) == 1 else "no consumed content carries a belief tag"
        if len(names):
            why[reason] = len(names)
        return names, why
    values = beliefs[available].to_numpy()
    content = [f"{b}_content_all" for b in available if f"{b}_content_all" in X]
    consumed = (
        X[content].to_numpy(dtype=float).sum(axis=1) > 0 if content else np.ones(len(X), bool)
    )
    used = (values != 0).any(axis=1)
    known = consumed & used
    names[known] = np.array(available, dtype=object)[values[known].argmin(axis=1)]
    for reason, rows in (
        ("the lead consumed no belief-tagged content", ~consumed),
        ("the model uses no belief signal for the lead", consumed & ~used),
    ):
        if rows.any():
            why[reason] = int(rows.sum())
    return names, why


def score_leads(
    model: ReadinessModel,
    X: pd.DataFrame,
    *,
    ctx: LeadContext,
    catalog: tuple[Feature, ...],
    deal_size: dict,
    p: ScoreParams,
    scored_at: pd.Timestamp,
    con: ibis.BaseBackend,
    unavailable: dict[str, str] | None = None,
) -> ScoreResult:
    """Scores, routes and handoffs for the open leads of the scoring snapshot X; `unavailable`:
    the feature families the data cannot feed (catalog.json), with the reason."""
    unavailable = unavailable or {}
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    ladder = model.ladder
    thresholds = thresholds_of(p, ladder)
    X = X.reset_index(drop=True)
    probs, caps = model.predict_with_caps(X)
    timings["predict"] = time.perf_counter() - t0

    crossed = (
        X["ladder_stage"].to_numpy().astype(int) if "ladder_stage" in X else np.zeros(len(X), int)
    )
    next_rank = np.minimum(crossed, len(ladder) - 1)
    t1 = time.perf_counter()
    drivers, beliefs = explain(model, X, next_rank, catalog, p.top_drivers, p.routing.sales_gate)
    timings["drivers"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    ctx_leads = ctx.leads.set_index("lead_id").reindex(X["lead_id"]).reset_index()
    out = pd.DataFrame(
        {
            "lead_id": X["lead_id"].astype("int64"),
            "account_id": X["account_id"].astype("int64"),
            "scored_at": pd.Timestamp(scored_at),
            "current_stage": np.array([NO_STAGE, *ladder], dtype=object)[crossed],
        }
    )
    for g in ladder:
        out[probability_column(g)] = probs[probability_column(g)].to_numpy()
    # when: each gate's probability within shorter horizons and the median days to it
    times = model.time_to_threshold(X, probs)
    for c, values in times.items():
        out[c] = values.to_numpy()
    out["readiness_stage"] = readiness_stage(probs, ladder, thresholds)
    out["next_gate"] = np.array(ladder, dtype=object)[next_rank]
    # the same in words for the next gate: a blank days_<gate> is unlikely or unknown, said so
    out["next_gate_when"] = when_text(times, probs, model.timing, ladder, next_rank, crossed)
    p_next = probs.to_numpy()[np.arange(len(X)), next_rank]
    out["p_next_gate"] = p_next
    sizes = deal_size.get("by_employee_band", {})
    overall = deal_size.get("overall_mean")  # None: no won deal to size by; revenue unknown
    band_size = (
        ctx_leads["employee_band"]
        .map(sizes)
        .fillna(np.nan if overall is None else overall)
        .to_numpy(float)
    )
    last = probability_column(ladder[-1])
    out["expected_revenue"] = np.round(probs[last].to_numpy() * band_size, 2)
    for j in range(p.top_drivers):
        out[f"driver_{j + 1}"] = [row[j] if j < len(row) and row[j] else None for row in drivers]
    out["weakest_belief"], unknown_why = weakest_beliefs(beliefs, X, unavailable)
    for col in ("persona", "industry", "region", "employee_band"):
        out[col] = ctx_leads[col].to_numpy()

    # routes, in the order of params.yaml's comment
    rp = p.routing
    sales_rank = ladder.index(rp.sales_gate)
    dq, reasons = r.disqualify(X, rp.disqualifiers)
    # idle since the last engaged action, or since creation for a lead that never engaged (a
    # flat export's leads, created the day before its as-of date, are never idle)
    last_engaged = pd.to_datetime(ctx_leads["last_engaged_at"]).fillna(
        pd.to_datetime(ctx_leads["created_at"])
    )
    idle_days = ((pd.Timestamp(scored_at) - last_engaged).dt.days).fillna(10**6).to_numpy()
    with_sales = crossed > sales_rank
    sales_now = probs[probability_column(rp.sales_gate)].to_numpy() >= thresholds[rp.sales_gate]
    dormant = (idle_days >= rp.dormant_after_days) & (p_next < rp.dormant_below)
    route = np.where(
        dq,
        r.DISQUALIFIED,
        np.where(
            with_sales,
            r.WITH_SALES,
            np.where(
                sales_now,
                r.SALES_NOW,
                np.where(
                    dormant,
                    r.DORMANT,
                    np.where(
                        out["weakest_belief"].to_numpy() == UNKNOWN_BELIEF,
                        rp.general_route,
                        "nurture_" + out["weakest_belief"].astype(str).to_numpy(),
                    ),
                ),
            ),
        ),
    ).astype(object)
    out["route"] = route
    out["disqualifiers"] = [x or None for x in reasons]
    timings["route"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    nurture = (
        out["route"].str.startswith("nurture_") & (out["route"] != rp.general_route)
    ).to_numpy()
    want = out.loc[nurture, ["lead_id", "weakest_belief", "persona", "industry"]].rename(
        columns={"weakest_belief": "belief"}
    )
    sug = r.suggest_assets(con, want, ctx.consumed, ctx.assets)
    general = out.loc[out["route"] == rp.general_route, ["lead_id", "persona", "industry"]]
    sug = pd.concat(
        [
            sug,
            r.suggest_general(
                general,
                ctx.consumed,
                ctx.assets,
                similar=ctx.similar,
                prior_leads=rp.similar_prior_leads,
            ),
        ]
    ).set_index("lead_id")
    out["next_asset_id"] = out["lead_id"].map(sug["next_asset_id"]).astype("Int64")
    out["next_asset"] = out["lead_id"].map(sug["next_asset"]).astype(object)
    timings["next_asset"] = time.perf_counter() - t3

    t4 = time.perf_counter()
    out = _handoff(out, ctx, drivers, p, scored_at)
    timings["handoff"] = time.perf_counter() - t4
    accounts = account_view(out, X, ladder, rp.sales_gate)
    timings["total"] = time.perf_counter() - t0
    return ScoreResult(
        out, accounts, {k: round(v, 3) for k, v in timings.items()}, unknown_why, caps
    )


def _handoff(
    out: pd.DataFrame,
    ctx: LeadContext,
    drivers: list[list[str]],
    p: ScoreParams,
    scored_at: pd.Timestamp,
) -> pd.DataFrame:
    """The handoff context of every sales_now lead (empty for other routes)."""
    rp = p.routing
    out = out.copy()
    for col in HANDOFF_COLUMNS:
        out[col] = None
    out["sla_due"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    sel = np.flatnonzero(out["route"].to_numpy() == r.SALES_NOW)
    if len(sel) == 0:
        return out
    ids = out["lead_id"].to_numpy()[sel]
    priority = {e: i for i, e in enumerate(rp.trigger_events)}
    trig = ctx.triggers[ctx.triggers["lead_id"].isin(ids)].copy()
    trig["priority"] = trig["event_type"].map(priority)
    trig = trig.sort_values(["lead_id", "priority", "occurred_at"], ascending=[True, True, False])
    trig = trig.drop_duplicates("lead_id").set_index("lead_id")
    top = ctx.top_assets.set_index("lead_id")
    touches = ctx.touches[ctx.touches["lead_id"].isin(ids)].sort_values(["lead_id", "n"])
    touch_lines = {
        lead: " | ".join(
            touch_text(k, t, w)
            for k, t, w in g[["kind", "title", "occurred_at"]].itertuples(index=False)
        )
        for lead, g in touches.groupby("lead_id", sort=False)
    }
    checked = r.disqualifiers_checked(rp.disqualifiers)
    triggers, openers, hypotheses, lines = [], [], [], []
    for i, lead in zip(sel, ids, strict=True):
        industry, persona = out.at[i, "industry"], out.at[i, "persona"]
        if lead in trig.index:
            t = trig.loc[lead]
            date = pd.Timestamp(t["occurred_at"]).strftime("%Y-%m-%d")
            triggers.append(f"{describe_event(t['event_type'], t['title'])} on {date}")
            openers.append(
                r.fill(
                    rp.openers.get(t["event_type"], rp.openers["default"]),
                    title=t["title"],
                    date=date,
                    industry=industry,
                )
            )
        else:
            positive = next((d for d in drivers[i] if d and d.startswith("+")), drivers[i][0] or "")
            triggers.append(f"readiness driver: {positive.removeprefix('+ ')}")
            openers.append(r.fill(rp.openers["default"], industry=industry))
        if lead in top.index:
            belief, title = top.at[lead, "belief_stage"], top.at[lead, "title"]
        else:
            belief, title = "general", "no content yet"
        hypotheses.append(
            r.fill(
                rp.hypotheses.get(belief, rp.hypotheses["general"]),
                title=title,
                industry=industry,
                persona=persona,
            )
        )
        lines.append(touch_lines.get(lead, "no touches yet"))
    out.loc[sel, "trigger"] = triggers
    out.loc[sel, "problem_hypothesis"] = hypotheses
    out.loc[sel, "disqualifiers_checked"] = checked
    out.loc[sel, "last_touches"] = lines
    out.loc[sel, "opener"] = openers
    owner_of = ctx.leads.set_index("lead_id")["account_owner"]
    part = out.iloc[sel]
    out.loc[sel, "owner"] = r.assign_owners(
        part["account_id"], part["region"], part["lead_id"].map(owner_of), rp.assignment
    ).to_numpy()
    out.loc[sel, "sla_due"] = r.sla_due(scored_at, rp.sla)
    return out


def account_view(
    leads: pd.DataFrame, X: pd.DataFrame, ladder: tuple[str, ...], sales_gate: str
) -> pd.DataFrame:
    """One row per account with open leads: its readiness, committee breadth, most ready lead.

    Account readiness for the sales gate is the chance that at least one of its open leads
    crosses it (leads taken as independent, so it is an upper estimate next to the max); the
    account's route is the route of its most ready lead that is not disqualified.
    """
    ps = probability_column(sales_gate)
    df = leads[["lead_id", "account_id", ps, "expected_revenue", "route"]].copy()
    df["disq"] = df["route"] == r.DISQUALIFIED
    df["sales_now"] = (df["route"] == r.SALES_NOW).astype(int)
    df["breadth"] = (
        X["account_personas_engaged"].to_numpy() if "account_personas_engaged" in X else 0.0
    )
    df["stakeholders"] = (
        X["account_stakeholder_personas"].to_numpy() if "account_stakeholder_personas" in X else 0.0
    )
    df["log_miss"] = np.log1p(-np.clip(df[ps].to_numpy(), 0, 1 - 1e-12))
    best = df.sort_values(
        ["account_id", "disq", ps, "lead_id"], ascending=[True, True, False, True]
    )
    best = best.drop_duplicates("account_id").set_index("account_id")
    g = df.groupby("account_id")
    acc = pd.DataFrame(
        {
            "open_leads": g.size(),
            f"p_any_lead_{sales_gate}": 1 - np.exp(g["log_miss"].sum()),
            f"p_max_{sales_gate}": g[ps].max(),
            "committee_breadth": g["breadth"].max().astype(int),
            "stakeholder_personas": g["stakeholders"].max().astype(int),
            "sales_now_leads": g["sales_now"].sum(),
            "expected_revenue": g["expected_revenue"].max(),
        }
    )
    acc["most_ready_lead_id"] = best["lead_id"].astype("int64")
    acc["route"] = best["route"]
    return acc.reset_index()
