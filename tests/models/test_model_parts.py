"""Calibration, the coherent ladder, the metrics and the promotion decision, on small inputs."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from models.bundle import coherent, ladder_caps
from models.calibration import Calibrator, fit_calibrator
from models.cohorts import CALIBRATE, STOP, TEST, TRAIN, assign_cohorts
from models.dormant import PLATT_MIN_POSITIVES, fit_dormant_maps, fit_map, is_dormant
from models.evaluate import expected_calibration_error, gate_metrics
from models.promotion import failed_checks, promotion_decision
from models.registry import redact
from readiness.domain import BELIEFS
from readiness.params import PromotionParams, TrainParams

LADDER = ("mql", "sales_accepted", "opportunity")


def test_isotonic_calibration_fixes_a_miscalibrated_score():
    rng = np.random.default_rng(0)
    true_p = rng.uniform(0, 0.4, 20_000)
    y = rng.random(20_000) < true_p
    raw = np.sqrt(true_p)  # ranks right, probabilities far too high
    cal = fit_calibrator(raw, y, "auto")
    assert cal.method == "isotonic"
    assert expected_calibration_error(y, raw) > 0.15
    assert expected_calibration_error(y, cal.apply(raw)) < 0.01
    assert Calibrator.from_dict(cal.to_dict()).apply(np.array([0.3]))[0] == pytest.approx(
        cal.apply(np.array([0.3]))[0]
    )


def test_few_positives_use_a_sigmoid_and_one_class_the_identity():
    rng = np.random.default_rng(1)
    raw = rng.uniform(0, 1, 500)
    y = rng.random(500) < raw * 0.1
    assert fit_calibrator(raw, y, "auto").method == "sigmoid"
    assert fit_calibrator(raw, np.zeros(500), "auto").method == "identity"


def test_the_ladder_is_coherent_and_crossed_gates_are_certain():
    probs = pd.DataFrame(
        {
            "p_mql": [0.2, 0.9, 0.5],
            "p_sales_accepted": [0.5, 0.3, 0.4],
            "p_opportunity": [0.1, 0.6, 0.9],
        }
    )
    stage = np.array([0, 0, 1])  # the third lead already is an MQL
    out = coherent(probs, LADDER, stage)
    assert out.loc[0].tolist() == [0.2, 0.2, 0.1]
    assert out.loc[1].tolist() == [0.9, 0.3, 0.3]
    assert out.loc[2].tolist() == [1.0, 0.4, 0.4]
    assert (out.diff(axis=1).iloc[:, 1:] <= 0).all().all()
    # what coherence lowered is counted, among leads short of each gate (a crossed gate raised
    # to 1 is no cap)
    caps = ladder_caps(probs, out, LADDER, stage)
    assert caps == {
        "sales_accepted": {"leads": 1, "share": round(1 / 3, 4), "median_cut": 0.3},
        "opportunity": {"leads": 2, "share": round(2 / 3, 4), "median_cut": 0.4},
    }
    # a cut below a percentage point is the ladder's rounding, not worth a word
    tiny = probs.assign(p_sales_accepted=[0.205, 0.3, 0.4], p_opportunity=[0.1, 0.3, 0.4])
    assert ladder_caps(tiny, coherent(tiny, LADDER, stage), LADDER, stage) == {}


def test_metrics_by_hand():
    y = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    p = np.array([0.9, 0.8, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2])
    m = gate_metrics(y, p, bins=2)
    assert m["positives"] == 2 and m["rows"] == 10
    assert m["top_decile_lift"] == pytest.approx(1.0 / 0.2)  # the top row is a positive
    assert m["recall_at_20pct"] == pytest.approx(0.5)  # top 2 rows: 0.9 (yes), 0.8 (no)
    # equal-count bins: the 5 lowest have mean p 0.1 and rate 0; the 5 highest mean 0.42 and rate 0.4
    assert m["ece"] == pytest.approx(0.5 * 0.1 + 0.5 * abs(0.42 - 0.4))
    assert 0.5 < m["roc_auc"] < 1


def test_promotion_needs_calibration_and_no_auc_drop_beyond_the_bound():
    p = PromotionParams(max_auc_drop=0.005, max_ece=0.03)
    good = {"mql": {"roc_auc": 0.80, "ece": 0.01}, "opportunity": {"roc_auc": 0.90, "ece": 0.02}}
    assert promotion_decision(good, None, p)["promote"]
    assert not promotion_decision({**good, "mql": {"roc_auc": 0.80, "ece": 0.05}}, None, p)[
        "promote"
    ]
    champion = {
        "mql": {"roc_auc": 0.804, "ece": 0.01},
        "opportunity": {"roc_auc": 0.92, "ece": 0.01},
    }
    decision = promotion_decision(good, champion, p)
    assert not decision["promote"]
    assert any("opportunity" in r and "below the champion" in r for r in decision["reasons"])
    assert promotion_decision(
        good, {**champion, "opportunity": {"roc_auc": 0.903, "ece": 0.01}}, p
    )["promote"]
    # a gate too thin to judge does not block
    assert promotion_decision({**good, "closed_won": {"ece": 0.0}}, None, p)["promote"]
    # a gate worse than its own baseline beyond noise blocks (unless params allow it); a gap
    # within noise (or a gate that ships the baseline itself: difference 0) does not
    behind = {"mql": {"your_columns": {"difference": -0.005, "low": -0.009, "high": -0.001}}}
    decision = promotion_decision(good, None, p, behind)
    assert not decision["promote"]
    assert failed_checks(decision) == [
        "mql: worse than the your_columns baseline beyond noise (AUC difference -0.0050, "
        "95 % interval -0.0090 to -0.0010)"
    ]
    noise = {"mql": {"logistic": {"difference": -0.002, "low": -0.006, "high": 0.002}}}
    same = {"mql": {"logistic": {"difference": 0.0, "low": 0.0, "high": 0.0}}}
    assert promotion_decision(good, None, p, noise)["promote"]
    assert promotion_decision(good, None, p, same)["promote"]
    lenient = PromotionParams(never_behind_baselines=False)
    assert promotion_decision(good, None, lenient, behind)["promote"]


def test_cohorts_are_date_ranges_and_validation_alternates():
    p = TrainParams(
        train_start=date(2024, 1, 1),
        train_end=date(2024, 11, 18),
        valid_start=date(2025, 2, 17),
        valid_end=date(2025, 3, 17),
        test_start=date(2025, 6, 30),
        test_end=date(2025, 7, 31),
    )
    cutoffs = pd.Series(
        pd.to_datetime(
            [
                "2024-03-04",
                "2024-11-18",
                "2024-12-02",
                "2025-02-17",
                "2025-03-03",
                "2025-03-17",
                "2025-07-14",
                "2025-10-13",
            ]
        )
    )
    c = assign_cohorts(cutoffs, p).tolist()
    assert c[:2] == [TRAIN, TRAIN]
    assert pd.isna(c[2])  # in the gap
    assert c[3:6] == [STOP, CALIBRATE, STOP]
    assert c[6] == TEST and pd.isna(c[7])


def test_database_passwords_are_never_printed():
    assert (
        redact("postgresql://ops:s3cret@db.example:5432/mlflow")
        == "postgresql://ops:***@db.example:5432/mlflow"
    )
    assert redact("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"


def _gate_data(kind: str, n: int = 6000, seed: int = 3):
    """Two numeric features; the outcome is linear in them ("linear") or an interaction
    ("interaction") that a linear model cannot see."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    z = 1.5 * X["a"] - X["b"] if kind == "linear" else 2.5 * X["a"] * X["b"]
    y = (rng.random(n) < 1 / (1 + np.exp(-(z - 1.0)))).astype(int).to_numpy()
    return X, y


