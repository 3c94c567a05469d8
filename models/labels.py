"""Labels backward from revenue: for every snapshot and gate, did the lead cross it in time?

For a snapshot (lead, cutoff) and a gate of the ladder, the label is
- 1 when the lead's milestone for the gate falls in [cutoff, cutoff + horizon) (and, for a
  revenue-anchored gate, its account wins a deal within `follow_through_days` after the crossing),
- 0 when it does not and the whole window is inside the data,
- missing when the snapshot is not at risk (the lead crossed the gate before the cutoff) or is
  censored (the window runs past the end of the data and the label is not already known to be 1).

Beside each label, `t_<gate>`: the days from the cutoff to the crossing when the lead crossed
the gate at or after the cutoff (within the data, any horizon), missing otherwise: what the
time-to-threshold model (models/timing.py) learns and is judged on. Missing on a flat export
(no dates).

On a flat export (readiness/raw/flat.py: one snapshot per lead, outcomes dated on its as-of date)
the label is the export's own outcome: 1 when it records the gate, 0 when not; never censored.

The label table carries the settings that made it (`LabelSettings`), so it can be reproduced.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from features.schemas import SnapshotSchema
from readiness.domain import ladder_ranks
from readiness.raw.io import lost_reach

LABEL_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class LabelSettings:
    ladder: tuple[str, ...]
    horizon_days: int
    revenue_anchored: tuple[str, ...]
    follow_through_days: int
    end_of_data: str
    feature_windows: tuple[int, ...]
    catalog_version: str
    schema_version: int = LABEL_SCHEMA_VERSION
    flat: bool = False  # a flat export: a gate the export records is a positive, never censored

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> LabelSettings:
        raw = json.loads(text)
        return cls(
            **{
                **raw,
                "ladder": tuple(raw["ladder"]),
                "revenue_anchored": tuple(raw["revenue_anchored"]),
                "feature_windows": tuple(raw["feature_windows"]),
            }
        )


def label_column(gate: str) -> str:
    return f"y_{gate}"


def crossing_days_column(gate: str) -> str:
    """The label table's column of days from the cutoff to the gate's crossing."""
    return f"t_{gate}"


def censor_lost(
    labels: pd.DataFrame, lost: pd.DataFrame, ladder: tuple[str, ...]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """`labels` with every label of a lead made unknown at a gate it reached by a milestone whose
    row was quarantined (`lost`: lead_id, milestone; readiness/raw/io.lost_milestones), and
    at each gate before it (the ladder is cumulative): the export says the lead crossed, but not
    usably when, so a 0 there would teach the model a converter as a non-converter. Returns the
    labels and, per gate, how many labelled snapshots became unknown."""
    top = lost_reach(lost, ladder)
    if top.empty:
        return labels, {}
    lead_top = labels["lead_id"].map(top).to_numpy()
    out = labels.copy()
    dropped = {}
    for k, gate in enumerate(ladder, start=1):
        hit = lead_top >= k  # NaN (no lost milestone) compares False
        y = label_column(gate)
        n = int((hit & out[y].notna().to_numpy()).sum())
        if n:
            out.loc[hit, y] = pd.NA
            out.loc[hit, crossing_days_column(gate)] = np.nan
            dropped[gate] = n
    return out, dropped


def make_labels(
    snapshots: pd.DataFrame,
    milestones: pd.DataFrame,
    opportunities: pd.DataFrame,
    settings: LabelSettings,
) -> pd.DataFrame:
    """One row per snapshot: lead_id, account_id, cutoff, a nullable 0/1 label per gate and the
    days to its crossing (when it was crossed at or after the cutoff)."""
    end = pd.Timestamp(settings.end_of_data)
    horizon = pd.Timedelta(days=settings.horizon_days)
    follow = pd.Timedelta(days=settings.follow_through_days)
    out = snapshots[["lead_id", "account_id", "cutoff"]].reset_index(drop=True).copy()
    cutoff = out["cutoff"]
    won = opportunities[(opportunities["outcome"] == "won") & opportunities["closed_at"].notna()]
    # the ladder is cumulative (DESIGN.md: P(gate k+1) <= P(gate k)): a lead crosses a gate
    # when it reaches it or any later milestone of the journey, as the features' ladder_stage
    # counts it (an export that records an opportunity but not the mql before it)
    rank = milestones["milestone"].map(ladder_ranks(settings.ladder))
    for k, gate in enumerate(settings.ladder, start=1):
        crossed_at = milestones.loc[rank >= k].groupby("lead_id")["occurred_at"].min()
        # a gate no lead crossed: no times (pandas cannot map onto an empty series of them)
        t = (
            out["lead_id"].map(crossed_at)
            if len(crossed_at)
            else pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
        )
        at_risk = t.isna() | (t >= cutoff)
        if settings.flat:  # the export's outcome as of its date: no window, nothing censored
            positive = t.notna() & (t >= cutoff)
            if gate in settings.revenue_anchored:
                won_at = _first_win_after(out["account_id"], t.astype("datetime64[ns]"), won)
                positive &= won_at.notna()
            known = at_risk
            out[label_column(gate)] = _nullable(positive, known)
            out[crossing_days_column(gate)] = np.nan  # no dates: no time to the crossing
            continue
        in_window = t.notna() & (t >= cutoff) & (t < cutoff + horizon)
        window_known = cutoff + horizon <= end
        if gate in settings.revenue_anchored:
            first_win = _first_win_after(out["account_id"], t.astype("datetime64[ns]"), won)
            revenue = in_window & first_win.notna() & (first_win <= t + follow) & (first_win < end)
            # a crossing whose follow-through window is not over yet is not known to fail
            anchored_known = ~in_window | revenue | (t + follow <= end)
            positive = revenue
            known = (positive | (window_known & anchored_known)) & at_risk
        else:
            positive = in_window
            known = (positive | window_known) & at_risk
        out[label_column(gate)] = _nullable(positive, known)
        ahead = t.notna() & (t >= cutoff)
        out[crossing_days_column(gate)] = ((t - cutoff).dt.total_seconds() / 86400.0).where(ahead)
    return out


def _nullable(positive: pd.Series, known: pd.Series) -> pd.arrays.IntegerArray:
    """0/1 where the label is known, missing elsewhere."""
    values = pd.array(np.where(known, positive.astype(int), 0), dtype="Int8")
    values[~known.to_numpy()] = pd.NA
    return values


def _first_win_after(accounts: pd.Series, times: pd.Series, won: pd.DataFrame) -> pd.Series:
    """The account's first won deal closed at or after each time (NaT when none)."""
    left = pd.DataFrame(
        {"account_id": accounts.to_numpy(), "t": times.to_numpy(), "row": np.arange(len(accounts))}
    )
    left = left.dropna(subset=["t"]).sort_values("t")
    right = won[["account_id", "closed_at"]].dropna().sort_values("closed_at")
    result = pd.Series(pd.NaT, index=range(len(accounts)), dtype="datetime64[ns]")
    if len(left) and len(right):
        m = pd.merge_asof(
            left,
            right.astype({"closed_at": "datetime64[ns]"}),
            left_on="t",
            right_on="closed_at",
            by="account_id",
            direction="forward",
        )
        result.iloc[m["row"].to_numpy()] = m["closed_at"].to_numpy()
    return pd.Series(result.to_numpy(), index=accounts.index)


