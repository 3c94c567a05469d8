"""Features computed on the tiny inline world equal hand-computed values, family by family.

Cutoff 2024-04-01 00:00 (called D). An event on day D - k is "k days before the cutoff"; a window
of W days covers the days D - W .. D - 1.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from feature_world import compute, frames

from features.catalog import NEVER_DAYS, build_catalog

D = "2024-04-01"


@pytest.fixture(scope="module")
def at_d():
    return compute(frames(), [D]).xs(pd.Timestamp(D), level="cutoff")


def test_urgency_counts_windows_distinct_recency_and_days_since(at_d):
    lead = at_d.loc[10]
    # downloads on D-31 and D-7, a page view on D-12 (same asset as the first download)
    assert lead["urgency_content_7d"] == 1
    assert lead["urgency_content_30d"] == 2  # D-31 falls outside the 30-day window
    assert lead["urgency_content_90d"] == lead["urgency_content_all"] == 3
    assert lead["urgency_deep_all"] == 2
    assert lead["urgency_distinct_assets"] == 2
    assert lead["urgency_days_since_last"] == 7
    assert lead["urgency_recency_weighted"] == pytest.approx(
        math.exp(-31 / 30) + math.exp(-12 / 30) + math.exp(-7 / 30)
    )


def test_category_and_capability_with_industry_matched_proof(at_d):
    lead = at_d.loc[10]
    assert lead["category_content_all"] == 1 and lead["category_deep_all"] == 1  # a webinar
    assert lead["category_days_since_last"] == 5
    assert lead["capability_content_all"] == 2  # a software and a retail case study
    assert lead["capability_industry_proof_90d"] == 1  # only the software one: the lead is software
    assert lead["capability_industry_proof_all"] == 1
    assert lead["capability_industry_proof_distinct"] == 1
    assert lead["alignment_content_all"] == 0 and lead["alignment_days_since_last"] == NEVER_DAYS


def test_account_committee_and_stakeholder_features(at_d):
    acc1 = at_d.loc[10]
    # finance downloads an ROI one-pager on D-17, the executive views an exec brief on D-6
    assert acc1["account_stakeholder_content_7d"] == 1
    assert acc1["account_stakeholder_content_30d"] == acc1["account_stakeholder_content_all"] == 2
    assert acc1["account_stakeholder_downloads_all"] == 1
    assert acc1["account_stakeholder_personas"] == 2
    assert acc1["account_personas_engaged"] == 3  # champion, finance, executive
    assert acc1["account_leads"] == 3
    assert acc1["account_engaged_share"] == 1.0
    assert acc1["account_executive_engaged"] == 1 and acc1["account_finance_engaged"] == 1
    assert (
        acc1["account_engaged_90d"] == 8 + 2 + 1
    )  # lead 10's 8 engaged actions, 11's two, 12's one
    # every lead of the account sees the same account features
    assert (at_d.loc[[10, 11, 12], "account_personas_engaged"] == 3).all()
    # account 2: lead 20 engaged, lead 30 never did
    assert at_d.loc[30, "account_leads"] == 2
    assert at_d.loc[30, "account_engaged_share"] == 0.5
    assert at_d.loc[20, "account_personas_engaged"] == 1
    assert at_d.loc[20, "account_stakeholder_content_all"] == 0


def test_each_kind_of_engaged_action_counted_on_its_own(at_d):
    lead = at_d.loc[10]
    # four downloads before the cutoff (the one on 04-03 is after it), one page view, one webinar
    assert lead["downloads_all"] == 4
    assert lead["page_views_90d"] == lead["page_views_all"] == 1
    assert lead["webinars_all"] == 1
    assert lead["email_clicks_all"] == 0
    # lead 20's click, 51 days before the cutoff; its open is not a click
    clicker = at_d.loc[20]
    assert clicker["email_clicks_90d"] == clicker["email_clicks_all"] == 1
    assert clicker["email_clicks_30d"] == clicker["email_clicks_7d"] == 0
    assert clicker["downloads_all"] == clicker["page_views_all"] == 0
    assert (at_d.loc[30, ["email_clicks_all", "downloads_all", "webinars_all"]] == 0).all()


def test_intent_pricing_demo_forms_and_answers(at_d):
    lead = at_d.loc[10]
    assert lead["pricing_views_7d"] == lead["pricing_views_all"] == 1
    assert lead["forms_90d"] == 1
    assert lead["timeline_stated"] == 3  # "this_quarter"
    assert lead["budget_authority_stated"] == 1
    assert lead["demo_requests_all"] == 0  # its demo request is exactly at the cutoff
    assert lead["demo_request_days_since"] == NEVER_DAYS
    finance = at_d.loc[11]
    assert finance["demo_requests_all"] == 1  # 23:59:59 the day before: counted
    assert finance["demo_request_days_since"] == 1
    assert finance["alignment_content_all"] == 1 and finance["alignment_deep_all"] == 1


def test_engagement_volume_recency_momentum_and_sales(at_d):
    lead = at_d.loc[10]
    assert lead["engaged_actions_7d"] == 6
    assert lead["engaged_actions_30d"] == 7
    assert lead["engaged_actions_90d"] == lead["engaged_actions_all"] == 8
    assert lead["email_opens_90d"] == lead["email_opens_all"] == 1
    assert lead["engaged_days_since_last"] == 2
    # distinct days with an engaged action: 03-25, 03-27, 03-28, 03-29, 03-30 (+ 03-20, + 03-01)
    assert (lead["active_days_7d"], lead["active_days_30d"], lead["active_days_all"]) == (5, 6, 7)
    ages = [31, 12, 7, 5, 4, 3, 2, 2]  # the 8 engaged actions, in days before the cutoff
    assert lead["engaged_recency_weighted"] == pytest.approx(sum(math.exp(-a / 30) for a in ages))
    # 7 actions in the last 30 days, 1 in the 30 before: (7 - 1) / (7 + 1)
    assert lead["momentum_30d"] == pytest.approx(0.75)
    assert lead["sales_touches_all"] == 1 and lead["sales_meetings_all"] == 1
    assert lead["sales_touch_days_since"] == 1


def test_progression_beliefs_touched_in_order_age_and_ladder(at_d):
    lead = at_d.loc[10]
    assert lead["belief_stages_touched"] == 3
    assert lead["touched_in_ladder_order"] == 1  # urgency D-31, category D-5, capability D-4
    assert lead["first_touch_days_since"] == 31
    assert lead["lead_age_days"] == 90
    assert lead["ladder_stage"] == 1  # mql on D-2; sales_accepted comes after the cutoff
    assert lead["milestone_days_since"] == 2


def test_fit_codes_and_disqualifiers(at_d):
    lead = at_d.loc[10]
    assert (
        lead["industry"],
        lead["employee_band"],
        lead["region"],
        lead["persona"],
        lead["seniority"],
        lead["source_channel"],
    ) == (0, 1, 1, 0, 3, 0)
    assert lead["free_email_domain"] == 0 and lead["out_of_profile_size"] == 0
    small = at_d.loc[20]
    assert small["free_email_domain"] == 1 and small["out_of_profile_size"] == 1
    assert at_d.loc[30, "persona"] == -1  # unknown


def test_a_lead_without_events_has_defined_values(at_d):
    quiet = at_d.loc[30]
    catalog = build_catalog((7, 30, 90))
    assert not quiet.isna().any()
    for f in catalog:
        if f.kind in ("sum", "recency", "max", "flag") and f.level == "lead":
            assert quiet[f.name] == 0, f.name
        if f.kind in ("days_since", "days_since_first"):
            assert quiet[f.name] == NEVER_DAYS, f.name
    assert quiet["momentum_30d"] == 0 and quiet["touched_in_ladder_order"] == 0
    assert quiet["lead_age_days"] == 31


def test_a_snapshot_before_any_event(world):
    early = compute(world, ["2024-01-03"], leads=[10]).iloc[0]
    assert early["engaged_actions_all"] == 0 and early["urgency_days_since_last"] == NEVER_DAYS
    assert early["account_leads"] == 1 and early["account_engaged_share"] == 0
    assert early["lead_age_days"] == 1


@pytest.mark.parametrize(
    "strategy, level", [("window", "rows"), ("window", "days"), ("join", "rows"), ("join", "days")]
)
def test_every_strategy_and_stream_level_gives_the_same_numbers(world, strategy, level):
    cutoffs = ["2024-02-15", "2024-03-21", D, "2024-04-04", "2024-07-01"]
    reference = compute(world, cutoffs, "join", "rows", leads=[10, 11, 20, 30])
    other = compute(world, cutoffs, strategy, level, leads=[10, 11, 20, 30])
    pd.testing.assert_frame_equal(reference, other, check_exact=False, rtol=1e-9)


def test_windows_come_from_params(world):
    wide = compute(world, [D], windows=(14, 60), leads=[10])
    assert "urgency_content_14d" in wide.columns and "urgency_content_7d" not in wide.columns
    assert wide.iloc[0]["urgency_content_14d"] == 2  # D-12 and D-7
