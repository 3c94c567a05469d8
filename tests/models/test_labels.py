"""Labels on tiny inline timelines: one rule per test (window, at risk, censoring, anchoring)."""

from __future__ import annotations

import pandas as pd
import pytest

from models.labels import (
    LabelSettings,
    censor_lost,
    deal_sizes,
    label_column,
    labels_schema,
    make_labels,
    sufficiency,
)

T = pd.Timestamp
LADDER = ("mql", "sales_accepted", "qualified_conversation", "opportunity", "closed_won")


def settings(**kw) -> LabelSettings:
    base = dict(
        ladder=LADDER,
        horizon_days=90,
        revenue_anchored=(),
        follow_through_days=60,
        end_of_data="2025-01-01",
        feature_windows=(7, 30, 90),
        catalog_version="test",
    )
    return LabelSettings(**{**base, **kw})


MILESTONES = pd.DataFrame(
    [
        (1, "mql", T("2024-02-10 10:00")),
        (1, "sales_accepted", T("2024-04-20")),
        (1, "qualified_conversation", T("2024-06-01")),
        (1, "opportunity", T("2024-06-15")),
        (1, "closed_won", T("2024-08-01")),
        (2, "mql", T("2024-03-01")),
        (4, "mql", T("2024-12-20")),
        (5, "mql", T("2024-04-01")),  # exactly at a cutoff
        (6, "mql", T("2024-03-31")),  # exactly at cutoff + horizon
    ],
    columns=["lead_id", "milestone", "occurred_at"],
)
OPPORTUNITIES = pd.DataFrame(
    {
        "opportunity_id": [9],
        "account_id": [100],
        "primary_lead_id": [1],
        "created_at": [T("2024-06-15")],
        "closed_at": [T("2024-08-01")],
        "outcome": ["won"],
        "amount": [1.0],
    }
)


def labels_for(rows, **kw) -> pd.DataFrame:
    snaps = pd.DataFrame(rows, columns=["lead_id", "account_id", "cutoff"]).assign(
        cutoff=lambda d: pd.to_datetime(d["cutoff"])
    )
    out = make_labels(snaps, MILESTONES, OPPORTUNITIES, settings(**kw))
    return out.set_index(["lead_id", "cutoff"])


def y(frame, lead, cutoff, gate):
    v = frame.loc[(lead, T(cutoff)), label_column(gate)]
    return None if pd.isna(v) else int(v)


def test_crossing_within_the_horizon_is_positive_later_is_negative():
    f = labels_for([(1, 100, "2024-01-01")])
    assert y(f, 1, "2024-01-01", "mql") == 1  # 02-10 is inside [01-01, 03-31)
    assert y(f, 1, "2024-01-01", "sales_accepted") == 0  # 04-20 is after the horizon
    assert y(f, 1, "2024-01-01", "closed_won") == 0


def test_gates_already_crossed_are_not_at_risk():
    f = labels_for([(1, 100, "2024-03-01"), (1, 100, "2024-06-10")])
    assert y(f, 1, "2024-03-01", "mql") is None
    assert y(f, 1, "2024-03-01", "sales_accepted") == 1
    assert y(f, 1, "2024-06-10", "qualified_conversation") is None
    assert y(f, 1, "2024-06-10", "opportunity") == 1
    assert y(f, 1, "2024-06-10", "closed_won") == 1


def test_a_gate_the_export_never_records_is_crossed_with_a_later_one():
    """An export with no mql milestone stopped labels with 'Cannot cast DatetimeArray to dtype
    float64'. The ladder is cumulative: reaching a later gate crosses the earlier ones, as the
    features' ladder_stage counts them."""
    snaps = pd.DataFrame(
        {
            "lead_id": [1, 2, 1],
            "account_id": [100] * 3,
            "cutoff": [T("2024-01-01")] * 2 + [T("2024-04-01")],
        }
    )
    no_mql = MILESTONES[MILESTONES["milestone"] != "mql"]
    out = make_labels(snaps, no_mql, OPPORTUNITIES, settings())
    # lead 1 reaches sales_accepted on 04-20: mql crossed then (outside the first window,
    # inside the second); lead 2 records nothing any more
    assert out[label_column("mql")].tolist() == [0, 0, 1]
    assert out[label_column("sales_accepted")].tolist() == [0, 0, 1]
    flat = make_labels(snaps.iloc[:2], no_mql, OPPORTUNITIES, settings(flat=True))
    assert flat[label_column("mql")].tolist() == [1, 0]  # no window in a flat export
    # a milestone past the ladder's last gate reaches it too (the journey's order): a ladder
    # ending at sales_accepted, an export recording lead 1's opportunity only
    only_opp = MILESTONES[MILESTONES["milestone"] == "opportunity"]
    short = make_labels(snaps, only_opp, OPPORTUNITIES, settings(ladder=("mql", "sales_accepted")))
    assert short[label_column("sales_accepted")].tolist() == [0, 0, 1]  # 06-15, inside 04-01+90
    assert short[label_column("mql")].tolist() == [0, 0, 1]
    # nothing recorded at all: every label 0, no error
    none = make_labels(snaps, MILESTONES.iloc[:0], OPPORTUNITIES.iloc[:0], settings())
    assert none[label_column("mql")].tolist() == [0, 0, 0]


