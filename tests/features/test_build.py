"""The features stage on simulated data: contracts hold and independent code paths agree."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

from features.build import build_features
from features.catalog import build_catalog, catalog_version, feature_names
from features.profile import catalog_from_meta
from features.schemas import features_schema
from readiness.domain import DEFAULT_LADDER
from readiness.params import FeaturesParams

PARAMS = FeaturesParams(first_cutoff=date(2024, 3, 4), cadence_days=14)


@pytest.fixture(scope="module")
def built(small_validated, tmp_path_factory):
    out = tmp_path_factory.mktemp("features")
    summary = build_features(small_validated["validated"], out, PARAMS, DEFAULT_LADDER)
    return {"out": out, "summary": summary, **small_validated}


def read_training(out) -> pd.DataFrame:
    return (
        pd.read_parquet(out / "training").sort_values(["lead_id", "cutoff"]).reset_index(drop=True)
    )


def test_outputs_meet_the_feature_contract_and_carry_the_catalogue(built):
    meta = json.loads((built["out"] / "catalog.json").read_text())
    catalog = catalog_from_meta(meta)
    # the built-in families for the windows, then the simulated CRM's attributes
    assert catalog[: len(build_catalog(PARAMS.windows))] == build_catalog(PARAMS.windows)
    assert {f.name for f in catalog if f.family == "profile"} == {
        "attr_annual_revenue",
        "attr_current_tool",
        "attr_employees",
        "attr_sales_rating",
    }
    schema = features_schema(catalog)
    training = read_training(built["out"])
    scoring = pd.read_parquet(built["out"] / "scoring.parquet")
    schema.validate(training)
    schema.validate(scoring)
    assert list(training.columns[3:]) == feature_names(catalog)
    assert meta["version"] == catalog_version(catalog) == built["summary"]["catalog_version"]
    assert built["summary"]["training"]["snapshots"] == len(training) > 10_000


def test_scoring_snapshot_is_exactly_the_open_leads(built):
    v = built["validated"]
    leads = pd.read_parquet(v / "leads")
    ms = pd.read_parquet(v / "milestones")
    opps = pd.read_parquet(v / "opportunities")
    as_of = pd.Timestamp(built["summary"]["scoring"]["as_of"])
    closed = set(
        ms.loc[
            ms["milestone"].isin(["closed_won", "closed_lost"]) & (ms["occurred_at"] < as_of),
            "lead_id",
        ]
    )
    won_accounts = set(
        opps.loc[(opps["outcome"] == "won") & (opps["closed_at"] < as_of), "account_id"]
    )
    expected = leads[
        (leads["created_at"] < as_of.normalize())
        & ~leads["lead_id"].isin(closed)
        & ~leads["account_id"].isin(won_accounts)
    ]
    scoring = pd.read_parquet(built["out"] / "scoring.parquet")
    assert sorted(scoring["lead_id"]) == sorted(expected["lead_id"])
    assert (scoring["cutoff"] == as_of).all()


def test_training_snapshots_only_for_existing_open_leads(built):
    training = read_training(built["out"])
    leads = pd.read_parquet(built["validated"] / "leads").set_index("lead_id")
    created_day = training["lead_id"].map(leads["created_at"]).dt.normalize()
    assert (created_day < training["cutoff"]).all()
    ms = pd.read_parquet(built["validated"] / "milestones")
    closes = (
        ms[ms["milestone"].isin(["closed_won", "closed_lost"])]
        .groupby("lead_id")["occurred_at"]
        .min()
    )
    closed_day = training["lead_id"].map(closes).dt.normalize()
    assert not (closed_day < training["cutoff"]).any()
    assert (training["cutoff"].dt.dayofweek == 0).all()  # a Monday cadence from 2024-03-04


def test_window_and_join_strategies_and_bucketing_give_identical_tables(built, tmp_path):
    """The other strategies on the first year of cutoffs (training snapshots only, to keep the
    suite quick): the same rows as the full window build's at those cutoffs, which a later
    last cutoff must not change either (point in time)."""
    last = date(2025, 3, 3)
    window = read_training(built["out"])
    window = window[window["cutoff"] <= pd.Timestamp(last)].reset_index(drop=True)
    assert window["cutoff"].nunique() > 20
    join = tmp_path / "join"
    short = replace(PARAMS, last_cutoff=last)
    build_features(
        built["validated"],
        join,
        replace(short, training_strategy="join"),
        DEFAULT_LADDER,
        parts=("training",),
    )
    pd.testing.assert_frame_equal(window, read_training(join), check_exact=False, rtol=1e-9)
    buckets = tmp_path / "buckets"
    summary = build_features(
        built["validated"],
        buckets,
        replace(short, bucket_events=30_000),
        DEFAULT_LADDER,
        parts=("training",),
    )
    assert summary["training"]["buckets"] > 3
    pd.testing.assert_frame_equal(window, read_training(buckets), check_exact=False, rtol=1e-9)


def test_the_scoring_path_agrees_with_the_training_path_at_a_shared_cutoff(built, tmp_path):
    training = read_training(built["out"])
    cutoff = pd.Timestamp("2025-06-09")  # on the 14-day grid from 2024-03-04
    score = tmp_path / "score"
    build_features(
        built["validated"],
        score,
        replace(PARAMS, as_of=cutoff.date(), last_cutoff=date(2024, 4, 1)),
        DEFAULT_LADDER,
    )
    scoring = pd.read_parquet(score / "scoring.parquet").set_index("lead_id")
    at = training[training["cutoff"] == cutoff].set_index("lead_id")
    assert len(at) > 200
    # the scoring snapshot holds every open lead; training only the active ones: compare those
    pd.testing.assert_frame_equal(at, scoring.loc[at.index], check_exact=False, rtol=1e-9)


def test_a_first_cutoff_after_the_data_is_a_clear_error(small_validated, tmp_path):
    from readiness.errors import ReadinessError

    with pytest.raises(ReadinessError, match="No training cutoffs"):
        build_features(
            small_validated["validated"],
            tmp_path,
            replace(PARAMS, first_cutoff=date(2030, 1, 1)),
            DEFAULT_LADDER,
        )


def test_a_null_first_cutoff_leaves_the_first_leads_their_longest_window(small_validated, tmp_path):
    """The calendar is seen before anything is built (the stage tries its cohorts on it)."""
    from datetime import timedelta

    seen: dict = {}

    class Seen(Exception):
        pass

    def look(calendar: dict) -> None:
        seen.update(calendar)
        raise Seen

    with pytest.raises(Seen):
        build_features(
            small_validated["validated"],
            tmp_path / "features",
            replace(PARAMS, first_cutoff=None),
            DEFAULT_LADDER,
            on_calendar=look,
        )
    leads = pd.read_parquet(small_validated["validated"] / "leads")
    first_lead = leads["created_at"].min().date()
    assert seen["first_cutoff"] == str(first_lead + timedelta(days=max(PARAMS.windows)))
    assert seen["first_cutoff_chosen"] and seen["cadence_days"] == PARAMS.cadence_days
    # a stop before the build leaves no output behind (only the folder's owner mark)
    assert [f.name for f in (tmp_path / "features").iterdir()] == [".readiness-output"]


def test_the_catalogue_keeps_the_training_calendar(built):
    cal = json.loads((built["out"] / "catalog.json").read_text())["calendar"]
    assert cal["first_cutoff"] == str(PARAMS.first_cutoff) and not cal["first_cutoff_chosen"]
    assert cal["end_of_data"] == built["summary"]["end_of_data"]
