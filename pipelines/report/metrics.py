"""The report's numbers: the funnel between gates, metrics backward from revenue, where buyers
stall, what drives readiness and this run's routing.

Pure functions of frames (no I/O), each small enough to be checked against a hand computation
on a tiny inline dataset (tests/pipelines/report/).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features.catalog import Feature
from models.explain import GateAttribution, PathAttribution
from models.timing import not_crossed
from readiness.domain import BELIEFS, SEGMENT_OF_BAND, STAKEHOLDER_AUDIENCES
from readiness.scores import (
    UNKNOWN_BELIEF,
    days_column,
    horizon_column,
    horizons_in,
    probability_column,
)


def first_crossings(milestones: pd.DataFrame, ladder: tuple[str, ...]) -> pd.DataFrame:
    """One row per lead that crossed any gate: the first time it crossed each (NaT if never)."""
    m = milestones[milestones["milestone"].isin(ladder)]
    wide = m.groupby(["lead_id", "milestone"])["occurred_at"].min().unstack("milestone")
    return wide.reindex(columns=list(ladder))


def funnel_by_cohort(
    leads: pd.DataFrame, crossings: pd.DataFrame, ladder: tuple[str, ...], freq: str = "Q"
) -> pd.DataFrame:
    """Per creation cohort of leads: leads, how many reached each gate, the conversion from each
    gate to the next, and the median days between them (for leads that crossed both).

    A lead counts as reaching a gate when it crossed it at any time; conversion from gate k to
    k+1 is reached(k+1) / reached(k) among the cohort's leads."""
    df = leads[["lead_id", "created_at"]].merge(
        crossings, left_on="lead_id", right_index=True, how="left"
    )
    df["cohort"] = df["created_at"].dt.to_period(freq).astype(str)
    rows = []
    for cohort, g in df.groupby("cohort", sort=True):
        row: dict[str, Any] = {"cohort": cohort, "leads": len(g)}
        for gate in ladder:
            row[f"reached_{gate}"] = int(g[gate].notna().sum())
        prev = "leads"
        for i, gate in enumerate(ladder):
            base = row[prev] if prev == "leads" else row[f"reached_{prev}"]
            row[f"conv_{'created' if prev == 'leads' else prev}_to_{gate}"] = (
                row[f"reached_{gate}"] / base if base else np.nan
            )
            start = g["created_at"] if i == 0 else g[ladder[i - 1]]
            days = (g[gate] - start).dt.total_seconds() / 86400
            row[f"median_days_to_{gate}"] = float(days.median()) if days.notna().any() else np.nan
            prev = gate
        rows.append(row)
    return pd.DataFrame(rows)


def revenue_metrics(
    opportunities: pd.DataFrame,
    accounts: pd.DataFrame,
    freq: str = "Q",
) -> dict[str, pd.DataFrame]:
    """Win rate, revenue, deal size, sales cycle and pipeline velocity by segment and by the
    quarter the opportunity was created. Pipeline velocity = opportunities x win rate x mean won
    deal / median days to close (revenue per day the pipeline produces)."""
    opp = opportunities.merge(
        accounts[["account_id", "employee_band"]], on="account_id", how="left"
    )
    opp["segment"] = opp["employee_band"].map(SEGMENT_OF_BAND).fillna("unknown")
    opp["cohort"] = opp["created_at"].dt.to_period(freq).astype(str)
    opp["cycle_days"] = (opp["closed_at"] - opp["created_at"]).dt.total_seconds() / 86400

    def table(by: str) -> pd.DataFrame:
        rows = []
        for key, g in opp.groupby(by, sort=True):
            closed = g[g["outcome"] != "open"]
            won = g[g["outcome"] == "won"]
            win_rate = len(won) / len(closed) if len(closed) else np.nan
            deal = float(won["amount"].mean()) if len(won) else np.nan
            cycle = float(closed["cycle_days"].median()) if len(closed) else np.nan
            rows.append(
                {
                    by: key,
                    "opportunities": len(g),
                    "closed": len(closed),
                    "won": len(won),
                    "win_rate": win_rate,
                    "revenue": float(won["amount"].sum()),
                    "mean_won_deal": deal,
                    "median_cycle_days": cycle,
                    "pipeline_velocity_per_day": len(g) * win_rate * deal / cycle
                    if len(won) and cycle and cycle > 0
                    else np.nan,
                }
            )
        return pd.DataFrame(rows)

    return {"by_segment": table("segment"), "by_cohort": table("cohort")}


