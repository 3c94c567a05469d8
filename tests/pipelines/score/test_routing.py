"""Routing rules on tiny inline inputs: SLAs in business hours, owners, disqualifiers, next assets."""

from __future__ import annotations

from datetime import date

import ibis
import pandas as pd
import pytest

from pipelines.score import routing as r
from readiness.params import AssignmentParams, DisqualifierRule, SlaParams

T = pd.Timestamp

SLA = SlaParams(hours=4, day_start=9, day_end=17, holidays=(date(2026, 1, 1),))


@pytest.mark.parametrize(
    ("scored_at", "due"),
    [
        ("2025-12-30 10:00", "2025-12-30 14:00"),  # Tuesday morning: same day
        ("2025-12-30 15:00", "2025-12-31 11:00"),  # 2 h today, 2 h tomorrow
        ("2025-12-31 07:00", "2025-12-31 13:00"),  # before opening: from 9:00
        ("2025-12-31 16:30", "2026-01-02 12:30"),  # Jan 1 is a holiday
        ("2026-01-02 16:00", "2026-01-05 12:00"),  # Friday -> Monday
        ("2026-01-03 12:00", "2026-01-05 13:00"),  # Saturday
    ],
)
def test_sla_counts_business_hours_only(scored_at, due):
    assert r.sla_due(pd.Timestamp(scored_at), SLA) == pd.Timestamp(due)


def test_sla_in_another_time_zone_is_returned_in_utc():
    ny = SlaParams(hours=1, timezone="America/New_York", day_start=9, day_end=17)
    # 13:00 UTC on a Monday in winter is 08:00 in New York: due 10:00 local = 15:00 UTC
    assert r.sla_due(pd.Timestamp("2026-01-05 13:00"), ny) == pd.Timestamp("2026-01-05 15:00")


def test_owners_keep_the_account_owner_and_round_robin_the_rest_by_region():
    p = AssignmentParams(
        rule="account_owner",
        owners={"emea": ("e1", "e2"), "apac": ("a1",)},
        fallback=("queue",),
    )
    account = pd.Series([10, 10, 11, 12, 13, 14, 15])
    region = pd.Series(["emea", "emea", "emea", "emea", "emea", "apac", None])
    current = pd.Series([None, None, "rep_x", None, None, None, None])
    got = r.assign_owners(account, region, current, p).tolist()
    # accounts in id order: 10 -> e1, 11 keeps rep_x, 12 -> e2, 13 -> e1; apac -> a1; no region -> queue
    assert got == ["e1", "e1", "rep_x", "e2", "e1", "a1", "queue"]


def test_round_robin_spreads_accounts_over_all_reps():
    p = AssignmentParams(rule="round_robin", owners={"emea": ("b", "a"), "apac": ("c",)})
    got = r.assign_owners(
        pd.Series([5, 3, 4, 3]), pd.Series(["emea"] * 4), pd.Series([None] * 4), p
    )
    assert got.tolist() == ["c", "a", "b", "a"]  # accounts 3, 4, 5 -> a, b, c


def test_disqualifiers_give_every_reason_that_holds():
    rules = (
        DisqualifierRule(feature="competitor_email_domain", reason="competitor"),
        DisqualifierRule(feature="out_of_profile_size", reason="too small"),
    )
    X = pd.DataFrame(
        {"competitor_email_domain": [0.0, 1.0, 1.0], "out_of_profile_size": [0.0, 0.0, 1.0]}
    )
    hit, reasons = r.disqualify(X, rules)
    assert hit.tolist() == [False, True, True]
    assert reasons == ["", "competitor", "competitor; too small"]
    assert r.disqualifiers_checked(rules) == "clear: competitor; clear: too small"


ASSETS = pd.DataFrame(
    {
        "asset_id": [1, 2, 3, 4, 5],
        "title": ["a", "b", "c", "d", "e"],
        "belief_stage": ["capability", "capability", "capability", "capability", "urgency"],
        "audience": ["any", "finance", "any", "any", "any"],
        "industry": [None, None, "retail", "software", None],
        "popularity": [50, 10, 1, 99, 70],
    }
)


