"""Time to threshold (models/timing.py): the days to a crossing in the labels, the timing model
on a synthetic cohort whose speed a feature sets, coherent curves, the median days, Harrell's
concordance against its definition, and the score contract's check."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from models.evaluate import evaluate_timing
from models.labels import crossing_days_column, label_column, make_labels
from models.timing import (
    LIGHTGBM,
    MARGINAL,
    UNKNOWN,
    TimingModel,
    concordance,
    expected_days,
    fit_timing,
    horizon_curves,
    interval_class,
    median_days,
    when_text,
)
from readiness.scores import horizon_column, horizons_in, probability_column, score_schema
from tests.models.test_labels import MILESTONES, OPPORTUNITIES, T, settings

HORIZONS = (14, 30, 60)
H = 90


def brute_concordance(days, event, risk) -> float:
    """Harrell's C by its definition, pair by pair (the reference for the vectorised one)."""
    d = np.floor(days)
    num = den = 0.0
    for i, j in itertools.permutations(range(len(d)), 2):
        if event[i] and d[i] < d[j]:
            den += 1
            num += 1.0 if risk[i] > risk[j] else 0.5 if risk[i] == risk[j] else 0.0
    return num / den


def test_concordance_matches_its_definition_with_ties_and_censoring():
    rng = np.random.default_rng(3)
    days = rng.integers(0, 40, 120).astype(float) + rng.random(120) * 0.5
    event = rng.random(120) < 0.6
    days = np.where(event, days, 40.0)  # the rest censored at the horizon
    risk = np.round(rng.random(120) * 5) / 5 - days / 200  # many ties, some signal
    c, pairs = concordance(days, event, risk)
    assert c == pytest.approx(brute_concordance(days, event, risk), abs=1e-12)
    assert pairs > 0
    assert concordance(days, event, -days)[0] == pytest.approx(1.0)  # sooner = higher risk


def test_labels_carry_the_days_to_each_crossing_at_or_after_the_cutoff():
    snaps = pd.DataFrame(
        {
            "lead_id": [1, 1, 2],
            "account_id": [100] * 3,
            "cutoff": [T("2024-01-01"), T("2024-03-01"), T("2024-01-01")],
        }
    )
    out = make_labels(snaps, MILESTONES, OPPORTUNITIES, settings())
    t_mql = out[crossing_days_column("mql")]
    assert t_mql[0] == pytest.approx(40 + 10 / 24)  # 2024-02-10 10:00
    assert np.isnan(t_mql[1])  # crossed before the cutoff: not at risk, no days
    assert t_mql[2] == 60  # 2024-03-01
    # beyond the horizon too (the label says 0, the days still say when)
    assert out[label_column("closed_won")][0] == 0
    assert out[crossing_days_column("closed_won")][0] == 213  # 2024-08-01
    assert np.isnan(out[crossing_days_column("closed_won")][2])  # never crossed
    flat = make_labels(snaps.iloc[[0]], MILESTONES, OPPORTUNITIES, settings(flat=True))
    assert flat[crossing_days_column("mql")].isna().all()  # no dates on a flat export