def test_a_lead_whose_milestone_was_quarantined_is_unknown_up_to_that_gate_not_a_non_converter():
    """Lead 3 reached sales_accepted by the export, but its row was quarantined (a date that did
    not parse): without it, every label of lead 3 reads 0. Censored, its mql and sales_accepted
    labels are unknown; its later gates, and every other lead, keep theirs."""
    f = labels_for([(3, 100, "2024-01-01"), (3, 100, "2024-04-01"), (2, 100, "2024-01-01")])
    assert y(f, 3, "2024-01-01", "mql") == 0 and y(f, 3, "2024-01-01", "sales_accepted") == 0
    lost = pd.DataFrame(
        {"lead_id": [3, 3], "milestone": ["sales_accepted", "closed_lost"], "reasons": ["x", "y"]}
    )
    out, dropped = censor_lost(f.reset_index(), lost, LADDER)
    g = out.set_index(["lead_id", "cutoff"])
    for cutoff in ("2024-01-01", "2024-04-01"):
        assert y(g, 3, cutoff, "mql") is None and y(g, 3, cutoff, "sales_accepted") is None
        assert y(g, 3, cutoff, "opportunity") == 0
    assert y(g, 2, "2024-01-01", "mql") == 1
    assert dropped == {"mql": 2, "sales_accepted": 2}
    # a milestone off the ladder (closed_lost) alone censors nothing; nothing lost, nothing changed
    assert censor_lost(f.reset_index(), lost.iloc[[1]], LADDER)[1] == {}
    assert censor_lost(f.reset_index(), lost.iloc[:0], LADDER)[0].equals(f.reset_index())


def test_window_boundaries_include_the_cutoff_and_exclude_cutoff_plus_horizon():
    f = labels_for([(5, 100, "2024-04-01"), (6, 100, "2024-01-01")])
    assert y(f, 5, "2024-04-01", "mql") == 1  # at the cutoff: in the window (and not before it)
    assert y(f, 6, "2024-01-01", "mql") == 0  # 2024-01-01 + 90 days = 2024-03-31: outside


def test_a_window_running_past_the_data_is_censored_unless_already_positive():
    f = labels_for([(2, 100, "2024-11-01"), (4, 100, "2024-12-01"), (3, 100, "2024-05-01")])
    assert y(f, 2, "2024-11-01", "sales_accepted") is None  # unknown: the window is cut by the end
    assert y(f, 4, "2024-12-01", "mql") == 1  # crossed on 12-20, before the data ends: known
    assert y(f, 4, "2024-12-01", "sales_accepted") is None
    assert all(y(f, 3, "2024-05-01", g) == 0 for g in LADDER)  # a quiet lead, window complete


def test_revenue_anchoring_keeps_only_crossings_that_led_to_a_win_in_time():
    rows = [(1, 100, "2024-05-15")]
    short = labels_for(rows, revenue_anchored=("qualified_conversation",), follow_through_days=60)
    longer = labels_for(rows, revenue_anchored=("qualified_conversation",), follow_through_days=90)
    plain = labels_for(rows)
    assert y(plain, 1, "2024-05-15", "qualified_conversation") == 1
    assert (
        y(short, 1, "2024-05-15", "qualified_conversation") == 0
    )  # won 08-01, 61 days after 06-01
    assert y(longer, 1, "2024-05-15", "qualified_conversation") == 1
    assert y(short, 1, "2024-05-15", "opportunity") == 1  # not anchored: unchanged


