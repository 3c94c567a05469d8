"""Train a calibrated gate model per ladder gate, and the baselines on the same time split.

Cohorts are ranges of cutoff dates (params `train`): the training cohort fits the trees; the
validation cohort's cutoffs alternate between early stopping and calibration, so calibration is
fitted on data the trees never saw; the test cohort is left for evaluation.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from features.catalog import Feature
from models.bundle import GateModel, LogisticBaseline, PointsScore, ReadinessModel
from models.calibration import fit_calibrator
from models.labels import label_column, sufficiency
from readiness.errors import ReadinessError
from readiness.params import TrainParams

log = logging.getLogger(__name__)
TRAIN, STOP, CALIBRATE, TEST = "train", "valid_stop", "valid_calibrate", "test"
# families whose counts may only raise readiness when monotone_beliefs is on
MONOTONE_FAMILIES = ("urgency", "category", "capability", "alignment", "intent")


@dataclass
class TrainResult:
    model: ReadinessModel
    points: PointsScore
    logistic: LogisticBaseline
    sufficiency: pd.DataFrame
    warnings: list[str]
    report: dict


def assign_cohorts(cutoffs: pd.Series, p: TrainParams) -> pd.Series:
    """train / valid_stop / valid_calibrate / test (or missing) for each cutoff."""
    c = pd.to_datetime(cutoffs)
    out = pd.Series(pd.NA, index=cutoffs.index, dtype="object")
    out[(c >= pd.Timestamp(p.train_start)) & (c <= pd.Timestamp(p.train_end))] = TRAIN
    valid = (c >= pd.Timestamp(p.valid_start)) & (c <= pd.Timestamp(p.valid_end))
    valid_days = np.sort(c[valid].unique())
    calibrate_days = set(valid_days[1::2])
    out[valid] = np.where(c[valid].isin(calibrate_days), CALIBRATE, STOP)
    out[(c >= pd.Timestamp(p.test_start)) & (c <= pd.Timestamp(p.test_end))] = TEST
    return out


def sufficiency_warnings(suff: pd.DataFrame, min_positives: int) -> list[str]:
    """Plain-word warnings for gates with too few positives to learn or to judge."""
    out = []
    for row in suff.itertuples():
        if row.cohort == TRAIN and row.positives < min_positives:
            out.append(
                f"The {row.gate} gate has only {row.positives} positive snapshots ({row.leads_with_positive} leads) in the "
                f"training cohort; at least {min_positives} are needed to learn it. It is scored by its base rate. "
                "Widen the training dates or add data."
            )
        if row.cohort == TEST and row.positives < 20:
            out.append(
                f"The {row.gate} gate has only {row.positives} positive snapshots in the test cohort: its test metrics are "
                "too noisy to judge the model by."
            )
    return out


def _monotone(catalog: tuple[Feature, ...], names: list[str], on: bool) -> list[int]:
    by_name = {f.name: f for f in catalog}
    return [
        by_name[n].direction if on and by_name[n].family in MONOTONE_FAMILIES else 0 for n in names
    ]


def _sample(
    idx: np.ndarray, y: np.ndarray, max_rows: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """All positives, negatives sampled down to max_rows; weights restore the negatives' mass."""
    weights = np.ones(len(idx))
    if len(idx) <= max_rows:
        return idx, weights
    pos, neg = idx[y == 1], idx[y == 0]
    keep = max(max_rows - len(pos), 1)
    rate = keep / len(neg)
    neg_kept = rng.choice(neg, size=keep, replace=False)
    chosen = np.concatenate([pos, neg_kept])
    weights = np.concatenate([np.ones(len(pos)), np.full(len(neg_kept), 1 / rate)])
    return chosen, weights


def train_models(
    features: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    catalog: tuple[Feature, ...],
    catalog_version: str,
    ladder: tuple[str, ...],
    horizon_days: int,
    p: TrainParams,
) -> TrainResult:
    """Fit every gate model and both baselines; features and labels share (lead_id, cutoff) rows."""
    if (
        len(features) != len(labels)
        or not (features["lead_id"].to_numpy() == labels["lead_id"].to_numpy()).all()
    ):
        raise ReadinessError(
            "Features and labels are not aligned row by row; rebuild labels after features."
        )
    names = [f.name for f in catalog]
    categorical = [f.name for f in catalog if f.categorical]
    X = features[names].astype(float)
    cohort = assign_cohorts(features["cutoff"], p)
    suff = sufficiency(labels, ladder, cohort.fillna("outside"))
    warnings = sufficiency_warnings(suff[suff["cohort"] != "outside"], p.min_positives)
    for w in warnings:
        log.warning(w)
    rng = np.random.default_rng(p.seed)
    lgb_params = _lightgbm_params(p, _monotone(catalog, names, p.monotone_beliefs))
    numeric = [n for n in names if n not in categorical]
    train_rows = (cohort == TRAIN).to_numpy()
    lr_rows = np.flatnonzero(train_rows)
    if len(lr_rows) > p.logistic_max_rows:
        lr_rows = rng.choice(lr_rows, p.logistic_max_rows, replace=False)
    logistic = LogisticBaseline.design(X.iloc[lr_rows], numeric, categorical)
    points = PointsScore(dict(p.points), p.points_cap)
    missing_points = [n for n in points.points if n not in X.columns]
    if missing_points:
        raise ReadinessError(
            f"train.points names feature(s) not in the catalogue: {missing_points}. See `readiness features --list`."
        )
    gates: dict[str, GateModel] = {}
    report: dict = {}
    for gate in ladder:
        t0 = time.perf_counter()
        y_all = labels[label_column(gate)]
        known = y_all.notna().to_numpy()
        y = y_all.fillna(0).astype(int).to_numpy()
        tr = np.flatnonzero(known & train_rows)
        st = np.flatnonzero(known & (cohort == STOP).to_numpy())
        ca = np.flatnonzero(known & (cohort == CALIBRATE).to_numpy())
        base_rate = float(y[tr].mean()) if len(tr) else 0.0
        n_pos = int(y[tr].sum())
        if n_pos < p.min_positives or len(st) == 0 or y[st].sum() == 0:
            info = {"trained": False, "train_positives": n_pos}
            untrained = fit_calibrator(np.array([]), np.array([]))
            gates[gate] = GateModel(gate, None, untrained, base_rate, info)
            report[gate] = dict(info)
            continue
        gates[gate] = _fit_gate(
            gate,
            X,
            y,
            rows=(tr, st, ca),
            categorical=categorical,
            lgb_params=lgb_params,
            base_rate=base_rate,
            p=p,
            rng=rng,
        )
        gates[gate].info["seconds"] = round(time.perf_counter() - t0, 2)
        _fit_baselines(gate, X, y, rows=(tr, ca), logistic=logistic, points=points, p=p, rng=rng)
        report[gate] = info = gates[gate].info
        log.info(
            "train: %s: %d trees, %d rows (%d positives), calibrated %s (%.1fs)",
            gate,
            info["best_iteration"],
            len(tr),
            n_pos,
            info["calibration"],
            info["seconds"],
        )
    model = ReadinessModel(ladder, names, categorical, catalog_version, gates, horizon_days)
    return TrainResult(model, points, logistic, suff, warnings, report)