def _fit_one_gate(X, y, p, rows=None):
    """One gate fitted and its scorer chosen; `rows` (train, stop, calibrate) default to halves
    and quarters of the data."""
    from models.bundle import LogisticBaseline, PointsScore
    from models.train import _choose_blend, _fit_baselines, _fit_gate, _lightgbm_params

    rng = np.random.default_rng(0)
    idx = np.arange(len(y))
    tr, st, ca = rows or (
        idx[: len(y) // 2],
        idx[len(y) // 2 : 3 * len(y) // 4],
        idx[3 * len(y) // 4 :],
    )
    gm = _fit_gate(
        "mql",
        X,
        y,
        rows=(tr, st, ca),
        categorical=[],
        lgb_params=_lightgbm_params(p, [0, 0]),
        base_rate=float(y[tr].mean()),
        p=p,
        rng=rng,
    )
    logistic = LogisticBaseline.design(X.iloc[tr], ["a", "b"], [])
    points = PointsScore({}, 5.0)
    linears = {"logistic": logistic}
    _fit_baselines("mql", X, y, rows=(tr, ca), linears=linears, points=points, p=p, rng=rng)
    _choose_blend(gm, linears, X, y, rows=(st, ca), p=p)
    return gm, logistic, st


def _titled_snapshots(n_leads: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Ten snapshots per lead sharing the lead's outcome; a job title (60 codes) with no effect
    beside a numeric signal."""
    rng = np.random.default_rng(seed)
    lead = np.repeat(np.arange(n_leads), 10)
    title = rng.integers(0, 60, n_leads)[lead].astype(float)
    a = rng.normal(size=n_leads)[lead] + rng.normal(scale=0.3, size=len(lead))
    first = rng.random(n_leads) < 1 / (1 + np.exp(-(1.2 * a[::10] - 2)))
    return pd.DataFrame({"a": a, "title": title}), first[lead].astype(int)


def test_a_category_is_split_on_leads_not_on_a_leads_repeated_snapshots():
    """A free-text column with no effect took 17 % of a trial's booster gain: 100 rows of a
    title were 10 leads. Asked per lead, the title's share of the gain falls and the booster
    ranks new leads better."""
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score

    from models.train import _lightgbm_params

    X, y = _titled_snapshots(1500, 1)
    Xv, yv = _titled_snapshots(1500, 2)
    share, auc = {}, {}
    for per_lead in (1.0, 10.0):
        params = {**_lightgbm_params(TrainParams(), [0, 0], per_lead), "metric": "binary_logloss"}
        booster = lgb.train(
            params,
            lgb.Dataset(X, y, categorical_feature=["title"]),
            200,
            valid_sets=[lgb.Dataset(Xv, yv, categorical_feature=["title"])],
            callbacks=[lgb.early_stopping(30, verbose=False)],
        )
        gain = booster.feature_importance("gain")
        share[per_lead] = gain[1] / gain.sum()
        auc[per_lead] = roc_auc_score(yv, booster.predict(Xv))
    assert _lightgbm_params(TrainParams(), [0], 1.0)["min_data_per_group"] == 100  # LightGBM's
    assert share[10.0] < 0.6 * share[1.0]
    assert auc[10.0] > auc[1.0]


def test_a_gate_never_loses_to_its_logistic_regression_on_validation():
    from sklearn.metrics import roc_auc_score

    # a weak booster (2 stumps) on a linear signal: the logistic side must take over
    weak = TrainParams(
        lightgbm={"n_estimators": 2, "num_leaves": 2, "min_rounds": 1, "learning_rate": 0.01}
    )
    X, y = _gate_data("linear")
    gm, logistic, st = _fit_one_gate(X, y, weak)
    assert gm.info["scorer"] in ("logistic", "blend") and gm.lightgbm_weight < 1
    auc_gate = roc_auc_score(y[st], gm.raw(X.iloc[st]))
    auc_logistic = roc_auc_score(y[st], logistic.raw(X.iloc[st], "mql"))
    assert auc_gate >= auc_logistic - 1e-9
    assert "validation AUC" in gm.info["scorer_reason"]
    # an interaction the regression cannot see: LightGBM alone stays
    X2, y2 = _gate_data("interaction")
    gm2, _, _ = _fit_one_gate(X2, y2, TrainParams())
    assert gm2.info["scorer"] == "lightgbm" and gm2.lightgbm_weight == 1.0 and gm2.linear is None


def test_a_gain_over_the_logistic_regression_within_noise_keeps_the_regression():
    from models.evaluate import auc_difference

    # a linear signal with a moderate interaction: LightGBM is better, but 80 validation rows
    # judge it, so its gain is about 1.7 standard errors
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"a": rng.normal(size=6000), "b": rng.normal(size=6000)})
    z = X["a"] - 0.5 * X["b"] + 0.8 * X["a"] * X["b"]
    y = (rng.random(6000) < 1 / (1 + np.exp(-(z - 1.0)))).astype(int).to_numpy()
    idx = np.arange(len(y))
    tr, st, ca = idx[:3000], idx[3000:3080], idx[3080:]
    chosen = {}
    for z in (0.0, 1.0, 2.5):
        chosen[z], logistic, _ = _fit_one_gate(
            X, y, TrainParams(blend_confidence_z=z), rows=(tr, st, ca)
        )
    gain, se = (
        chosen[0.0].info["stop_best_gain_over_logistic"],
        chosen[0.0].info["stop_best_gain_se"],
    )
    # the recorded gain is DeLong's, recomputed independently here
    d = auc_difference(
        y[st],
        chosen[0.0].margin(X.iloc[st]),
        logistic.margin(X.iloc[st], "mql"),
    )
    assert gain == pytest.approx(d["difference"], abs=1e-5) and se == pytest.approx(
        d["se"], abs=1e-5
    )
    assert 1.0 * se < gain < 2.5 * se
    for loose in (chosen[0.0], chosen[1.0]):
        assert loose.lightgbm_weight > 0 and loose.info["scorer"] != "logistic"
    strict = chosen[2.5]
    assert strict.info["scorer"] == "logistic" and strict.lightgbm_weight == 0.0
    assert "DeLong standard error" in strict.info["scorer_reason"]
    # the default scorer is recalibrated: its probabilities follow the regression's order
    raw = strict.raw(X.iloc[ca])
    lin = logistic.margin(X.iloc[ca], "mql")
    order = np.argsort(lin)
    assert np.all(np.diff(raw[order]) >= -1e-12)


def test_a_blended_gate_saves_loads_and_explains_additively(tmp_path):
    from models.bundle import ReadinessModel
    from models.explain import GateAttribution

    weak = TrainParams(
        lightgbm={"n_estimators": 3, "num_leaves": 2, "min_rounds": 1, "learning_rate": 0.01}
    )
    X, y = _gate_data("linear")
    gm, _, _ = _fit_one_gate(X, y, weak)
    gm.lightgbm_weight = 0.5  # a true blend: both sides contribute
    model = ReadinessModel(("mql",), ["a", "b"], [], "v", {"mql": gm}, 90)
    model.save(tmp_path / "m")
    back = ReadinessModel.load(tmp_path / "m")
    assert back.gates["mql"].lightgbm_weight == 0.5
    np.testing.assert_allclose(back.gates["mql"].raw(X), gm.raw(X), rtol=1e-9)
    att = GateAttribution.of(back.gates["mql"], ["a", "b"])
    contrib = att.contributions(X.head(200))
    margin = back.gates["mql"].margin(X.head(200))
    # contributions + the blend's constant (booster expectation and intercept) = the margin
    constant = 0.5 * att.path.expected_value + 0.5 * gm.linear.coefs["mql"]["b"]
    np.testing.assert_allclose(contrib.sum(axis=1) + constant, margin, atol=1e-4)


def test_early_stopping_keeps_a_minimum_of_trees():
    X, y = _gate_data("interaction", n=3000)
    p = TrainParams(lightgbm={"early_stopping_rounds": 1, "min_rounds": 15, "learning_rate": 0.5})
    gm, _, _ = _fit_one_gate(X, y, p)
    assert gm.info["best_iteration"] == 15 and gm.booster.current_iteration() == 15


def test_shift_warnings_name_the_gate_and_the_feature():
    from models.train import shift_warnings

    rng = np.random.default_rng(0)
    cohort = pd.Series([TRAIN] * 1000 + [TEST] * 1000)
    X = pd.DataFrame(
        {
            "stable": rng.normal(size=2000),
            "moved": np.r_[rng.normal(size=1000), rng.normal(3, 1, 1000)],
            # a user's column, blank on a fifth of the rows in both: no shift (it was inf)
            "visits": np.where(rng.random(2000) < 0.2, np.nan, rng.normal(size=2000)),
        }
    )
    suff = pd.DataFrame(
        {
            "gate": ["mql", "mql", "won", "won"],
            "cohort": [TRAIN, TEST, TRAIN, TEST],
            "positive_rate": [0.05, 0.26, 0.10, 0.11],
        }
    )
    out = shift_warnings(X, suff, cohort, TrainParams())
    assert len(out) == 2
    assert "mql gate's positive rate shifts" in out[0] and "won" not in out[0]
    assert "moved" in out[1] and "stable" not in out[1] and "visits" not in out[1]


def test_delong_auc_difference_matches_sklearn_and_a_bootstrap():
    """The model-minus-baseline AUC interval: the difference is sklearn's, and DeLong's standard
    error agrees with a paired bootstrap of the same rows (within 15 %)."""
    from sklearn.metrics import roc_auc_score

    from models.evaluate import auc_difference

    rng = np.random.default_rng(0)
    n = 1500
    signal = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(signal - 1.5)))).astype(int)
    a = signal + rng.normal(scale=0.8, size=n)
    b = signal + rng.normal(scale=1.2, size=n)
    b[:10] = b[10]  # ties are ranked by their mid-rank
    d = auc_difference(y, a, b)
    assert d["difference"] == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b), abs=1e-12)
    boot = []
    for _ in range(400):
        i = rng.integers(0, n, n)
        boot.append(roc_auc_score(y[i], a[i]) - roc_auc_score(y[i], b[i]))
    assert d["se"] == pytest.approx(np.std(boot), rel=0.15)
    assert d["low"] < d["difference"] < d["high"]
    same = auc_difference(y, a, a)
    assert same["difference"] == 0 and same["se"] == 0
    # one row per lead: the clustered error is DeLong's (up to I/(I-1))
    alone = auc_difference(y, a, b, np.arange(n))
    assert alone["se"] == pytest.approx(d["se"], rel=0.01)
    # every lead seen ten times (ten snapshots, the same rows): plain DeLong shrinks its error
    # about sqrt(10)-fold as if the rows were new leads; clustered by lead it does not, and it
    # agrees with a bootstrap that resamples leads
    rep = np.repeat(np.arange(n), 10)
    plain = auc_difference(y[rep], a[rep], b[rep])
    clustered = auc_difference(y[rep], a[rep], b[rep], rep)
    assert plain["se"] < 0.4 * d["se"]
    assert clustered["se"] == pytest.approx(d["se"], rel=0.02)
    assert clustered["se"] == pytest.approx(np.std(boot), rel=0.15)


def test_a_gate_crossed_at_creation_is_named_so_and_never_asks_for_more_data():
    from models.train import crossed_at_creation, sufficiency_warnings

    rows = []
    for cohort in (TRAIN, STOP, CALIBRATE, TEST):
        rows.append({"gate": "mql", "cohort": cohort, "labelled_snapshots": 0, "positives": 0})
        rows.append({"gate": "won", "cohort": cohort, "labelled_snapshots": 900, "positives": 10})
    suff = pd.DataFrame(rows).assign(leads_with_positive=lambda d: d["positives"])
    assert crossed_at_creation(suff) == ["mql"]
    warnings = sufficiency_warnings(suff, min_positives=30)
    about_mql = [w for w in warnings if "mql" in w]
    assert len(about_mql) == 1 and "crossed at creation" in about_mql[0]
    assert "Widen" not in about_mql[0] and "noisy" not in about_mql[0]
    # the other gate, thin, still gets its plain warnings
    assert any("won gate has only 10 positive" in w and "Widen" in w for w in warnings)
    # no labels at all is not a property of one gate
    assert crossed_at_creation(suff.assign(labelled_snapshots=0)) == []


def test_a_users_numeric_column_enters_the_regression_on_its_own_scale_too():
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from models.bundle import LogisticBaseline

    # seconds on a website (skewed, many zeros, linear on its own scale, blank for a tenth) and
    # a negative rate with an effect the signed log bends
    rng = np.random.default_rng(5)
    n = 8000
    seconds = np.where(rng.random(n) < 0.3, 0.0, rng.exponential(400, n))
    rate = rng.uniform(-3.4, 1.4, n)
    z = 0.003 * seconds - 0.9 * rate - 1.5
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    blank = rng.random(n) < 0.1
    y[blank] = (rng.random(blank.sum()) < 0.6).astype(int)  # a blank says something too
    X = pd.DataFrame({"seconds": np.where(blank, np.nan, seconds), "rate": rate})
    tr, te = np.arange(n // 2), np.arange(n // 2, n)

    def auc(logistic):
        lr = LogisticRegression(max_iter=1000).fit(logistic.matrix(X.iloc[tr]), y[tr])
        logistic.coefs["g"] = {"w": lr.coef_[0].tolist(), "b": float(lr.intercept_[0])}
        return roc_auc_score(y[te], logistic.margin(X.iloc[te], "g"))

    log_only = LogisticBaseline.design(X.iloc[tr], ["seconds", "rate"], [])
    yours = LogisticBaseline.design(
        X.iloc[tr], ["seconds", "rate"], [], flexible={"seconds", "rate"}
    )
    plain = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression())
    plain_auc = roc_auc_score(y[te], plain.fit(X.iloc[tr], y[tr]).decision_function(X.iloc[te]))
    assert yours.also_raw == ["seconds", "rate"] and yours.unknown_flag == ["seconds"]
    assert auc(yours) >= plain_auc - 0.002  # never behind the regression a user would write
    assert auc(yours) > auc(log_only) + 0.005  # the log alone bent a linear effect
    # the drivers stay exact: a feature's log, raw and unknown terms add up to its contribution
    c = yours.contributions(X.iloc[te], "g")
    assert c.shape == (len(te), 2)
    assert np.allclose(c.sum(axis=1), yours.margin(X.iloc[te], "g") - yours.centre_margin("g"))
    # and a flag (two values) gets no raw term: it would repeat its log term
    flag = pd.DataFrame({"f": rng.integers(0, 2, 100).astype(float)})
    assert LogisticBaseline.design(flag, ["f"], [], flexible={"f"}).also_raw == []
    # saved and loaded, the same design
    again = LogisticBaseline.from_dict(yours.to_dict())
    assert np.allclose(again.matrix(X.iloc[te]), yours.matrix(X.iloc[te]))


def test_a_thing_that_never_happened_is_not_read_as_long_ago():
    """Trial 9: days since the last sales touch is 999 when sales never touched the lead; on a
    log scale alone the regression read "never" as "long ago" (a plain regression with a never
    flag ranked the first gate 0.892 against Readiness's 0.874). With a never indicator, and the
    log term among the leads where it happened, the regression sees both."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from features.catalog import NEVER_DAYS
    from models.bundle import LogisticBaseline

    rng = np.random.default_rng(9)
    n = 8000
    # most leads were never touched (fresh: some convert); touched lately converts most, touched
    # long ago hardly ever: "never" sits between, which no monotone curve of 999 days can say
    never = rng.random(n) < 0.6
    days = np.where(never, NEVER_DAYS, rng.exponential(60, n).round())
    z = np.where(never, -1.0, 1.5 - 0.04 * days)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    X = pd.DataFrame({"days_since_touch": days})
    tr, te = np.arange(n // 2), np.arange(n // 2, n)

    def auc(logistic):
        lr = LogisticRegression(max_iter=1000).fit(logistic.matrix(X.iloc[tr]), y[tr])
        logistic.coefs["g"] = {"w": lr.coef_[0].tolist(), "b": float(lr.intercept_[0])}
        return roc_auc_score(y[te], logistic.margin(X.iloc[te], "g"))

    log_only = LogisticBaseline.design(X.iloc[tr], ["days_since_touch"], [])
    flagged = LogisticBaseline.design(
        X.iloc[tr], ["days_since_touch"], [], never={"days_since_touch"}
    )
    assert flagged.never_flag == ["days_since_touch"] and log_only.never_flag == []
    assert auc(flagged) > auc(log_only) + 0.01
    m = flagged.matrix(X.iloc[te])
    assert np.allclose(m[never[te], 0], 0.0) and np.array_equal(m[:, 1], never[te].astype(float))
    # the drivers stay exact, and a saved design reads back the same
    c = flagged.contributions(X.iloc[te], "g")
    assert np.allclose(c.sum(axis=1), flagged.margin(X.iloc[te], "g") - flagged.centre_margin("g"))
    again = LogisticBaseline.from_dict(flagged.to_dict())
    assert np.allclose(again.matrix(X.iloc[te]), m)
    # leaving the feature out drops its log term and its never indicator alike
    assert flagged.design_columns({"days_since_touch"}) == [0, 1]
    assert flagged.design_columns({"other"}) == []
    # an older bundle (no never_flag) reads never as 999 days, as it was trained
    old = flagged.to_dict()
    del old["never_flag"]
    assert LogisticBaseline.from_dict(old).never_flag == []


def test_a_category_has_a_column_per_frequent_code_and_one_for_any_other():
    from sklearn.linear_model import LogisticRegression

    from models.bundle import LogisticBaseline

    # code 0 is common and converts; 1 and 2 are common and do not; 7, 8 and 9 are seen once
    X = pd.DataFrame({"page": [0.0] * 40 + [1.0] * 40 + [2.0] * 40 + [7.0, 8.0, 9.0]})
    y = np.r_[np.ones(30), np.zeros(10), np.zeros(40), np.zeros(40), [1, 1, 0]]
    design = LogisticBaseline.design(X, [], ["page"])
    assert design.categorical == {"page": [0.0, 1.0, 2.0]} and design.every_level
    m = design.matrix(pd.DataFrame({"page": [0.0, 2.0, 8.0, 55.0]}))
    # codes 0, 1, 2, then "any other": a rare code (8) and an unseen one (55) share it
    assert m.tolist() == [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1]]
    lr = LogisticRegression().fit(design.matrix(X), y)
    design.coefs["won"] = {"w": lr.coef_[0].tolist(), "b": float(lr.intercept_[0])}
    new = pd.DataFrame({"page": [0.0, 1.0, 55.0]})
    # no reference level: the common converting page is up, the common dead one down
    contrib = design.contributions(new, "won")[:, 0]
    assert contrib[0] > 0 > contrib[1]
    # contributions add up to the margin exactly, from the average training row's
    assert np.allclose(contrib + design.centre_margin("won"), design.margin(new, "won"))
    # which is where the average training row's contributions sum to 0
    train_contrib = design.contributions(X, "won")[:, 0]
    assert abs(train_contrib.mean()) < 1e-9
    # a category every row shares (a column the export lacks: 'unknown' on every lead) is no
    # driver, whatever weight the regression gave its one column
    same = pd.DataFrame({"page": X["page"], "region": 0.0})
    both = LogisticBaseline.design(same, [], ["page", "region"])
    lr2 = LogisticRegression().fit(both.matrix(same), y)
    both.coefs["won"] = {"w": lr2.coef_[0].tolist(), "b": float(lr2.intercept_[0])}
    assert lr2.coef_[0][-2] != 0  # the shared code's column has a weight ...
    assert np.allclose(both.contributions(same, "won")[:, 1], 0.0)  # ... that moves no lead
    again = LogisticBaseline.from_dict(design.to_dict())
    assert np.allclose(again.margin(new, "won"), design.margin(new, "won"))
    # a bundle written before (no every_level key): the first code is the reference, with no
    # column, and a rare or unseen code reads as it
    old = design.to_dict() | {"coefs": {"won": {"w": [0.5, -0.5], "b": 0.0}}}
    del old["every_level"], old["centre"]
    before = LogisticBaseline.from_dict(old)
    assert before.matrix(new).tolist() == [[0, 0], [1, 0], [0, 0]]
    assert np.allclose(before.contributions(new, "won")[:, 0], [0.0, 0.5, 0.0])


def test_weighted_auc_matches_sklearn_and_the_truth_intervals_cover_the_difference():
    from sklearn.metrics import roc_auc_score

    from models.ground_truth import paired_intervals, truth_error, weighted_auc

    rng = np.random.default_rng(3)
    y = (rng.random(400) < 0.3).astype(int)
    score = np.round(y * 0.8 + rng.normal(size=400), 1)  # rounded: many ties
    weights = rng.integers(0, 4, size=(5, 400)).astype(float)
    for w in weights:
        np.testing.assert_allclose(
            weighted_auc(y, score, w[None, :])[0], roc_auc_score(y, score, sample_weight=w)
        )
    # a truth with a known edge over the model: the interval of truth - model holds the gap
    truth = y * 1.5 + rng.normal(size=400)
    out = paired_intervals(y, score, truth, rng)
    gap = roc_auc_score(y, truth) - roc_auc_score(y, score)
    assert out["gap_low"] < gap < out["gap_high"] and out["gap_low"] > 0
    assert out["ratio_high"] < 1
    # the truth's Monte Carlo error falls with more copies (columns)
    copies = np.clip(truth[:, None] / 4 + 0.5 + rng.normal(size=(400, 256)), 0, None)
    small, large = truth_error(y, copies[:, :16], rng), truth_error(y, copies, rng)
    assert 0 < large["truth_auc_mc_se"] < small["truth_auc_mc_se"]
    assert len(large["truth_auc_halves"]) == 2


def test_a_champion_on_another_feature_catalogue_cannot_hold_back_a_challenger(monkeypatch):
    """New data can change the feature catalogue (a new attribute, new levels): the champion can
    no longer score the leads, so the challenger is judged on its own checks, not on a
    comparison with it (which would keep the pipeline stuck at scoring)."""
    from models import promotion, registry
    from readiness.params import EvaluateParams

    rng = np.random.default_rng(0)
    y = pd.DataFrame({"y_mql": (rng.random(400) < 0.3).astype(float)})
    X = pd.DataFrame({"x": rng.random(400)})

    class Champion:  # far better than the challenger on these rows
        catalog_version = "old"

        def predict(self, frame):
            return pd.DataFrame({"p_mql": y["y_mql"].to_numpy() * 0.8 + 0.1})

    moved = {}
    monkeypatch.setattr(registry, "alias_version", lambda name, alias: "1")
    monkeypatch.setattr(registry, "load_version", lambda name, version: Champion())
    monkeypatch.setattr(registry, "set_champion", lambda name, v: moved.setdefault("to", v))
    monkeypatch.setattr(registry, "set_alias", lambda name, alias, v: None)
    challenger = {"mql": {"roc_auc": 0.70, "ece": 0.01}}
    options = {
        "registered_model": "readiness",
        "version": "2",
        "X": X,
        "y": y,
        "challenger": challenger,
        "ladder": ("mql",),
        "p": EvaluateParams(),
    }
    same = promotion.run_promotion_gate(**options, catalog_version="old")
    assert not same["promote"] and same["champion_after"] == "1" and "to" not in moved
    other = promotion.run_promotion_gate(**options, catalog_version="new")
    assert other["promote"] and other["champion_after"] == "2" and moved["to"] == "2"
    assert any("cannot score these leads" in r for r in other["reasons"])


def test_designs_built_once_give_the_regressions_of_designs_built_per_use():
    """The regressions' design matrices built once per cohort and sliced per gate (what training
    does) fit and calibrate the same regression as matrices built for each use."""
    from models.bundle import LogisticBaseline, PointsScore
    from models.cohorts import CALIBRATE, STOP, TRAIN
    from models.train import _Designs, _fit_baselines

    X, y = _gate_data("linear")
    p = TrainParams()
    idx = np.arange(len(y))
    tr, st, ca = idx[:1000], idx[1000:1500], idx[1500:]
    rng = np.random.default_rng(0)
    fitted = {}
    for built in (False, True):
        linears = {"logistic": LogisticBaseline.design(X.iloc[tr], ["a", "b"], [])}
        designs = _Designs(linears, X, {TRAIN: tr, STOP: st, CALIBRATE: ca}) if built else None
        # a gate whose labels are known on every other training row
        _fit_baselines(
            "mql",
            X,
            y,
            rows=(tr[::2], ca),
            linears=linears,
            points=PointsScore({}, 5.0),
            p=p,
            rng=rng,
            designs=designs,
        )
        fitted[built] = linears["logistic"]
    once, per_use = fitted[True], fitted[False]
    assert np.allclose(once.coefs["mql"]["w"], per_use.coefs["mql"]["w"], atol=1e-9)
    assert np.allclose(once.proba(X.iloc[ca], "mql"), per_use.proba(X.iloc[ca], "mql"), atol=1e-9)
    designs = _Designs({"logistic": once}, X, {STOP: st})
    assert np.array_equal(
        designs.matrix("logistic", st[::3], STOP),
        once.matrix(X.iloc[st[::3]]),
    )
    with pytest.raises(ValueError, match="outside the valid_stop rows"):
        designs.matrix("logistic", ca[:5], STOP)


def test_ranked_metrics_are_scikit_learns_auc_and_average_precision_ties_included():
    from sklearn.metrics import average_precision_score, roc_auc_score

    from models.evaluate import gate_metrics, ranked_metrics

    rng = np.random.default_rng(3)
    for _ in range(50):
        n = int(rng.integers(2, 300))
        y = (rng.random(n) < rng.uniform(0.05, 0.8)).astype(int)
        if not 0 < y.sum() < n:
            continue
        p = np.round(rng.random(n), int(rng.integers(1, 3)))  # coarse scores: many ties
        auc, ap = ranked_metrics(y, p)
        assert auc == pytest.approx(roc_auc_score(y, p), abs=1e-12)
        assert ap == pytest.approx(average_precision_score(y, p), abs=1e-12)
    m = gate_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    assert m["roc_auc"] == pytest.approx(0.75) and m["brier"] == pytest.approx(0.158125)


# dormant leads: recalibrated on a sample of their own (models/dormant.py)
def test_dormant_is_no_sign_of_life_in_the_window_and_none_without_dates():
    X = pd.DataFrame(
        {
            "lead_age_days": [400, 30, 400, 400],
            "engaged_days_since_last": [200, 999, 100, 999],
            "sales_touch_days_since": [999, 999, 999, 121],
            "milestone_days_since": [999, 999, 999, 999],
        }
    )
    assert is_dormant(X, 120).tolist() == [True, False, False, True]
    assert not is_dormant(X, None).any()  # a flat export
    assert not is_dormant(X[[]], 120).any()  # no "days since" features


def test_a_dormant_count_far_from_its_expectation_is_told_apart():
    """A trial's 1,574 dormant test snapshots: 0 crossed where 6.7 were expected, unflagged."""
    from models.dormant import poisson_tail

    assert poisson_tail(0, 6.7) == pytest.approx(np.exp(-6.7)) and poisson_tail(0, 6.7) < 0.025
    assert poisson_tail(1, 5.3) == pytest.approx(np.exp(-5.3) * 6.3)  # P(X <= 1): consistent
    assert poisson_tail(80, 69.9) > 0.025 and poisson_tail(120, 69.9) < 0.001
    assert poisson_tail(0, 0.0) == 1.0 and poisson_tail(2, 0.0) == 0.0


def test_the_map_brings_an_over_predicted_dormant_rate_to_the_observed_one():
    rng = np.random.default_rng(5)
    p = rng.uniform(0.02, 0.4, 5000)  # what the model extrapolates from active leads
    y = (rng.random(5000) < p / 3).astype(int)  # dormant leads cross a third as often
    m = fit_map(p, y)
    assert m.method == "platt" and m.positives >= PLATT_MIN_POSITIVES
    after = m.calibrator.apply(p)
    assert p.sum() > 2.5 * y.sum()
    assert abs(after.sum() - y.sum()) < 0.05 * y.sum()
    assert (np.diff(after[np.argsort(p)]) >= -1e-12).all()  # the ranking is kept
    # a few positives: the level only, when the model's count is outside the observed one's
    # 95 % interval; none counts as half a crossing, not a rate of exactly 0
    few = fit_map(p[:400], np.r_[np.ones(5, int), np.zeros(395, int)])
    assert few.method == "shift" and p[:400].sum() > 40
    assert abs(few.calibrator.apply(p[:400]).sum() - 5) < 0.01
    none = fit_map(p[:400], np.zeros(400, int))
    assert abs(none.calibrator.apply(p[:400]).sum() - 0.5) < 0.01
    # a count consistent with the model's: nothing to correct (never raised towards half a
    # crossing when the model already expects fewer)
    low = np.full(400, 0.0001)
    assert fit_map(low, np.zeros(400, int)).method == "none"
    close = fit_map(p[:400] / 10, np.r_[np.ones(4, int), np.zeros(396, int)])
    assert close.method == "none" and "kept" in close.reason
    # too few rows to say: the model's probability, said so
    kept = fit_map(p[:50], y[:50])
    assert kept.method == "none" and "kept" in kept.reason
    assert np.allclose(kept.calibrator.apply(p[:50]), p[:50])


def test_the_model_applies_its_map_to_dormant_rows_only_and_keeps_it_when_saved(tmp_path):
    X, y = _gate_data("linear", n=6000)
    gm, _, _ = _fit_one_gate(X, y, TrainParams())
    X["lead_age_days"] = np.where(np.arange(len(X)) % 2 == 0, 500, 10)
    from models.bundle import ReadinessModel

    model = ReadinessModel(("mql",), ["a", "b"], [], "v", {"mql": gm}, 90, 120)
    labels = pd.DataFrame({"y_mql": pd.array(y, dtype="Int8")})
    idle = is_dormant(X, 120)
    # dormant rows cross a third as often as the model says
    p = gm.proba(X[["a", "b"]].astype(float))
    rng = np.random.default_rng(2)
    labels.loc[idle, "y_mql"] = (rng.random(idle.sum()) < p[idle] / 3).astype(int)
    maps = fit_dormant_maps(model, X, labels, idle)
    assert maps["mql"].method == "platt"
    model.dormant = maps
    out = model.predict(X)["p_mql"].to_numpy()
    np.testing.assert_allclose(out[~idle], p[~idle])  # active rows untouched
    assert out[idle].sum() < 0.5 * p[idle].sum()
    assert abs(out[idle].sum() - labels.loc[idle, "y_mql"].sum()) < 0.1 * out[idle].sum()
    np.testing.assert_allclose(
        model.predict(X, dormant=np.zeros(len(X), bool))["p_mql"].to_numpy(), p
    )
    model.save(tmp_path / "m")
    back = ReadinessModel.load(tmp_path / "m")
    assert back.dormant_after_days == 120 and back.dormant["mql"].method == "platt"
    np.testing.assert_allclose(back.predict(X)["p_mql"].to_numpy(), out, rtol=1e-9)


def test_the_regressions_strength_is_the_one_that_ranks_the_stop_rows_best():
    """Few training rows and many noise columns: a fixed C = 1 chases the noise; the strength
    chosen on the stop rows is the best of the grid there, and ranks held-out rows better."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from models.bundle import LogisticBaseline, PointsScore
    from models.train import _fit_baselines

    rng = np.random.default_rng(5)
    n, noise = 3000, 60
    X = pd.DataFrame(rng.normal(size=(n, noise + 1)), columns=[f"f{i}" for i in range(noise + 1)])
    y = (rng.random(n) < 1 / (1 + np.exp(-(X["f0"] - 1.5)))).astype(int).to_numpy()
    tr, st, ca, held = (
        np.arange(150),
        np.arange(150, 1150),
        np.arange(1150, 1650),
        np.arange(1650, n),
    )
    grid = (1.0, 0.1, 0.01, 0.001)
    logistic = LogisticBaseline.design(X.iloc[tr], list(X.columns), [])
    linears = {"logistic": logistic}
    p = TrainParams(logistic_c=grid)
    rng0 = np.random.default_rng(0)
    _fit_baselines(
        "mql",
        X,
        y,
        rows=(tr, ca),
        linears=linears,
        points=PointsScore({}, 5.0),
        p=p,
        rng=rng0,
        stop=st,
    )
    chosen = logistic.coefs["mql"]["c"]

    def stop_auc(c, rows):
        lr = LogisticRegression(C=c, max_iter=1000).fit(logistic.matrix(X.iloc[tr]), y[tr])
        return roc_auc_score(y[rows], lr.decision_function(logistic.matrix(X.iloc[rows])))

    by_c = {c: stop_auc(c, st) for c in grid}
    assert by_c[chosen] >= max(by_c.values()) - 1e-3  # warm starts land within the tolerance
    assert chosen < 1.0 and stop_auc(chosen, held) > stop_auc(1.0, held)
    # one value: no choice; a refit keeps the chosen strength
    fixed = LogisticBaseline.design(X.iloc[tr], list(X.columns), [])
    _fit_baselines(
        "mql",
        X,
        y,
        rows=(tr, ca),
        linears={"logistic": fixed},
        points=PointsScore({}, 5.0),
        p=TrainParams(logistic_c=0.5),
        rng=rng0,
        stop=st,
    )
    assert fixed.coefs["mql"]["c"] == 0.5
    _fit_baselines(
        "mql",
        X,
        y,
        rows=(np.arange(1150), ca),
        linears=linears,
        points=PointsScore({}, 5.0),
        p=p,
        rng=rng0,
    )
    assert logistic.coefs["mql"]["c"] == chosen


@pytest.mark.parametrize("effect, shown", [(0.0, False), (1.0, True)])
def test_belief_counts_are_said_to_carry_signal_only_when_the_stop_rows_show_it(effect, shown):
    from models.bundle import LogisticBaseline, PointsScore
    from models.train import _belief_signal, _Designs, _fit_baselines
    from pipelines.score.stage import belief_unshown

    rng = np.random.default_rng(11)
    n = 6000
    X = pd.DataFrame(
        {
            "engaged_actions_all": rng.poisson(2.0, n).astype(float),
            "urgency_content_all": rng.poisson(1.0, n).astype(float),
        }
    )
    z = 0.8 * np.log1p(X["engaged_actions_all"]) + effect * np.log1p(X["urgency_content_all"])
    y = (rng.random(n) < 1 / (1 + np.exp(-(z - 2.0)))).astype(int).to_numpy()
    leads = np.arange(n)
    tr, st, ca = np.arange(3000), np.arange(3000, 4500), np.arange(4500, n)
    logistic = LogisticBaseline.design(X.iloc[tr], list(X.columns), [])
    designs = _Designs({"logistic": logistic}, X, {TRAIN: tr, STOP: st, CALIBRATE: ca})
    p = TrainParams()
    _fit_baselines(
        "sales_accepted",
        X,
        y,
        rows=(tr, ca),
        linears={"logistic": logistic},
        points=PointsScore({}, 5.0),
        p=p,
        rng=np.random.default_rng(0),
        designs=designs,
        stop=st,
    )
    signal = _belief_signal(
        "sales_accepted", logistic, designs, tr, st, y, leads, p, {"urgency_content_all"}
    )
    assert signal is not None and signal["shown"] is shown
    assert signal["stop_auc_with"] - signal["stop_auc_without"] == pytest.approx(
        signal["difference"], abs=1e-4
    )

    class Model:  # what belief_unshown reads of a bundle
        gates = {"sales_accepted": type("G", (), {"info": {"belief_signal": signal}})()}

    said = belief_unshown(Model(), "sales_accepted")  # type: ignore[arg-type]
    assert (said == {}) is shown
    if not shown:
        assert set(said) == {"urgency", "category", "capability", "alignment"}
        assert "adds nothing the data can show to sales_accepted" in said["urgency"]


def test_untagged_content_stays_the_reason_when_no_belief_is_tagged():
    from pipelines.score.stage import _unavailable_beliefs

    untagged = {b: f"no consumed content is tagged with the {b} belief" for b in BELIEFS}
    unshown = dict.fromkeys(BELIEFS, "belief content adds nothing")
    assert _unavailable_beliefs(untagged, unshown) == untagged
    some = {"alignment": untagged["alignment"], "intent": "no forms"}
    assert _unavailable_beliefs(some, unshown) == {**unshown, "intent": "no forms"}
    assert _unavailable_beliefs(some, {}) == some
