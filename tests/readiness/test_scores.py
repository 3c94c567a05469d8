"""The score contract: a table that breaks it is refused with every failure named."""

from __future__ import annotations

import pandas as pd
import pytest
from score_frames import LADDER, make_scores

from readiness.scores import ScoreContractError, validate_scores


def check(leads: pd.DataFrame, ids: pd.Series | None = None) -> pd.DataFrame:
    return validate_scores(leads, LADDER, 3, leads["lead_id"] if ids is None else ids)


def test_a_valid_table_passes():
    _, leads, _ = make_scores(14)
    assert check(leads) is leads


@pytest.mark.parametrize(
    ("spoil", "named"),
    [
        (lambda d: d.assign(p_mql=d["p_mql"].where(d.index != 3, 1.2)), "p_mql"),
        (lambda d: d.assign(p_opportunity=d["p_sales_accepted"] + 0.01), "coherent_ladder"),
        (lambda d: d.assign(route=d["route"].where(d.index != 2, "call_them")), "route"),
        (lambda d: d.assign(owner=None), "handoff_complete"),
        (
            lambda d: d.assign(opener=d["opener"].where(d["route"] != "sales_now", "  ")),
            "handoff_complete",
        ),
        (lambda d: d.assign(sla_due=d["sla_due"] - pd.Timedelta(days=2)), "sla_after_scoring"),
        (lambda d: d.assign(disqualifiers=None), "disqualified_say_why"),
        (lambda d: d.assign(weakest_belief="budget"), "weakest_belief"),
        (lambda d: d.assign(lead_id=d["lead_id"].where(d.index != 5, 1)), "lead_id"),
        (lambda d: d.assign(extra=1), "extra"),
    ],
)
def test_a_broken_table_is_refused_naming_what_broke(spoil, named):
    _, leads, _ = make_scores(14)
    with pytest.raises(ScoreContractError, match=named):
        check(spoil(leads), leads["lead_id"])


def test_scores_must_cover_exactly_the_open_leads():
    _, leads, _ = make_scores(14)
    ids = pd.concat([leads["lead_id"].iloc[1:], pd.Series([999])])
    with pytest.raises(ScoreContractError) as err:
        check(leads, ids)
    assert "1 open lead(s) have no score, e.g. [999]" in str(err.value)
    assert "not open leads of the snapshot, e.g. [1]" in str(err.value)


def test_each_lead_has_a_trend_since_the_previous_published_run():
    from readiness.scores import TREND_MIN_CHANGE, score_trends, validate_scores

    run, before, _ = make_scores(12, seed=1)
    now = before.copy()
    # lead 1 rose on its next gate (mql), lead 2 fell, lead 3 crossed mql since, lead 4 moved
    # by less than the threshold; lead 12 is new (the previous run did not score it)
    now.loc[0, "p_mql"] = min(1.0, now.loc[0, "p_mql"] + 0.1)
    now.loc[1, [c for c in now if c.startswith("p_") and c != "p_next_gate"]] *= 0.5
    now.loc[2, "current_stage"] = "mql"
    now.loc[3, "p_mql"] += TREND_MIN_CHANGE / 2
    previous = before[before["lead_id"] != 12]
    out = score_trends(now, previous, LADDER)
    trend = dict(zip(out["lead_id"], out["trend"], strict=True))
    assert [trend[i] for i in (1, 2, 3, 4, 12)] == ["up", "down", "up", "steady", "new"]
    assert out.loc[0, "change_p_mql"] == pytest.approx(
        now.loc[0, "p_mql"] - before.loc[0, "p_mql"], abs=1e-4
    )
    assert out.loc[out["lead_id"] == 12, "change_p_mql"].isna().all()
    # the first run: every lead new; and the contract accepts the columns
    assert (score_trends(now, None, LADDER)["trend"] == "new").all()
    validate_scores(out, LADDER, 3, out["lead_id"])