def synthetic(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Leads whose feature `speed` sets how fast they cross (exponential days), `noise` nothing;
    all cross within some time, those within H are positives."""
    rng = np.random.default_rng(seed)
    speed = rng.random(n)
    X = pd.DataFrame({"speed": speed, "noise": rng.random(n)})
    days = rng.exponential(80 - 70 * speed)
    y = (days < H).astype(int)
    return X, days, y


def fitted(n: int = 6000, **kw) -> tuple[TimingModel, pd.DataFrame, np.ndarray, np.ndarray]:
    X, days, y = synthetic(n)
    half = n // 2
    rows = (np.arange(half), np.arange(half, n))
    t = fit_timing(
        "mql",
        X,
        days,
        y,
        rows=rows,
        complete=np.ones(n, dtype=bool),
        categorical=[],
        lgb_params={"learning_rate": 0.1, "num_leaves": 7, "verbose": -1, "seed": 1},
        horizons=HORIZONS,
        horizon_days=H,
        seed=1,
        **kw,
    )
    return t, X, days, y


def test_the_timing_model_learns_who_crosses_sooner():
    t, X, days, y = fitted()
    assert t.method == LIGHTGBM
    Xn, dn, yn = synthetic(3000, seed=9)
    share = t.shares(Xn)
    assert (np.diff(share, axis=1) >= 0).all() and (share >= 0).all() and (share <= 1).all()
    # among leads that cross within H, the fast ones are predicted to cross early far more often
    fast, slow = Xn["speed"] > 0.8, Xn["speed"] < 0.2
    assert share[fast.to_numpy(), 0].mean() > 2 * share[slow.to_numpy(), 0].mean()
    # and the shares are calibrated to the realised ones among the new leads' crossings
    pos = yn == 1
    realised = np.array([(dn[pos] < h).mean() for h in HORIZONS])
    assert np.abs(share[pos].mean(axis=0) - realised).max() < 0.04


def test_few_crossings_fall_back_to_the_marginal_timing_then_to_unknown():
    X, days, y = synthetic(200)
    rows = (np.arange(150), np.arange(150, 200))
    common = dict(categorical=[], lgb_params={}, horizons=HORIZONS, horizon_days=H, seed=1)
    t = fit_timing("mql", X, days, y, rows=rows, complete=np.ones(200, bool), **common)
    assert t.method == MARGINAL and "marginal" in t.reason
    pos = rows[0][y[rows[0]] == 1]
    expected = [(days[pos] < h).mean() for h in HORIZONS]
    assert np.allclose(t.shares(X.head(3)), expected)
    # windows cut short by the end of data do not count: too few complete crossings left
    none = fit_timing("mql", X, days, y, rows=rows, complete=np.zeros(200, bool), **common)
    assert none.method == UNKNOWN and "unknown" in none.reason
    assert np.isnan(none.shares(X.head(2))).all()
    assert interval_class(np.array([0.0, 13.9, 14.0, 59.9, 60.0, 89.0]), HORIZONS).tolist() == [
        0,
        0,
        1,
        2,
        3,
        3,
    ]


def test_curves_are_coherent_along_horizons_and_ladder_and_end_at_readiness():
    class Fixed(TimingModel):
        def shares(self, M):
            return np.tile(np.asarray(self.marginal), (len(M), 1))

    ladder = ("mql", "sales_accepted", "closed_won")
    timing = {
        "mql": Fixed("mql", HORIZONS, H, MARGINAL, "", marginal=(0.2, 0.5, 0.8)),
        # a later gate whose crossings come early: capped by mql's curve per horizon
        "sales_accepted": Fixed(
            "sales_accepted", HORIZONS, H, MARGINAL, "", marginal=(0.9, 0.95, 1.0)
        ),
        "closed_won": TimingModel("closed_won", HORIZONS, H, UNKNOWN, "too few"),
    }
    probs = pd.DataFrame(
        {
            "p_mql": [0.6, 1.0, 0.3],
            "p_sales_accepted": [0.5, 0.7, 0.3],
            "p_closed_won": [0.1, 0.2, 0.3],
        }
    )
    stage = np.array([0, 1, 0])  # the second lead crossed mql already
    out = horizon_curves(timing, pd.DataFrame(index=range(3)), probs, ladder, stage)
    assert out[horizon_column("mql", 14)].tolist() == pytest.approx([0.12, 1.0, 0.06])
    # sales_accepted: 0.5 x 0.9 = 0.45 > mql's 0.12 within 14 days: capped at 0.12
    assert out[horizon_column("sales_accepted", 14)][0] == pytest.approx(0.12)
    assert out[horizon_column("sales_accepted", 14)][1] == pytest.approx(0.63)
    assert out[horizon_column("closed_won", 30)].isna().all()  # unknown, not a guess
    for g in ("mql", "sales_accepted"):
        a = out[[horizon_column(g, h) for h in HORIZONS]].to_numpy()
        assert (np.diff(a, axis=1) >= 0).all()
        assert (a[:, -1] <= probs[probability_column(g)].to_numpy() + 1e-12).all()
    # median days: mql of lead 0 reaches 0.5 between 60 (0.48) and 90 (0.6) days
    assert out["days_mql"][0] == pytest.approx(60 + 30 * (0.02 / 0.12))
    assert out["days_mql"][1] == 0  # crossed already
    assert np.isnan(out["days_mql"][2])  # 0.3 within 90 days: not expected within the horizon
    assert out["days_sales_accepted"][1] == pytest.approx(14 * 0.5 / 0.63)
    assert out["days_closed_won"].isna().all()
    # the next gate's timing in words: an empty days_<gate> is said to be unlikely or unknown
    words = when_text(out, probs, timing, ladder, np.array([0, 1, 0]), stage)
    assert words.tolist() == [
        "likely in about 65 days",
        "likely in about 11 days",
        "unlikely within 90 days (30%)",
    ]
    last = when_text(out, probs, timing, ladder, np.array([2, 2, 0]), np.array([0, 0, 1]))
    assert last.tolist() == ["unknown: too few", "unknown: too few", "crossed"]
    assert when_text(out, probs, {}, ladder, np.zeros(3, int), stage)[0].startswith("unknown: ")


def test_median_and_expected_days_on_a_hand_curve():
    grid = np.array([0.0, 10.0, 20.0])
    curve = np.array([[0.0, 0.5, 1.0], [0.0, 0.25, 0.5], [0.0, 0.1, 0.2]])
    assert median_days(curve, grid)[:2].tolist() == [10.0, 20.0]
    assert np.isnan(median_days(curve, grid)[2])
    # area above the curve: (1 - 0.25) x 10 + (1 - 0.75) x 10
    assert expected_days(curve, grid)[0] == pytest.approx(10.0)


def test_evaluation_rewards_a_timing_that_ranks_crossing_days():
    t, X, days, y = fitted()
    Xn, dn, yn = synthetic(4000, seed=5)
    # readiness that says nothing of speed: only the timing can rank who crosses sooner
    probs = pd.DataFrame({"p_mql": np.full(len(Xn), 0.7)})
    curves = horizon_curves({"mql": t}, Xn, probs, ("mql",), np.zeros(len(Xn)))
    labels = pd.DataFrame(
        {
            label_column("mql"): pd.array(yn, dtype="Int8"),
            crossing_days_column("mql"): dn,
        }
    )
    out = evaluate_timing({"mql": t}, curves, probs, labels, ("mql",))
    g = out["gates"]["mql"]
    assert g["crossings"] == int(yn.sum()) and set(g["by_horizon"]) == {"14", "30", "60"}
    assert g["concordance_readiness_alone"] == 0.5  # every lead tied
    assert g["concordance"] > 0.6
    # among the leads that crossed, only the timing orders when
    assert g["concordance_among_crossings_readiness_alone"] == 0.5
    assert g["concordance_among_crossings"] > 0.6
    assert g["by_horizon"]["14"]["auc"] > 0.65
    assert (
        abs(g["by_horizon"]["30"]["predicted_share"] - g["by_horizon"]["30"]["realised_share"])
        < 0.1
    )


def test_the_score_contract_rejects_a_curve_that_falls_with_the_horizon():
    from tests.helpers.score_frames import LADDER, make_scores

    _, leads, _ = make_scores(12)
    for g in LADDER:
        p = leads[probability_column(g)]
        for k, h in enumerate(HORIZONS):
            leads[horizon_column(g, h)] = p * (k + 1) / 4
    assert horizons_in(leads.columns, LADDER) == HORIZONS
    schema = score_schema(LADDER, 3, horizons=HORIZONS)
    schema.validate(leads)
    broken = leads.copy()
    broken.loc[1, horizon_column(LADDER[1], 14)] = broken.loc[1, probability_column(LADDER[1])]
    broken.loc[1, horizon_column(LADDER[1], 30)] = 0.0  # falls with the horizon
    with pytest.raises(Exception, match="coherent_time_to_threshold"):
        schema.validate(broken)
    unknown = leads.copy()
    unknown[horizon_column(LADDER[-1], 30)] = np.nan  # unknown timing passes
    schema.validate(unknown)


def test_an_unknown_timing_publishes_no_days_even_without_horizons():
    """With no horizon below H the curve is only its ends, (0, 0) and (H, P_H): a straight
    line through them would be a guess, so the days stay empty (a crossed gate: 0)."""
    timing = {"mql": TimingModel("mql", (), H, UNKNOWN, "no horizons")}
    probs = pd.DataFrame({"p_mql": [0.9, 1.0]})
    out = horizon_curves(timing, pd.DataFrame(index=range(2)), probs, ("mql",), np.array([0, 1]))
    assert np.isnan(out["days_mql"][0]) and out["days_mql"][1] == 0