def labels_schema(ladder: tuple[str, ...]) -> pa.DataFrameSchema:
    """Snapshot keys plus one nullable 0/1 label and days to the crossing per gate (strict)."""
    columns = {
        label_column(g): pa.Column("Int8", checks=pa.Check.isin([0, 1]), nullable=True)
        for g in ladder
    }
    columns |= {
        crossing_days_column(g): pa.Column(float, pa.Check.ge(0.0), nullable=True) for g in ladder
    }
    return SnapshotSchema.to_schema().add_columns(columns)


def sufficiency(labels: pd.DataFrame, ladder: tuple[str, ...], cohorts: pd.Series) -> pd.DataFrame:
    """Per gate and cohort: snapshots at risk with a known label, positives and leads with a positive."""
    rows = []
    for gate in ladder:
        y = labels[label_column(gate)]
        for cohort, idx in cohorts.groupby(cohorts).groups.items():
            yc = y.loc[idx]
            known = yc.notna()
            pos = (yc == 1).fillna(False)
            rows.append(
                {
                    "gate": gate,
                    "cohort": cohort,
                    "labelled_snapshots": int(known.sum()),
                    "positives": int(pos.sum()),
                    "leads_with_positive": int(
                        labels.loc[idx][pos.to_numpy()]["lead_id"].nunique()
                    ),
                    "positive_rate": round(float(pos.sum() / known.sum()), 4)
                    if known.sum()
                    else None,
                }
            )
    return pd.DataFrame(rows)


def deal_sizes(
    opportunities: pd.DataFrame,
    accounts: pd.DataFrame,
    fitted_before: pd.Timestamp,
    min_deals: int = 20,
) -> dict:
    """Expected deal size by employee band: the mean amount of won deals closed before
    `fitted_before` (a band with fewer than `min_deals` wins falls back to the overall mean).

    A segment average, not a model: deal size in B2B is set mostly by the account's size (the
    seats and the price book), and what a lead does before the deal says little about it. The
    average is checked against the overall mean on the deals won after `fitted_before`.
    """
    won = opportunities[opportunities["outcome"] == "won"].merge(
        accounts[["account_id", "employee_band"]], on="account_id", how="left"
    )
    unsized = int(won["amount"].isna().sum())
    won = won[won["amount"].notna()]  # a deal without an amount says nothing of deal sizes
    closed = pd.to_datetime(won["closed_at"])
    fit, check = won[closed < fitted_before], won[closed >= fitted_before]
    if fit.empty:  # expected revenue is unknown, not 0: the export says nothing of deal sizes
        return {
            "fitted_before": str(fitted_before.date()),
            "won_deals": 0,
            "overall_mean": None,
            "by_employee_band": {},
            "unknown": f"no won opportunity with an amount closed before {fitted_before.date()}: "
            "deal sizes, and with them expected revenue, are unknown",
        }
    overall = float(fit["amount"].mean())
    grouped = fit.groupby("employee_band")["amount"].agg(["mean", "count"])
    by_band = {
        str(band): float(row["mean"]) if row["count"] >= min_deals else overall
        for band, row in grouped.iterrows()
    }
    out = {
        "fitted_before": str(fitted_before.date()),
        "won_deals": len(fit),
        "overall_mean": round(overall, 2),
        "by_employee_band": {k: round(v, 2) for k, v in by_band.items()},
        "deals_by_employee_band": {str(k): int(v) for k, v in grouped["count"].items()},
    }
    if unsized:
        out["won_deals_without_amount"] = unsized
    if len(check):
        pred = check["employee_band"].astype(str).map(by_band).fillna(overall)
        out["check"] = {
            "won_deals": len(check),
            "mae_band_mean": round(float((check["amount"] - pred).abs().mean()), 2),
            "mae_overall_mean": round(float((check["amount"] - overall).abs().mean()), 2),
        }
    return out