def gate_rates(crossings: pd.DataFrame, ladder: tuple[str, ...]) -> dict:
    """Rates backward from revenue over all leads that became MQLs: the share of them that
    crossed each later gate of the ladder (none when mql is not on it, or no lead became one)."""
    if "mql" not in ladder or "mql" not in crossings:
        return {}
    mql = crossings["mql"].notna()
    if not mql.any():
        return {}
    later = ladder[ladder.index("mql") + 1 :]
    return {
        "mqls": int(mql.sum()),
        "from_mql": {
            g: float(crossings.loc[mql, g].notna().mean()) for g in later if g in crossings
        },
    }


# what crossing a gate means, in a sentence about MQLs
_CROSSED = {
    "sales_accepted": "were accepted by sales",
    "qualified_conversation": "had a qualified conversation",
    "opportunity": "became opportunities",
    "closed_won": "were won",
}


def gate_rates_text(rates: dict) -> str | None:
    """ "Of 1,204 MQLs, 41.0 % were accepted by sales and 12.3 % became opportunities." from
    gate_rates; None when there is nothing to say (no MQL, or no gate after mql)."""
    parts = [
        f"{share:.1%} {_CROSSED.get(g, 'crossed ' + g)}"
        for g, share in rates.get("from_mql", {}).items()
    ]
    if not parts:
        return None
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Of {rates['mqls']:,} MQLs, {listed}."


def urgency_among_interested(
    events: pd.DataFrame, assets: pd.DataFrame, crossings: pd.DataFrame
) -> pd.DataFrame:
    """Of the leads that became MQLs ("interested"), how many consumed urgency content before
    their MQL, split by whether they later reached an opportunity."""
    if "mql" not in crossings or "opportunity" not in crossings:
        return pd.DataFrame()
    urgent_ids = assets.loc[assets["belief_stage"] == "urgency", "asset_id"]
    e = events[events["asset_id"].isin(urgent_ids)]
    if e.empty:  # no consumed content is tagged urgency: unknown, not "nobody read any"
        return pd.DataFrame()
    first = e.groupby("lead_id")["occurred_at"].min()
    mql = crossings[crossings["mql"].notna()].copy()
    mql["urgency_before_mql"] = mql.index.map(first) < mql["mql"]
    mql["reached_opportunity"] = mql["opportunity"].notna()
    rows = []
    for reached, g in mql.groupby("reached_opportunity"):
        rows.append(
            {
                "mqls": "reached an opportunity" if reached else "did not (yet)",
                "leads": len(g),
                "consumed_urgency_before_mql": int(g["urgency_before_mql"].sum()),
                "share": float(g["urgency_before_mql"].mean()),
            }
        )
    rows.append(
        {
            "mqls": "all",
            "leads": len(mql),
            "consumed_urgency_before_mql": int(mql["urgency_before_mql"].sum()),
            "share": float(mql["urgency_before_mql"].mean()) if len(mql) else np.nan,
        }
    )
    return pd.DataFrame(rows)


def stakeholder_accounts(
    events: pd.DataFrame, assets: pd.DataFrame, leads: pd.DataFrame, opportunities: pd.DataFrame
) -> pd.DataFrame:
    """Accounts whose people downloaded internal-selling (stakeholder) assets, and the win rate
    of their closed opportunities next to the other accounts' (unknown, not 0, when the data
    holds no deal at all: an export without an opportunities table)."""
    stake = assets.loc[assets["audience"].isin(STAKEHOLDER_AUDIENCES), "asset_id"]
    d = events[(events["event_type"] == "asset_download") & events["asset_id"].isin(stake)]
    acc = set(leads.loc[leads["lead_id"].isin(d["lead_id"]), "account_id"])
    all_acc = set(leads["account_id"])
    closed = opportunities[opportunities["outcome"] != "open"].copy()
    closed["stakeholder"] = closed["account_id"].isin(acc)
    rows = []
    for flag, label in ((True, "downloaded stakeholder assets"), (False, "did not")):
        n_acc = len(acc) if flag else len(all_acc - acc)
        g = closed[closed["stakeholder"] == flag]
        rows.append(
            {
                "accounts": label,
                "count": n_acc,
                "share_of_accounts": n_acc / len(all_acc) if all_acc else np.nan,
                "closed_opportunities": len(g) if len(opportunities) else np.nan,
                "win_rate": float((g["outcome"] == "won").mean()) if len(g) else np.nan,
            }
        )
    return pd.DataFrame(rows)


