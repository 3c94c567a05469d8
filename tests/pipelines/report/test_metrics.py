"""The report's numbers against hand computations on tiny inline data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.report import metrics as m

LADDER = ("mql", "sales_accepted", "opportunity")
T = pd.Timestamp

LEADS = pd.DataFrame(
    {
        "lead_id": [1, 2, 3, 4, 5],
        "account_id": [10, 10, 20, 30, 30],
        "created_at": [
            T("2024-01-05"),
            T("2024-02-01"),
            T("2024-03-01"),
            T("2024-04-02"),
            T("2024-05-01"),
        ],
    }
)
# lead 1: mql day 10, sa day 20, opp day 50; lead 2: mql day 4 (twice), sa day 30;
# lead 3: mql day 2; lead 4: mql day 6, opp without sa; lead 5: nothing
MILESTONES = pd.DataFrame(
    {
        "lead_id": [1, 1, 1, 2, 2, 2, 3, 4, 4],
        "milestone": [
            "mql",
            "sales_accepted",
            "opportunity",
            "mql",
            "mql",
            "sales_accepted",
            "mql",
            "mql",
            "opportunity",
        ],
        "occurred_at": [
            T("2024-01-15"),
            T("2024-01-25"),
            T("2024-02-24"),
            T("2024-02-05"),
            T("2024-02-09"),
            T("2024-03-06"),
            T("2024-03-03"),
            T("2024-04-08"),
            T("2024-05-08"),
        ],
    }
)


def test_first_crossings_keep_the_first_time_of_each_gate():
    c = m.first_crossings(MILESTONES, LADDER)
    assert c.loc[2, "mql"] == T("2024-02-05")
    assert pd.isna(c.loc[3, "sales_accepted"]) and list(c.columns) == list(LADDER)


def test_funnel_counts_conversions_and_days_by_cohort():
    f = m.funnel_by_cohort(LEADS, m.first_crossings(MILESTONES, LADDER), LADDER).set_index("cohort")
    q1, q2 = f.loc["2024Q1"], f.loc["2024Q2"]
    assert (
        q1["leads"],
        q1["reached_mql"],
        q1["reached_sales_accepted"],
        q1["reached_opportunity"],
    ) == (3, 3, 2, 1)
    assert q1["conv_created_to_mql"] == 1.0
    assert q1["conv_mql_to_sales_accepted"] == pytest.approx(2 / 3)
    assert q1["conv_sales_accepted_to_opportunity"] == pytest.approx(1 / 2)
    assert q1["median_days_to_mql"] == pytest.approx(4.0)  # 10, 4, 2 days
    assert q1["median_days_to_sales_accepted"] == pytest.approx(20.0)  # 10 and 30 days
    # Q2: lead 4 skipped sales_accepted; its opportunity counts, the conversion says so
    assert (q2["leads"], q2["reached_mql"], q2["reached_opportunity"]) == (2, 1, 1)
    assert q2["conv_created_to_mql"] == 0.5 and np.isnan(q2["conv_sales_accepted_to_opportunity"])


def test_rates_backward_from_revenue():
    r = m.gate_rates(m.first_crossings(MILESTONES, LADDER), LADDER)
    assert r["mqls"] == 4
    assert r["from_mql"]["sales_accepted"] == 0.5 and r["from_mql"]["opportunity"] == 0.5
    said = m.gate_rates_text({"mqls": 4, "from_mql": {"sales_accepted": 0.5, "opportunity": 0.25}})
    assert said == "Of 4 MQLs, 50.0% were accepted by sales and 25.0% became opportunities."
    # a ladder without those gates says what it has, never "nan%"
    said = m.gate_rates_text({"mqls": 9, "from_mql": {"qualified_conversation": 1 / 3}})
    assert said == "Of 9 MQLs, 33.3% had a qualified conversation."
    assert m.gate_rates_text({}) is None
    assert (
        m.gate_rates(m.first_crossings(MILESTONES, ("sales_accepted",)), ("sales_accepted",)) == {}
    )


OPPS = pd.DataFrame(
    {
        "opportunity_id": [1, 2, 3, 4],
        "account_id": [10, 20, 30, 30],
        "created_at": [T("2024-01-01"), T("2024-01-10"), T("2024-04-01"), T("2024-04-05")],
        "closed_at": [T("2024-01-31"), T("2024-02-19"), T("2024-05-01"), pd.NaT],
        "outcome": ["won", "lost", "won", "open"],
        "amount": [1000.0, 500.0, 3000.0, 800.0],
    }
)
ACCOUNTS = pd.DataFrame({"account_id": [10, 20, 30], "employee_band": ["51-200", "1-50", "5000+"]})


def test_win_rate_revenue_and_pipeline_velocity():
    r = m.revenue_metrics(OPPS, ACCOUNTS)
    seg = r["by_segment"].set_index("segment")
    smb, ent = seg.loc["smb"], seg.loc["enterprise"]
    assert (smb["opportunities"], smb["closed"], smb["won"], smb["revenue"]) == (2, 2, 1, 1000.0)
    assert smb["win_rate"] == 0.5 and smb["median_cycle_days"] == pytest.approx(35.0)  # 30 and 40
    assert smb["pipeline_velocity_per_day"] == pytest.approx(2 * 0.5 * 1000 / 35)
    assert (ent["opportunities"], ent["closed"], ent["win_rate"]) == (2, 1, 1.0)
    coh = r["by_cohort"].set_index("cohort")
    assert coh.loc["2024Q1", "revenue"] == 1000.0 and coh.loc["2024Q2", "won"] == 1


ASSETS = pd.DataFrame(
    {
        "asset_id": [1, 2, 3],
        "belief_stage": ["urgency", "alignment", "category"],
        "audience": ["any", "finance", "any"],
    }
)
EVENTS = pd.DataFrame(
    {
        "lead_id": [1, 2, 3, 4],
        "occurred_at": [T("2024-01-10"), T("2024-02-20"), T("2024-03-02"), T("2024-04-05")],
        "event_type": ["page_view", "asset_download", "page_view", "asset_download"],
        "asset_id": [1, 1, 1, 2],
    }
)


def test_urgency_content_before_the_mql():
    u = m.urgency_among_interested(EVENTS, ASSETS, m.first_crossings(MILESTONES, LADDER)).set_index(
        "mqls"
    )
    # lead 1 (opportunity): before its MQL; lead 2: after; lead 3: before; lead 4 (opp): none
    assert u.loc["all", "consumed_urgency_before_mql"] == 2 and u.loc["all", "leads"] == 4
    assert u.loc["reached an opportunity", "share"] == 0.5
    assert u.loc["did not (yet)", "share"] == 0.5


def test_accounts_with_stakeholder_downloads_and_their_win_rate():
    s = m.stakeholder_accounts(EVENTS, ASSETS, LEADS, OPPS).set_index("accounts")
    yes, no = s.loc["downloaded stakeholder assets"], s.loc["did not"]
    assert (yes["count"], no["count"]) == (1, 2)  # account 30 (lead 4 downloaded a finance asset)
    assert yes["closed_opportunities"] == 1 and yes["win_rate"] == 1.0
    assert no["closed_opportunities"] == 2 and no["win_rate"] == 0.5
    # no deals in the data at all: unknown, not "0 closed"
    none = m.stakeholder_accounts(EVENTS, ASSETS, LEADS, OPPS.iloc[:0])
    assert none["closed_opportunities"].isna().all() and none["win_rate"].isna().all()
    assert none["count"].tolist() == [1, 2]


def test_time_to_threshold_for_converters_and_stalled():
    t = m.time_to_threshold(LEADS, m.first_crossings(MILESTONES, LADDER)).set_index("group")
    assert t.loc["converted to opportunity", "median_days"] == pytest.approx(8.0)  # 10 and 6 days
    assert t.loc["stalled after MQL", "median_days"] == pytest.approx(3.0)  # 4 and 2 days


def test_routing_tables_and_stalled_beliefs():
    scores = pd.DataFrame(
        {
            "lead_id": [1, 2, 3, 4],
            "route": ["sales_now", "sales_now", "nurture_urgency", "disqualified"],
            "owner": ["a", "b", None, None],
            "sla_due": [T("2026-01-02 13:00"), T("2026-01-02 13:30"), pd.NaT, pd.NaT],
            "p_next_gate": [0.5, 0.7, 0.1, 0.2],
            "current_stage": ["mql", "mql", "none", "none"],
            "next_gate": ["sales_accepted", "sales_accepted", "mql", "mql"],
            "weakest_belief": ["alignment", "urgency", "urgency", "category"],
        }
    )
    t = m.routing_tables(scores)
    assert t["routes"].set_index("route")["leads"].to_dict() == {
        "sales_now": 2,
        "nurture_urgency": 1,
        "disqualified": 1,
    }
    assert t["sla_load"]["leads_due"].tolist() == [2]  # both fall in the 13:00 hour
    st = m.stalled_beliefs(scores).set_index("current_stage")
    assert st.loc["mql", "open_leads"] == 2 and st.loc["mql", "alignment"] == 0.5
    assert st.loc["none", "urgency"] == 1.0  # the disqualified lead is left out


def test_driver_directions_skip_blank_attribute_values():
    """A numeric attribute with blank cells (NaN) used to crash the report (the NaN spread passed
    the constant check and the sign of a NaN correlation was cast to int)."""
    from features.catalog import Feature

    class Fixed:  # an attribution with known contributions
        def contributions(self, X):
            return np.column_stack([2.0 * X["visits"].fillna(0), -X["age"].fillna(0)])

    X = pd.DataFrame({"visits": [1.0, np.nan, 3.0, 4.0], "age": [30.0, 40.0, np.nan, 20.0]})
    catalog = tuple(
        Feature(n, "profile", "static", n, 0, "lead", "static") for n in ("visits", "age")
    )
    feats, fam, contrib = m.driver_importance(Fixed(), X, ["visits", "age"], catalog)
    assert feats.set_index("feature")["direction"].to_dict() == {"visits": 1, "age": -1}
    assert np.isfinite(contrib).all() and fam["family"].tolist() == ["profile"]
