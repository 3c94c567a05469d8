"""Snapshot rules: calendar cadence, existence, open, active; the scoring snapshot."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest
from feature_world import LADDER, frames, tables

from features.snapshots import (
    calendar,
    dormant_share,
    dormant_snapshots,
    lead_states,
    scoring_snapshot,
    training_snapshots,
)
from features.sources import day_stream, lead_measures

EPOCH = pd.Timestamp("1970-01-01")


def day(s: str) -> int:
    return int((pd.Timestamp(s) - EPOCH).days)


def date(d: int) -> str:
    return str((EPOCH + pd.Timedelta(days=int(d))).date())


def snapshots(
    data, first: str, last: str, cadence: int = 7, dormant: int = 30
) -> dict[int, list[str]]:
    con = ibis.duckdb.connect()
    t = tables(con, data)
    snaps = training_snapshots(
        t, day_stream(lead_measures(t, LADDER)), calendar(day(first), day(last), cadence), dormant
    ).to_pandas()
    return {lead: sorted(date(d) for d in g["cutoff_day"]) for lead, g in snaps.groupby("lead_id")}


def test_calendar_is_inclusive_with_a_fixed_cadence():
    assert calendar(10, 31, 7) == [10, 17, 24, 31]
    assert calendar(10, 9, 7) == []


def test_a_lead_has_snapshots_from_creation_while_active_and_not_after_closing():
    data = frames()
    # lead 20 (created 2024-01-05, activity on 02-10 only; its email open on 03-05 is no sign of life)
    got = snapshots(data, "2024-01-01", "2024-04-29", cadence=7, dormant=30)
    assert (
        got[20][0] == "2024-01-08"
    )  # first cutoff after creation (created 01-05, cutoff 01-01 is before)
    # active until 30 days after the last sign of life (02-10): last snapshot 03-11, none after
    assert got[20][-1] == "2024-03-11"
    # lead 30 was created on 03-01 and never engaged: 30 days of snapshots, then dormant
    assert got[30] == ["2024-03-04", "2024-03-11", "2024-03-18", "2024-03-25"]


def test_a_dormant_lead_that_comes_back_gets_snapshots_again():
    data = frames()
    revival = pd.DataFrame(
        [(77, 20, pd.Timestamp("2024-04-10 10:00"), "page_view", pd.NA, None)],
        columns=data["events"].columns,
    ).astype(data["events"].dtypes.to_dict())
    data["events"] = pd.concat([data["events"], revival], ignore_index=True)
    got = snapshots(data, "2024-01-01", "2024-05-27", cadence=7, dormant=30)[20]
    assert "2024-03-18" not in got and "2024-04-08" not in got  # dormant in between
    assert got[-4:] == [
        "2024-04-15",
        "2024-04-22",
        "2024-04-29",
        "2024-05-06",
    ]  # 30 days after 04-10
    assert "2024-05-13" not in got


def test_closing_stops_snapshots_for_the_lead_and_a_won_account_for_all_its_leads():
    data = frames()
    lost = pd.DataFrame(
        {
            "lead_id": [10],
            "milestone": ["closed_lost"],
            "occurred_at": [pd.Timestamp("2024-03-10 15:00")],
            "opportunity_id": pd.array([None], dtype="Int64"),
        }
    )
    data["milestones"] = pd.concat(
        [data["milestones"][data["milestones"]["milestone"] == "mql"].iloc[0:0], lost],
        ignore_index=True,
    )
    data["opportunities"] = pd.DataFrame(
        {
            "opportunity_id": [9],
            "account_id": [1],
            "primary_lead_id": pd.array([12], dtype="Int64"),
            "created_at": [pd.Timestamp("2024-03-21")],
            "closed_at": [pd.Timestamp("2024-03-27 12:00")],
            "outcome": ["won"],
            "amount": [1000.0],
        }
    )
    got = snapshots(data, "2024-03-04", "2024-04-29", cadence=7, dormant=60)
    assert got[10][-1] == "2024-03-04"  # lost on 03-10: the 03-11 cutoff sees a closed lead
    assert got[11][-1] == "2024-03-25"  # the account won on 03-27: no snapshot on 04-01
    assert got[12] == ["2024-03-25"]  # created 03-20, account won 03-27
    # account 2 is unaffected by account 1's win: active until 60 days after its 02-10 action
    assert got[20][-1] == "2024-04-08"
    # at a later as-of date every lead is counted once: lead 10 closed by its own loss, 11 and
    # 12 by their account's win (not scored, and not silently: features.json says so)
    t = tables(ibis.duckdb.connect(), data)
    states = lead_states(t, day("2024-04-15"))
    open_now = sorted(scoring_snapshot(t, day("2024-04-15")).to_pandas()["lead_id"])
    assert states["open"] == len(open_now) and 10 not in open_now and 11 not in open_now
    assert states["closed_by_own_outcome"] == 1 and states["closed_by_account"] == 2
    assert (
        states["leads"]
        == len(data["leads"])
        == sum(
            states[k]
            for k in ("open", "closed_by_own_outcome", "closed_by_account", "not_yet_created")
        )
    )
    # contact-level data (features.account_win_closes_leads: false): a colleague's won deal
    # closes no one else; the lead's own loss still closes it
    own = lead_states(t, day("2024-04-15"), by_account=False)
    assert own["closed_by_account"] == 0 and own["open"] == states["open"] + 2
    still = sorted(scoring_snapshot(t, day("2024-04-15"), by_account=False).to_pandas()["lead_id"])
    assert 11 in still and 12 in still and 10 not in still
    kept = training_snapshots(
        t,
        day_stream(lead_measures(t, LADDER)),
        calendar(day("2024-03-04"), day("2024-04-29"), 7),
        60,
        by_account=False,
    ).to_pandas()
    assert day("2024-04-01") in set(kept.loc[kept["lead_id"] == 11, "cutoff_day"])
    assert kept.loc[kept["lead_id"] == 10, "cutoff_day"].max() == day("2024-03-04")


def test_a_close_on_the_cutoff_day_leaves_the_lead_open_at_that_cutoff():
    data = frames()
    data["milestones"] = pd.DataFrame(
        {
            "lead_id": [20],
            "milestone": ["closed_lost"],
            "occurred_at": [pd.Timestamp("2024-02-12 09:00")],
            "opportunity_id": pd.array([None], dtype="Int64"),
        }
    )
    got = snapshots(data, "2024-01-01", "2024-04-29", cadence=7, dormant=60)[20]
    assert got[-1] == "2024-02-12"  # closed at 09:00 on the cutoff day: still open at midnight


def test_scoring_snapshot_has_every_open_lead_dormant_or_not():
    data = frames()
    con = ibis.duckdb.connect()
    t = tables(con, data)
    score = scoring_snapshot(t, day("2024-12-01")).to_pandas()
    assert sorted(score["lead_id"]) == [10, 11, 12, 20, 30]  # long dormant, still open
    early = scoring_snapshot(t, day("2024-02-01")).to_pandas()
    assert sorted(early["lead_id"]) == [10, 20]  # lead 11 is created on 02-01 itself: not before


def test_the_dormant_sample_holds_only_open_dormant_pairs_and_is_the_same_every_run():
    data = frames()
    con = ibis.duckdb.connect()
    t = tables(con, data)
    cutoffs = calendar(day("2024-01-01"), day("2024-06-24"), 7)
    active = training_snapshots(t, day_stream(lead_measures(t, LADDER)), cutoffs, 30)
    everything = dormant_snapshots(t, active, cutoffs, 1.0).to_pandas()
    act = active.to_pandas()
    # every pair is open and dormant: none is an active snapshot, none before creation
    both = everything.merge(act, on=["lead_id", "cutoff_day"])
    assert both.empty
    leads = data["leads"].set_index("lead_id")
    created = everything["lead_id"].map(leads["created_at"]).dt.normalize()
    assert (created < pd.to_datetime(everything["cutoff_day"].map(date))).all()
    # lead 20 (created 01-05, a sign of life on 02-10 only) is dormant 30 days after each:
    # at 02-05, then from 03-18 on
    idle_20 = sorted(date(d) for d in everything.loc[everything["lead_id"] == 20, "cutoff_day"])
    assert idle_20[:3] == ["2024-02-05", "2024-03-18", "2024-03-25"]
    # with the open active pairs they are every open pair
    lead_30 = set(act.loc[act["lead_id"] == 30, "cutoff_day"]) | set(
        everything.loc[everything["lead_id"] == 30, "cutoff_day"]
    )
    assert min(lead_30) == day("2024-03-04") and max(lead_30) == cutoffs[-1]
    # a share is a fixed subset: the same rows again, and a part of the whole
    half = dormant_snapshots(t, active, cutoffs, 0.5).to_pandas()
    again = dormant_snapshots(t, active, cutoffs, 0.5).to_pandas()
    key = ["lead_id", "cutoff_day"]
    assert (
        half.sort_values(key)
        .reset_index(drop=True)
        .equals(again.sort_values(key).reset_index(drop=True))
    )
    assert set(map(tuple, half[key].to_numpy())) <= set(map(tuple, everything[key].to_numpy()))
    assert 0 < len(half) < len(everything)
    assert dormant_snapshots(t, active, cutoffs, 0.0).to_pandas().empty
    # a small export: the share is raised to hold about the minimum (all, when fewer), never
    # lowered; 0 stays 0
    n = len(everything)
    assert dormant_share(t, active, cutoffs, 0.2, 10 * n) == 1.0
    assert dormant_share(t, active, cutoffs, 0.2, n // 2) == pytest.approx(max(0.2, (n // 2) / n))
    assert dormant_share(t, active, cutoffs, 0.9, 1) == 0.9
    assert dormant_share(t, active, cutoffs, 0.0, 10 * n) == 0.0


def test_reaching_the_ladders_last_gate_or_beyond_closes_a_lead():
    data = frames()
    con = ibis.duckdb.connect()
    t = tables(con, data)
    assert set(t.closing_with(LADDER).closing) == {"closed_won", "closed_lost"}
    short = t.closing_with(("mql", "sales_accepted"))
    assert set(short.closing) == {
        "closed_won",
        "closed_lost",
        "sales_accepted",
        "qualified_conversation",
        "opportunity",
    }
    # a lead with a sales_accepted milestone is closed on the short ladder, open on the full one
    ms = data["milestones"]
    accepted = set(ms.loc[ms["milestone"] == "sales_accepted", "lead_id"])
    assert accepted
    as_of = day("2024-12-01")
    full = set(scoring_snapshot(t, as_of).to_pandas()["lead_id"])
    cut = set(scoring_snapshot(short, as_of).to_pandas()["lead_id"])
    assert cut == full - accepted - set(ms.loc[ms["milestone"].isin(["opportunity"]), "lead_id"])