def time_to_threshold(leads: pd.DataFrame, crossings: pd.DataFrame) -> pd.DataFrame:
    """Days from lead creation to MQL for MQLs that went on to an opportunity and for those that
    stalled (no opportunity yet): quartiles."""
    if "mql" not in crossings or "opportunity" not in crossings:
        return pd.DataFrame()
    m = crossings[crossings["mql"].notna()].join(
        leads.set_index("lead_id")["created_at"], how="left"
    )
    m["days"] = (m["mql"] - m["created_at"]).dt.total_seconds() / 86400
    m["group"] = np.where(m["opportunity"].notna(), "converted to opportunity", "stalled after MQL")
    q = m.groupby("group")["days"].describe(percentiles=[0.25, 0.5, 0.75])
    return (
        q[["count", "25%", "50%", "75%"]]
        .rename(
            columns={"count": "leads", "25%": "p25_days", "50%": "median_days", "75%": "p75_days"}
        )
        .reset_index()
    )


def open_lead_timing(scores: pd.DataFrame, ladder: tuple[str, ...]) -> pd.DataFrame:
    """Per gate, over the open leads that have not crossed it: the expected crossings within each
    time-to-threshold horizon and within the readiness horizon (sums of probabilities), the leads
    more likely than not to cross within it and their median days; empty when the run has no
    time to threshold, a gate's row blank where its timing is unknown."""
    horizons = horizons_in(scores.columns, ladder)
    if not horizons:
        return pd.DataFrame()
    rows = []
    for g in ladder:
        ahead = scores[not_crossed(scores, ladder, g)]
        curve = ahead[[horizon_column(g, h) for h in horizons]]
        known = curve.notna().all(axis=1).any()
        days = ahead[days_column(g)] if days_column(g) in ahead else pd.Series(dtype=float)
        rows.append(
            {
                "gate": g,
                "open_leads": len(ahead),
                **{
                    f"expected_within_{h}d": float(curve[horizon_column(g, h)].sum())
                    if known
                    else np.nan
                    for h in horizons
                },
                "expected_within_horizon": float(ahead[probability_column(g)].sum()),
                "likely_within_horizon": int(days.notna().sum()) if known else np.nan,
                "median_days_if_likely": float(days.median()) if days.notna().any() else np.nan,
            }
        )
    return pd.DataFrame(rows)


def stalled_beliefs(scores: pd.DataFrame) -> pd.DataFrame:
    """Open leads by the stage they stand at and the belief that holds them back (shares per
    stage; `unknown` where the data cannot name one); leads already with sales or disqualified
    are left out."""
    s = scores[~scores["route"].isin(["with_sales", "disqualified"])]
    t = pd.crosstab(s["current_stage"], s["weakest_belief"], normalize="index")
    t = t.reindex(columns=[*BELIEFS, UNKNOWN_BELIEF], fill_value=0.0)
    order = ["none", *[g for g in scores["next_gate"].unique() if g != "none"]]
    order = [x for x in dict.fromkeys(order + list(t.index)) if x in t.index]
    t = t.loc[order]
    t.insert(0, "open_leads", s["current_stage"].value_counts().reindex(t.index))
    return t.reset_index()


