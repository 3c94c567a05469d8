"""The pandas baseline of the benchmark computes the very same features as the engine.

Two independent implementations agreeing on simulated data is the strongest check of both, and
it makes the speed comparison in benchmarks/feature_build.py a like-for-like one.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from pandas_features import pandas_features

from features.build import build_features
from readiness.domain import DEFAULT_LADDER
from readiness.params import FeaturesParams


def test_pandas_and_the_engine_agree_on_every_feature(small_validated, tmp_path):
    p = FeaturesParams(first_cutoff=date(2024, 3, 4), cadence_days=14)
    build_features(small_validated["validated"], tmp_path, p, DEFAULT_LADDER)
    engine = (
        pd.read_parquet(tmp_path / "training")
        .sort_values(["lead_id", "cutoff"])
        .reset_index(drop=True)
    )
    some = engine[
        engine["cutoff"].isin(pd.to_datetime(["2024-06-24", "2025-01-13", "2025-09-29"]))
    ].reset_index(drop=True)
    reference = pandas_features(
        small_validated["validated"], some[["lead_id", "cutoff"]], p.windows, DEFAULT_LADDER
    )
    assert len(some) > 1000
    # the built-in families; the profile family (the user's attributes) is computed by pandas
    # itself and checked point in time in tests/readiness/raw/test_attributes.py
    assert [c for c in some.columns if c not in reference.columns] == [
        c for c in some.columns if c.startswith("attr_")
    ]
    pd.testing.assert_frame_equal(
        some[reference.columns], reference, check_exact=False, rtol=1e-9, check_dtype=False
    )
