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
    # a blank is a value of its own: the same blank share is no drift, a new one is
    blanks = np.r_[reference, np.full(25, np.nan)]
    assert psi(blanks, blanks, bins=4) == 0.0
    e5, a5 = np.r_[e * 0.8, 0.2], np.r_[e, 0.0]
    a5 = np.maximum(a5, 1e-4)
    assert psi(blanks, reference, bins=4) == pytest.approx(
        float(np.sum((a5 - e5) * np.log(a5 / e5)))
    )


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


def test_a_published_run_is_judged_on_what_happened_after_it():
    from sklearn.metrics import roc_auc_score

    from models.monitor import realised_outcomes, realised_performance

    rng = np.random.default_rng(4)
    n = 400
    as_of = pd.Timestamp("2024-06-01")
    ladder = ("mql", "opportunity")
    p_mql = rng.uniform(0.05, 0.95, n)
    leads = pd.DataFrame(
        {
            "lead_id": np.arange(1, n + 1),
            "p_mql": p_mql,
            "p_opportunity": p_mql * 0.3,
            "route": np.where(p_mql > 0.8, "sales_now", "nurture_general"),
        }
    )
    rows = []
    for lead, p in zip(leads["lead_id"], p_mql, strict=True):
        if lead % 10 == 0:  # an MQL before the run: not at risk of mql, at risk of opportunity
            rows.append((lead, "mql", as_of - pd.Timedelta(days=5)))
        elif rng.random() < p:  # crossed within the 90-day horizon ...
            rows.append((lead, "mql", as_of + pd.Timedelta(days=int(rng.integers(0, 90)))))
        elif lead % 7 == 0:  # ... or only after it: a negative
            rows.append((lead, "mql", as_of + pd.Timedelta(days=120)))
        if lead % 25 == 0:  # an opportunity within the horizon (crosses mql too: the ladder)
            rows.append((lead, "opportunity", as_of + pd.Timedelta(days=30)))
    milestones = pd.DataFrame(rows, columns=["lead_id", "milestone", "occurred_at"])
    out = realised_outcomes(leads, milestones, ladder, as_of, 90)
    before = leads["lead_id"] % 10 == 0
    assert not out.loc[before, "at_risk_mql"].any() and out.loc[~before, "at_risk_mql"].all()
    assert out["at_risk_opportunity"].all()
    # an opportunity within the horizon crosses mql as well, for leads still at risk of it
    opp = (leads["lead_id"] % 25 == 0) & ~before
    assert out.loc[opp, "crossed_mql"].all() and out.loc[opp, "crossed_opportunity"].all()

    r = realised_performance(leads, out, ladder, "mql", "nurture_general")
    risk = out["at_risk_mql"].to_numpy()
    y = out["crossed_mql"].to_numpy()[risk]
    assert r["gates"]["mql"]["rows"] == risk.sum() == n - before.sum()
    assert r["gates"]["mql"]["roc_auc"] == pytest.approx(roc_auc_score(y, p_mql[risk]), abs=1e-5)
    assert r["gates"]["mql"]["roc_auc"] > 0.7  # the probabilities came true, roughly
    assert r["gates"]["mql"]["estimated_auc_at_publication"] is not None
    # sales handoffs judged on the sales gate: how many of them crossed it
    sales = (leads["route"] == "sales_now").to_numpy()
    handoffs = r["routes"]["sales_now"]
    assert handoffs["leads"] == sales.sum()
    assert handoffs["crossed_next_gate"] == int(
        (out["crossed_mql"] & out["at_risk_mql"])[sales].sum()
    )
    general = r["routes"]["nurture_general"]
    assert general["is_general_route"] and general["leads"] == (~sales).sum()
