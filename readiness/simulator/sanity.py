"""Realism figures of a simulation: funnel conversion, lags, belief reach and learnability.

Conversion rates use matured leads only (created at least `MATURE_DAYS` before the end), so that
recent leads that had no time to convert do not drag the rates down.
"""

from __future__ import annotations

import numpy as np

from readiness.domain import BELIEF_STAGES, SEGMENTS
from readiness.simulator.engine import LOST, MQL, OPP, QC, SAL, WON
from readiness.simulator.world import SEGMENT_INDEX_OF_BAND, World

MATURE_DAYS = 180
_GATES = [
    (MQL, "mql"),
    (SAL, "sales_accepted"),
    (QC, "qualified_conversation"),
    (OPP, "opportunity"),
]


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def sanity_figures(world: World, results: list[dict]) -> dict:
    """Figures from the per-lead facts each chunk reports (no need to re-read 100M events)."""
    first_day = np.concatenate([r["first_day"] for r in results])
    touched = np.concatenate([r["touched"] for r in results])
    stakeholder = np.concatenate([r["stakeholder_download"] for r in results])
    return funnel_figures(
        world.lead_created,
        first_day,
        touched,
        stakeholder,
        world.n_days,
        world.acc_band[world.lead_account],
    )


def funnel_figures(
    created: np.ndarray,
    first_day: np.ndarray,
    touched: np.ndarray,
    stakeholder: np.ndarray,
    n_days: int,
    band: np.ndarray,
) -> dict:
    """The realism figures from per-lead facts.

    Args:
        created: creation day of each lead.
        first_day: (leads, 7) first day the lead reached each stage code, -1 if never.
        touched: (leads, 5) whether the lead consumed content of each belief stage.
        stakeholder: whether the lead consumed stakeholder (alignment) content.
        n_days: days in the data.
        band: employee band index of each lead's account.
    """
    mature = created <= n_days - MATURE_DAYS
    reached = first_day >= 0
    out: dict = {"leads": int(len(created)), "matured_leads": int(mature.sum())}
    conv = {}
    prev_mask, prev_name = mature, "lead"
    for code, name in _GATES:
        now = prev_mask & reached[:, code]
        conv[f"{prev_name}_to_{name}"] = _rate(int(now.sum()), int(prev_mask.sum()))
        prev_mask, prev_name = now, name
    closed = mature & (reached[:, WON] | reached[:, LOST])
    conv["opportunity_to_closed_won"] = _rate(
        int((mature & reached[:, WON]).sum()), int(closed.sum())
    )
    out["conversion"] = conv

    segment = SEGMENT_INDEX_OF_BAND[band]
    out["win_rate_by_segment"] = {
        seg: _rate(
            int((closed & reached[:, WON] & (segment == i)).sum()),
            int((closed & (segment == i)).sum()),
        )
        for i, seg in enumerate(SEGMENTS)
    }

    lags = {}
    prev_code, prev_name = None, "lead"
    for code, name in [*_GATES, (WON, "closed_won")]:
        if prev_code is None:
            start, both = created, reached[:, code]
        else:
            start, both = first_day[:, prev_code], reached[:, code] & reached[:, prev_code]
        days = (first_day[:, code] - start)[both]
        lags[f"{prev_name}_to_{name}"] = float(np.median(days)) if len(days) else None
        prev_code, prev_name = code, name
    opp_close = np.maximum(first_day[:, WON], first_day[:, LOST])
    has_close = reached[:, OPP] & (opp_close >= 0)
    lags["opportunity_to_close"] = (
        float(np.median((opp_close - first_day[:, OPP])[has_close])) if has_close.any() else None
    )
    out["median_days"] = lags

    out["share_touching_belief_stage"] = {
        s: round(float(touched[:, i].mean()), 4) for i, s in enumerate(BELIEF_STAGES)
    }

    # learnability: leads with urgency and stakeholder content reach an opportunity far more often
    both = touched[:, 0] & stakeholder
    p_both = _rate(int((mature & both & reached[:, OPP]).sum()), int((mature & both).sum()))
    p_rest = _rate(int((mature & ~both & reached[:, OPP]).sum()), int((mature & ~both).sum()))
    out["learnability"] = {
        "opportunity_rate_urgency_and_stakeholder": p_both,
        "opportunity_rate_others": p_rest,
        "ratio": round(p_both / p_rest, 2) if p_both and p_rest else None,
    }
    return out