def test_next_asset_prefers_own_industry_then_own_role_and_skips_what_was_consumed():
    leads = pd.DataFrame(
        {
            "lead_id": [1, 2, 3, 4],
            "belief": ["capability", "capability", "capability", "urgency"],
            "persona": ["finance", "finance", "champion", "champion"],
            "industry": ["retail", "retail", "healthcare", "retail"],
        }
    )
    consumed = pd.DataFrame({"lead_id": [2, 4], "asset_id": [3, 5]})
    got = r.suggest_assets(ibis.duckdb.connect(), leads, consumed, ASSETS).set_index("lead_id")
    # 1: its industry's case study; 2 consumed it: its own role (finance) next; 3: no healthcare
    # asset and no software one (other industry): the most popular generic; 4: nothing left
    assert got["next_asset_id"].to_dict() == {1: 3, 2: 2, 3: 1}
    assert got.loc[1, "next_asset"] == "c"


def test_templates_fill_what_they_name_and_keep_the_rest():
    text = r.fill(
        "Hi {persona} in {industry}, re {title} {unknown}",
        persona="end_user",
        industry=None,
        title="X",
    )
    assert text == "Hi end user in their, re X {unknown}"


def test_weakest_belief_is_unknown_where_the_data_cannot_name_one():
    import numpy as np

    from pipelines.score.leads import weakest_beliefs
    from readiness.domain import BELIEFS

    beliefs = pd.DataFrame(
        {
            "urgency": [-0.4, -0.1, 0.0, -0.3],
            "category": [0.2, -0.5, 0.0, 0.1],
            "capability": [0.1, 0.3, 0.0, 0.2],
            "alignment": [0.0, 0.2, 0.0, -0.9],
        }
    )
    X = pd.DataFrame({f"{b}_content_all": [1, 2, 1, 0] for b in BELIEFS})
    names, why = weakest_beliefs(beliefs, X, {})
    # lead 3 consumed nothing tagged; lead 2's beliefs carry no attribution
    assert list(names) == ["urgency", "category", "unknown", "unknown"]
    assert why == {
        "the lead consumed no belief-tagged content": 1,
        "the model uses no belief signal for the lead": 1,
    }
    # a family the data cannot feed is never named, even where it is the lowest
    names, _ = weakest_beliefs(beliefs, X, {"urgency": "no consumed content is tagged urgency"})
    assert names[0] == "alignment" and names[1] == "category"
    names, why = weakest_beliefs(beliefs, X, {b: "untagged" for b in BELIEFS})
    assert (names == "unknown").all() and sum(why.values()) == 4
    assert np.array_equal(names, np.full(4, "unknown", dtype=object))


def test_general_nurture_offers_what_converters_consumed_and_never_a_repeat():
    assets = pd.DataFrame(
        {
            "asset_id": [1, 2, 3, 4],
            "title": ["a", "b", "c", "d"],
            "popularity": [50, 10, 10, 99],
            "converters": [5, 9, 9, 0],  # d: popular, but no converter read it
        }
    )
    leads = pd.DataFrame({"lead_id": [10, 11, 12]})
    consumed = pd.DataFrame({"lead_id": [10, 11, 11, 11], "asset_id": [2, 2, 3, 1]})
    out = r.suggest_general(leads, consumed, assets).set_index("lead_id")
    # ties on converters go to the more popular, then the lower id; lead 11 has read them all
    assert out.loc[10, "next_asset_id"] == 3 and out.loc[12, "next_asset_id"] == 2
    assert 11 not in out.index
    assert r.suggest_general(leads, consumed, assets.assign(converters=0)).empty


