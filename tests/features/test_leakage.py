"""No leakage: what happens at or after a cutoff never changes that snapshot's features.

Property-based (hypothesis): random events, sales touches and milestones are added at or after
the cutoff (including exactly at it), and the features at the cutoff must not move, for the
training path (windows over day streams) and the scoring path (join over rows). A control test
shows the check does catch a leak: an unframed window, the classic trap.
"""

from __future__ import annotations

import functools

import ibis
import pandas as pd
import pytest
from feature_world import compute, frames
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import features.engine as engine
from readiness.domain import EVENT_TYPES

LEADS = [10, 11, 12, 20]
ASSETS = [101, 102, 201, 301, 302, 401, 402, None]
CUTOFFS = ["2024-03-26", "2024-04-01", "2024-04-10"]
LATER = "2024-09-01"  # a second cutoff keeps the future of the first one in the window stream

future_event = st.tuples(
    st.sampled_from(LEADS),
    st.sampled_from(EVENT_TYPES),
    st.sampled_from(ASSETS),
    st.integers(
        min_value=0, max_value=120 * 86400
    ),  # seconds at or after the cutoff (0 = exactly at it)
    st.sampled_from([None, '{"timeline":"this_quarter"}', '{"budget_authority":"yes"}']),
)
future_touch = st.tuples(
    st.sampled_from(LEADS),
    st.sampled_from(["call", "email", "meeting"]),
    st.integers(0, 60 * 86400),
)
future_milestone = st.tuples(
    st.sampled_from(LEADS),
    st.sampled_from(["mql", "sales_accepted", "opportunity"]),
    st.integers(0, 60 * 86400),
)


def _concat(base: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """Append rows keeping the base table's column types (empty frames have none of their own)."""
    out = pd.concat([base, extra], ignore_index=True) if len(extra) else base.reset_index(drop=True)
    return out.astype(base.dtypes.to_dict())


def with_future(cutoff: str, events, touches, milestones) -> dict[str, pd.DataFrame]:
    """The tiny world with everything at or after the cutoff replaced by the given rows."""
    data = frames()
    cut = pd.Timestamp(cutoff)
    ev = data["events"]
    ev = ev[ev["occurred_at"] < cut]
    extra = pd.DataFrame(
        [
            (1000 + i, lead, cut + pd.Timedelta(seconds=s), et, asset, props)
            for i, (lead, et, asset, s, props) in enumerate(events)
        ],
        columns=ev.columns,
    )
    extra["asset_id"] = extra["asset_id"].astype("Int64")
    data["events"] = _concat(ev, extra)
    data["events"]["properties"] = data["events"]["properties"].where(
        data["events"]["properties"].notna(), None
    )
    tc = data["sales_touches"]
    tc = tc[tc["occurred_at"] < cut]
    extra_t = pd.DataFrame(
        [
            (500 + i, lead, cut + pd.Timedelta(seconds=s), tt, "rep_x")
            for i, (lead, tt, s) in enumerate(touches)
        ],
        columns=tc.columns,
    )
    data["sales_touches"] = _concat(tc, extra_t)
    ms = data["milestones"]
    ms = ms[ms["occurred_at"] < cut]
    taken = set(zip(ms["lead_id"], ms["milestone"], strict=True))
    rows = []
    for lead, m, s in milestones:
        if (lead, m) not in taken:
            taken.add((lead, m))
            rows.append((lead, m, cut + pd.Timedelta(seconds=s), None))
    data["milestones"] = _concat(ms, pd.DataFrame(rows, columns=ms.columns))
    return data


def features_at(
    data, cutoff: str, strategy: str, level: str, later: str | None = None
) -> pd.DataFrame:
    """Features at `cutoff` (computed together with a `later` cutoff when given)."""
    cutoffs = [cutoff, later] if later else [cutoff]
    out = compute(data, cutoffs, strategy, level, leads=LEADS)
    return out.xs(pd.Timestamp(cutoff), level="cutoff", drop_level=False)


@functools.cache
def baseline_at(cutoff: str, strategy: str, level: str) -> pd.DataFrame:
    return features_at(with_future(cutoff, [], [], []), cutoff, strategy, level, LATER)


@pytest.mark.parametrize("strategy, level", [("window", "days"), ("join", "rows")])
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cutoff=st.sampled_from(CUTOFFS),
    events=st.lists(future_event, max_size=12),
    touches=st.lists(future_touch, max_size=3),
    milestones=st.lists(future_milestone, max_size=3),
    other_events=st.lists(future_event, max_size=4),
)
def test_the_future_never_changes_features(
    strategy, level, cutoff, events, touches, milestones, other_events
):
    baseline = baseline_at(cutoff, strategy, level)
    changed = features_at(
        with_future(cutoff, events + other_events, touches, milestones),
        cutoff,
        strategy,
        level,
        LATER,
    )
    pd.testing.assert_frame_equal(baseline, changed)


def test_an_event_exactly_at_the_cutoff_is_excluded_and_one_second_earlier_is_included():
    cutoff = "2024-04-01"
    at = with_future(cutoff, [(20, "pricing_page_view", None, 0, None)], [], [])
    assert (
        features_at(at, cutoff, "window", "days").loc[
            (20, pd.Timestamp(cutoff)), "pricing_views_all"
        ]
        == 0
    )
    before = frames()
    before["events"] = pd.concat(
        [
            before["events"],
            pd.DataFrame(
                [
                    (
                        999,
                        20,
                        pd.Timestamp(cutoff) - pd.Timedelta(seconds=1),
                        "pricing_page_view",
                        pd.NA,
                        None,
                    )
                ],
                columns=before["events"].columns,
            ),
        ],
        ignore_index=True,
    )
    before["events"]["asset_id"] = before["events"]["asset_id"].astype("Int64")
    for strategy, level in (("window", "days"), ("join", "rows")):
        assert (
            features_at(before, cutoff, strategy, level).loc[
                (20, pd.Timestamp(cutoff)), "pricing_views_all"
            ]
            == 1
        )


def test_the_check_catches_an_unframed_window(monkeypatch):
    """The trap from DESIGN.md: a window with group_by and order_by but a whole-partition frame."""
    original = ibis.window

    def leaky_window(*args, **kwargs):
        if kwargs.get("range") == (None, 0):
            kwargs["range"] = (None, None)  # sums the whole partition, future included
        return original(*args, **kwargs)

    cutoff = "2024-03-26"
    future = [(10, "pricing_page_view", None, 3600, None)]
    honest = features_at(with_future(cutoff, future, [], []), cutoff, "window", "days", LATER)
    monkeypatch.setattr(engine.ibis, "window", leaky_window)
    baseline = features_at(with_future(cutoff, [], [], []), cutoff, "window", "days", LATER)
    leaked = features_at(with_future(cutoff, future, [], []), cutoff, "window", "days", LATER)
    assert not leaked.equals(baseline)  # the property test above would fail on this engine
    assert (
        leaked.loc[(10, pd.Timestamp(cutoff)), "pricing_views_all"]
        > honest.loc[(10, pd.Timestamp(cutoff)), "pricing_views_all"]
    )
