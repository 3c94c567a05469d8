"""The monitor's statistics against independent computations: PSI by hand, the label-free AUC
estimate against brute force over pairs and against the AUCs of sampled labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from models.monitor import (
    auc_draws,
    estimate_performance,
    expected_auc,
    family_drift,
    feature_drift,
    psi,
)


def test_psi_matches_a_hand_computation():
    reference = np.repeat([1.0, 2.0, 3.0, 4.0], 25)  # quartile bins: 25 % each
    current = np.repeat([1.0, 2.0, 3.0, 4.0], [10, 20, 30, 40])
    e, a = np.full(4, 0.25), np.array([0.1, 0.2, 0.3, 0.4])
    assert psi(reference, current, bins=4) == pytest.approx(float(np.sum((a - e) * np.log(a / e))))
    assert psi(reference, reference, bins=4) == 0.0
    # a constant reference: a current sample that left it is a strong shift, not an error
    assert psi(np.zeros(50), np.zeros(20)) == 0.0 and psi(np.zeros(50), np.ones(20)) > 1


def test_drift_names_the_shifted_feature_and_its_family():
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"a": rng.normal(size=5000), "b": rng.normal(size=5000)})
    cur = pd.DataFrame({"a": rng.normal(size=3000), "b": rng.normal(1.0, 1, size=3000)})
    drift = feature_drift(ref, cur, {"a": "engagement", "b": "urgency"})
    assert drift.iloc[0]["feature"] == "b" and drift.iloc[0]["reading"] == "strong"
    assert drift.set_index("feature").loc["a", "reading"] == "stable"
    fam = family_drift(drift)
    assert fam.iloc[0]["family"] == "urgency" and fam.iloc[0]["strong"] == 1


def test_expected_auc_equals_brute_force_over_pairs():
    rng = np.random.default_rng(1)
    p = np.round(rng.beta(1, 6, size=300), 2)  # rounded: many ties
    num = den = 0.0
    for i in range(len(p)):
        for j in range(len(p)):
            if i != j:
                w = p[i] * (1 - p[j])
                den += w
                num += w * (1.0 if p[i] > p[j] else 0.5 if p[i] == p[j] else 0.0)
    assert expected_auc(p) == pytest.approx(num / den, rel=1e-9)


def test_the_estimate_tracks_the_auc_of_labels_drawn_from_calibrated_probabilities():
    rng = np.random.default_rng(2)
    p = rng.beta(0.6, 8, size=20_000)
    sims = auc_draws(p, draws=100, seed=3)
    assert abs(expected_auc(p) - sims.mean()) < 0.002
    # one realised label set (as labels arrive later): inside the estimate's 90 % band
    est = estimate_performance(p, draws=100, seed=4)
    y = rng.random(len(p)) < p
    realised = roc_auc_score(y, p)
    low, high = est["band_90"]
    assert low <= realised <= high and low < est["estimated_auc"] < high
    # nothing to expect: unknown, not a number
    assert estimate_performance(np.full(50, 0.001))["estimated_auc"] is None