def test_general_nurture_offers_what_converting_leads_like_this_one_consumed():
    assets = pd.DataFrame(
        {
            "asset_id": [1, 2, 3],
            "title": ["pricing guide", "developer docs", "case study"],
            "popularity": [10, 10, 10],
            "converters": [60, 40, 30],
        }
    )

    def rows(segment, value, leads, counts):
        return [
            {
                "segment": segment,
                "value": value,
                "asset_id": a,
                "converters": c,
                "segment_leads": leads,
            }
            for a, c in counts.items()
        ]

    similar = pd.DataFrame(
        rows("all", "all", 100, {1: 60, 2: 40, 3: 30})
        # of 40 converting engineers, 36 read the docs and 2 the pricing guide
        + rows("persona", "engineer", 40, {1: 2, 2: 36, 3: 10})
        + rows("persona", "finance", 60, {1: 58, 2: 4, 3: 20})
        # a persona with 2 converting leads barely moves its leads off the overall picture
        + rows("persona", "legal", 2, {3: 2})
        + rows("industry", "retail", 100, {1: 60, 2: 40, 3: 30})
    )
    leads = pd.DataFrame(
        {
            "lead_id": [1, 2, 3, 4, 5],
            "persona": ["engineer", "finance", "legal", None, "engineer"],
            "industry": ["retail", "retail", "retail", None, "retail"],
        }
    )
    consumed = pd.DataFrame({"lead_id": [5], "asset_id": [2]})
    out = r.suggest_general(leads, consumed, assets, similar=similar).set_index("lead_id")
    assert out.loc[1, "next_asset"] == "developer docs"
    assert out.loc[2, "next_asset"] == "pricing guide"
    assert out.loc[3, "next_asset"] == "pricing guide"
    # nothing known about the lead: the overall order; never a repeat
    assert out.loc[4, "next_asset"] == "pricing guide"
    assert out.loc[5, "next_asset_id"] == 1
    # no shrinkage: a persona's own counts alone, and a persona with no converting lead (and no
    # industry) falls back on everyone's shares rather than dividing by zero
    raw = r.suggest_general(
        pd.concat(
            [leads, pd.DataFrame({"lead_id": [6], "persona": ["sales"], "industry": [None]})]
        ),
        consumed,
        assets,
        similar=similar,
        prior_leads=0,
    ).set_index("lead_id")
    assert raw.loc[1, "next_asset"] == "developer docs" and raw.loc[3, "next_asset"] == "case study"
    assert raw.loc[6, "next_asset"] == "pricing guide"
    # without the counts by segment it is the overall order for everyone
    plain = r.suggest_general(leads, consumed, assets).set_index("lead_id")
    assert (plain.loc[[1, 2, 3, 4], "next_asset_id"] == 1).all()


def test_a_sales_touch_without_its_rep_names_no_one():
    """owner_id is optional: a touch an export gives no rep reads without "by None"."""
    import pandas as pd

    from pipelines.score.context import touch_text

    when = pd.Timestamp("2025-12-30 10:00")
    assert touch_text("sales_call", "rep_7", when) == "2025-12-30: sales call by rep_7"
    assert touch_text("sales_call", None, when) == "2025-12-30: sales call"
    assert touch_text("sales_meeting", float("nan"), when) == "2025-12-30: sales meeting"


def test_a_lead_whose_milestone_past_its_stage_was_quarantined_is_not_scored_and_said(tmp_path):
    """The export calls lead 2 an MQL but its MQL date did not parse: scored, it would read
    "never an MQL", routed dormant. It is left out, counted, and named by the export's own id;
    lead 3 lost an mql row but its recorded stage is already past it, so it is scored."""
    from readiness.scores import _without_lost_milestones

    X = pd.DataFrame({"lead_id": [1, 2, 3], "ladder_stage": [0, 0, 2], "cutoff": T("2025-01-01")})
    lost = pd.DataFrame(
        {"lead_id": [2, 3], "milestone": ["mql", "mql"], "reasons": ["occurred_at: bad"] * 2}
    )
    ids = tmp_path / "_ids"
    ids.mkdir()
    pd.DataFrame({"our_id": [1, 2, 3], "crm_id": ["a", "b", "c"]}).to_parquet(ids / "leads.parquet")
    kept, why = _without_lost_milestones(X, lost, ("mql", "sales_accepted"), tmp_path)
    assert kept["lead_id"].tolist() == [1, 3]
    assert why[0]["leads"] == 1 and why[0]["lead_ids"] == ["b"]
    assert why[0]["commonest_quarantine_reason"] == "occurred_at: bad"
    assert _without_lost_milestones(X, lost.iloc[:0], ("mql",), tmp_path) == (X, [])
    # a lost row that says nothing of the stage (an empty milestone, one before the ladder's
    # first gate) leaves the lead scored; a lost closed_lost (it closes the lead) does not
    odd = pd.DataFrame(
        {"lead_id": [1, 1, 3], "milestone": [None, "mql", "closed_lost"], "reasons": ["r"] * 3}
    )
    one_gate = X.assign(ladder_stage=[0, 0, 1])
    kept, why = _without_lost_milestones(one_gate, odd, ("sales_accepted",), tmp_path)
    assert kept["lead_id"].tolist() == [1, 2] and why[0]["leads"] == 1