def routing_tables(scores: pd.DataFrame) -> dict[str, pd.DataFrame]:
    routes = scores["route"].value_counts().rename_axis("route").reset_index(name="leads")
    routes["share"] = routes["leads"] / len(scores)
    sales = scores[scores["route"] == "sales_now"]
    owners = (
        sales.groupby("owner")
        .agg(
            sales_now_leads=("lead_id", "size"),
            first_sla_due=("sla_due", "min"),
            mean_readiness=("p_next_gate", "mean"),
        )
        .sort_values("sales_now_leads", ascending=False)
        .reset_index()
    )
    load = (
        sales.assign(due=sales["sla_due"].dt.floor("h"))
        .groupby("due")
        .size()
        .rename("leads_due")
        .reset_index()
    )
    return {"routes": routes, "owners": owners, "sla_load": load}


def driver_importance(
    attribution: GateAttribution | PathAttribution,
    X: pd.DataFrame,
    features: list[str],
    catalog: tuple[Feature, ...],
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Global drivers of one gate over the rows of X: per feature how much it moves readiness
    between these leads (the mean absolute deviation of its contribution from its mean over X,
    log-odds: a feature that shifts every lead alike, such as the stage they all stand at,
    separates none of them), the direction in which higher values move readiness (the sign of
    the correlation between value and contribution), and the same summed per family. Also
    returns the centred contributions (for segment views)."""
    c = attribution.contributions(X[features].astype(float))
    c = c - c.mean(axis=0, keepdims=True)
    by = {f.name: f for f in catalog}
    values = X[features].to_numpy(dtype=float)
    direction = []
    for j in range(len(features)):
        known = np.isfinite(values[:, j]) & np.isfinite(c[:, j])  # a blank attribute: unknown
        v, cj = values[known, j], c[known, j]
        if len(v) < 2 or v.std() == 0 or cj.std() == 0:
            direction.append(0)
        else:
            direction.append(int(np.sign(np.corrcoef(v, cj)[0, 1])))
    feats = pd.DataFrame(
        {
            "feature": features,
            "description": [by[f].description for f in features],
            "family": [by[f].family for f in features],
            "mean_abs_contribution": np.abs(c).mean(axis=0),
            "direction": direction,
        }
    ).sort_values("mean_abs_contribution", ascending=False, ignore_index=True)
    fam = (
        feats.groupby("family")["mean_abs_contribution"]
        .sum()
        .sort_values(ascending=False)
        .reset_index()
    )
    fam["share"] = fam["mean_abs_contribution"] / fam["mean_abs_contribution"].sum()
    return feats, fam, c


def drivers_by_segment(
    contributions: np.ndarray,
    X: pd.DataFrame,
    features: list[str],
    catalog: tuple[Feature, ...],
    segments: dict[str, pd.Series],
) -> pd.DataFrame:
    """For each value of each segment column: the family and the feature that move readiness
    most there (mean absolute contribution), the belief that moves it most and the beliefs'
    share of the attribution, with the segment's rows."""
    fam_of = np.array([{f.name: f.family for f in catalog}[n] for n in features])
    desc = {f.name: f.description for f in catalog}
    rows = []
    absval = np.abs(contributions)
    beliefs = np.isin(fam_of, BELIEFS)
    for seg, labels in segments.items():
        lab = labels.to_numpy()
        for value in pd.unique(lab):
            if pd.isna(value):
                continue
            sel = lab == value
            if sel.sum() < 30:
                continue
            m = absval[sel].mean(axis=0)
            fams = pd.Series(m).groupby(fam_of).sum().sort_values(ascending=False)
            top = int(np.argmax(m))
            belief = fams[fams.index.isin(BELIEFS)]
            # rounding residue (1e-32 where a constant feature meets a coefficient) is nothing
            belief = belief[belief > 1e-9 * fams.sum()]
            rows.append(
                {
                    "segment": seg,
                    "value": value,
                    "rows": int(sel.sum()),
                    "top_family": fams.index[0],
                    "top_family_share": float(fams.iloc[0] / fams.sum()),
                    # no belief attribution at all: which belief is strongest is unknown
                    "strongest_belief": belief.index[0] if len(belief) else "unknown",
                    "belief_share": float(belief.sum() / fams.sum())
                    if beliefs.any() and len(belief)
                    else np.nan,
                    "top_feature": desc[features[top]],
                }
            )
    return pd.DataFrame(rows)