def test_an_anchored_crossing_whose_follow_through_is_not_over_is_censored():
    late = pd.concat(
        [
            MILESTONES,
            pd.DataFrame(
                [(7, "qualified_conversation", T("2024-12-10"))], columns=MILESTONES.columns
            ),
        ]
    )
    snaps = pd.DataFrame({"lead_id": [7], "account_id": [200], "cutoff": [T("2024-10-01")]})
    out = make_labels(
        snaps,
        late,
        OPPORTUNITIES,
        settings(revenue_anchored=("qualified_conversation",), end_of_data="2025-01-31"),
    )
    assert pd.isna(out[label_column("qualified_conversation")].iloc[0])  # 12-10 + 60 days > the end


def test_the_label_table_meets_its_contract_and_settings_round_trip():
    f = labels_for([(1, 100, "2024-01-01"), (2, 100, "2024-11-01")]).reset_index()
    labels_schema(LADDER).validate(
        f[["lead_id", "account_id", "cutoff", *[label_column(g) for g in LADDER]]].join(
            f.filter(regex="^t_")
        )
    )
    s = settings(revenue_anchored=("opportunity",))
    assert LabelSettings.from_json(s.to_json()) == s


def test_sufficiency_counts_positives_per_gate_and_cohort():
    f = labels_for(
        [(1, 100, "2024-01-01"), (2, 100, "2024-01-01"), (3, 100, "2024-05-01")]
    ).reset_index()
    cohorts = pd.Series(["train", "train", "test"])
    s = sufficiency(f, LADDER, cohorts).set_index(["gate", "cohort"])
    assert s.loc[("mql", "train"), "positives"] == 2
    assert s.loc[("mql", "test"), "positives"] == 0
    assert s.loc[("mql", "test"), "labelled_snapshots"] == 1


@pytest.mark.parametrize("gate", LADDER)
def test_labels_are_missing_exactly_when_not_at_risk_or_censored(gate):
    f = labels_for([(3, 100, "2024-05-01")])
    assert y(f, 3, "2024-05-01", gate) == 0


def test_deal_size_is_the_band_mean_of_earlier_wins_only():
    opps = pd.DataFrame(
        {
            "account_id": [1, 1, 2, 2, 3],
            "outcome": ["won", "won", "won", "lost", "won"],
            "closed_at": pd.to_datetime(
                ["2025-01-05", "2025-02-05", "2025-03-01", "2025-03-02", "2025-08-01"]
            ),
            "amount": [10_000.0, 30_000.0, 200_000.0, 999_999.0, 5.0],
        }
    )
    accounts = pd.DataFrame({"account_id": [1, 2, 3], "employee_band": ["1-50", "1001+", "1-50"]})
    d = deal_sizes(opps, accounts, pd.Timestamp("2025-06-01"), min_deals=1)
    # the lost deal and the win after the cut do not count
    assert d["by_employee_band"] == {"1-50": 20_000.0, "1001+": 200_000.0}
    assert d["won_deals"] == 3 and d["check"]["won_deals"] == 1
    thin = deal_sizes(opps, accounts, pd.Timestamp("2025-06-01"), min_deals=2)
    assert thin["by_employee_band"]["1001+"] == pytest.approx(80_000.0)  # falls back to overall
    # a win without an amount is left out of the means, and counted
    blank = opps.assign(amount=opps["amount"].where(opps.index != 0))
    b = deal_sizes(blank, accounts, pd.Timestamp("2025-06-01"), min_deals=1)
    assert b["by_employee_band"] == {"1-50": 30_000.0, "1001+": 200_000.0}
    assert b["won_deals"] == 2 and b["won_deals_without_amount"] == 1
    none = deal_sizes(opps, accounts, pd.Timestamp("2024-01-01"))  # unknown, not 0, not an error
    assert none["overall_mean"] is None and none["won_deals"] == 0
    assert "unknown" in none["unknown"]


def test_ladder_ranks_follow_the_buying_journey():
    from readiness.domain import ladder_ranks

    assert ladder_ranks(("mql", "sales_accepted")) == {
        "mql": 1,
        "sales_accepted": 2,
        "qualified_conversation": 2,
        "opportunity": 2,
        "closed_won": 2,
    }
    # a milestone between two gates reaches the earlier; none before the first gate
    assert ladder_ranks(("sales_accepted", "opportunity")) == {
        "sales_accepted": 1,
        "qualified_conversation": 1,
        "opportunity": 2,
        "closed_won": 2,
    }
    # a ladder out of the journey's order ranks its own gates only
    assert ladder_ranks(("opportunity", "mql")) == {"opportunity": 1, "mql": 2}