def _lightgbm_params(p: TrainParams, monotone: list[int]) -> dict:
    """LightGBM's parameters for every gate: deterministic, two threads, monotone beliefs."""
    return {
        "objective": "binary",
        "metric": ["binary_logloss", "auc"],
        "learning_rate": p.lightgbm.learning_rate,
        "num_leaves": p.lightgbm.num_leaves,
        "min_child_samples": p.lightgbm.min_child_samples,
        "feature_fraction": p.lightgbm.feature_fraction,
        "bagging_fraction": p.lightgbm.bagging_fraction,
        "bagging_freq": p.lightgbm.bagging_freq,
        "lambda_l2": p.lightgbm.lambda_l2,
        "monotone_constraints": monotone,
        "monotone_constraints_method": "advanced",
        "seed": p.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 2,
        "verbose": -1,
    }


def _fit_gate(
    gate: str,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    rows: tuple[np.ndarray, np.ndarray, np.ndarray],
    categorical: list[str],
    lgb_params: dict,
    base_rate: float,
    p: TrainParams,
    rng: np.random.Generator,
) -> GateModel:
    """One gate's booster (early-stopped on the stop rows) and its calibrator (calibration rows);
    `rows` are the (train, stop, calibrate) row indices."""
    tr, st, ca = rows
    chosen, weights = _sample(tr, y[tr], p.max_train_rows, rng)
    dtrain = lgb.Dataset(
        X.iloc[chosen],
        y[chosen],
        weight=weights,
        categorical_feature=categorical,
        free_raw_data=True,
    )
    dstop = lgb.Dataset(X.iloc[st], y[st], reference=dtrain, categorical_feature=categorical)
    booster = lgb.train(
        lgb_params,
        dtrain,
        num_boost_round=p.lightgbm.n_estimators,
        valid_sets=[dstop],
        valid_names=["valid_stop"],
        callbacks=[lgb.early_stopping(p.lightgbm.early_stopping_rounds, verbose=False)],
    )
    best = booster.best_iteration or booster.current_iteration()
    raw_cal = np.asarray(booster.predict(X.iloc[ca], num_iteration=best))
    calibrator = fit_calibrator(raw_cal, y[ca], p.calibration)
    info = {
        "trained": True,
        "best_iteration": int(best),
        "train_rows": int(len(tr)),
        "train_rows_used": int(len(chosen)),
        "train_positives": int(y[tr].sum()),
        "stop_rows": int(len(st)),
        "calibration_rows": int(len(ca)),
        "calibration_positives": int(y[ca].sum()),
        "calibration": calibrator.method,
    }
    return GateModel(gate, booster, calibrator, base_rate, info)


def _fit_baselines(
    gate: str,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    rows: tuple[np.ndarray, np.ndarray],
    logistic: LogisticBaseline,
    points: PointsScore,
    p: TrainParams,
    rng: np.random.Generator,
) -> None:
    """The gate's logistic regression and points score on the same (train, calibrate) rows, both
    calibrated like the model."""
    tr, ca = rows
    lr_idx = (
        tr if len(tr) <= p.logistic_max_rows else rng.choice(tr, p.logistic_max_rows, replace=False)
    )
    lr = LogisticRegression(C=p.logistic_c, max_iter=1000).fit(
        logistic.matrix(X.iloc[lr_idx]), y[lr_idx]
    )
    logistic.coefs[gate] = {"w": lr.coef_[0].tolist(), "b": float(lr.intercept_[0])}
    logistic.calibrators[gate] = fit_calibrator(
        logistic.raw(X.iloc[ca], gate), y[ca], p.calibration
    )
    points.calibrators[gate] = fit_calibrator(points.squashed(X.iloc[ca]), y[ca], "isotonic")
