"""Path attributions: additive, exact where SHAP is (no interactions), close to TreeSHAP otherwise,
and drivers in plain language."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from features.catalog import NEVER_DAYS, build_catalog
from models.explain import PathAttribution, compare_with_shap, exact_shap, format_value, top_drivers

CATALOG = build_catalog((7, 30, 90))
BY_NAME = {f.name: f for f in CATALOG}


def train(depth: int, n: int = 4000, seed: int = 0) -> tuple[lgb.Booster, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "pricing_views_30d": rng.poisson(1.0, n).astype(float),
            "urgency_content_30d": rng.poisson(2.0, n).astype(float),
            "demo_requests_all": rng.binomial(1, 0.1, n).astype(float),
        }
    )
    z = 0.8 * X["pricing_views_30d"] + 0.5 * X["urgency_content_30d"] * X["demo_requests_all"] - 2
    y = rng.random(n) < 1 / (1 + np.exp(-z))
    params = {
        "objective": "binary",
        "max_depth": depth,
        "num_leaves": 2**depth,
        "verbose": -1,
        "seed": 1,
    }
    return lgb.train(params, lgb.Dataset(X, y), num_boost_round=40), X


def test_attributions_add_up_to_the_raw_score():
    booster, X = train(depth=4)
    pa = PathAttribution.from_booster(booster)
    c = pa.contributions(X, chunk_rows=1000)  # several chunks
    raw = booster.predict(X, raw_score=True)
    np.testing.assert_allclose(c.sum(axis=1) + pa.expected_value, raw, atol=1e-5)


def test_without_interactions_they_equal_exact_shap():
    booster, X = train(depth=1)  # stumps: an additive model, where both methods are exact
    pa = PathAttribution.from_booster(booster)
    np.testing.assert_allclose(pa.contributions(X), exact_shap(booster, X), atol=1e-5)


def test_with_interactions_the_top_driver_mostly_agrees_with_shap():
    booster, X = train(depth=4)
    cmp = compare_with_shap(PathAttribution.from_booster(booster), X.head(1000), top_k=2)
    assert cmp["rows"] == 1000
    assert cmp["top_1_same_feature_and_sign"] > 0.8
    assert 0 < cmp["top_k_mean_overlap"] <= 1


def test_drivers_are_plain_language_with_sign_and_value_strongest_first():
    X = pd.DataFrame(
        {
            "pricing_views_30d": [3.0, 0.0],
            "urgency_days_since_last": [5.0, NEVER_DAYS],
            "industry": [0.0, 2.0],
        }
    )
    contrib = np.array([[0.9, -0.2, 0.0], [0.0, -0.5, 0.1]])
    got = top_drivers(contrib, X, CATALOG, list(X.columns), k=3)
    assert got[0][0] == "+ " + BY_NAME["pricing_views_30d"].description + ": 3"
    assert got[0][1].startswith("- Days since the lead last consumed urgency content") and got[0][
        1
    ].endswith(": 5 days")
    assert got[0][2] == ""  # no contribution, no driver
    assert got[1][0].endswith(": never") and got[1][1].endswith(": healthcare")


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("budget_authority_stated", 1.0, "yes"),
        ("momentum_30d", 0.256, "0.26"),
        ("forms_90d", 1200.0, "1,200"),
    ],
)
def test_values_read_as_people_read_them(name, value, text):
    assert format_value(BY_NAME[name], value) == text
