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
from sklearn.metrics import roc_auc_score

from features.catalog import Feature
from models.bundle import GateModel, LogisticBaseline, PointsScore, ReadinessModel
from models.calibration import fit_calibrator
from models.cohorts import CALIBRATE, STOP, TEST, TRAIN
from models.evaluate import auc_difference
from models.labels import crossing_days_column, label_column, sufficiency
from models.monitor import psi
from models.timing import TimingModel, fit_timing, unknown_timing
from readiness.domain import BELIEFS
from readiness.errors import ReadinessError
from readiness.params import TrainParams

log = logging.getLogger(__name__)
# families whose counts may only raise readiness when monotone_beliefs is on
MONOTONE_FAMILIES = ("urgency", "category", "capability", "alignment", "intent")


# the features made of the user's own columns: their attributes and the mapped lead/account fields
YOUR_COLUMNS_FAMILIES = ("profile", "fit")


@dataclass
class TrainResult:
    model: ReadinessModel
    # "points", "logistic" (on every feature) and, when the data has any, "your_columns" (a
    # logistic regression on the user's own columns only: what a data scientist would fit first)
    baselines: dict[str, PointsScore | LogisticBaseline]
    sufficiency: pd.DataFrame
    warnings: list[str]
    report: dict


def sufficiency_warnings(
    suff: pd.DataFrame, min_positives: int, at_creation: list[str] | None = None
) -> list[str]:
    """Plain-word warnings for gates with too few positives to learn or to judge. A gate no
    snapshot is at risk of (every lead had crossed it by its first snapshot: crossed at creation,
    as when every lead of an export is already an MQL) is said to be so, once, and never gets a
    "too few positives" warning: there is nothing to learn, and more data would not change it."""
    out = []
    at_creation = crossed_at_creation(suff) if at_creation is None else at_creation
    for gate in at_creation:
        out.append(
            f"Every lead had crossed the {gate} gate by its first snapshot (it is crossed at "
            f"creation): no snapshot is at risk of crossing it, so it is not trained; its readiness "
            "is 1 for every lead. This is by design of the export, not a lack of data."
        )
    for row in suff[~suff["gate"].isin(at_creation)].itertuples():
        if row.cohort == TRAIN and row.positives < min_positives:
            out.append(
                f"The {row.gate} gate has only {row.positives} positive snapshots ({row.leads_with_positive} leads) in the "
                f"training cohort; at least {min_positives} are needed to learn it. It is scored by its base rate. "
                "Widen the training dates (train.train_start .. train_end; when they are chosen "
                "from the data, a shorter labels.horizon_days leaves the training cohort more of "
                "it), or add data."
            )
        if row.cohort == TEST and row.positives < 20:
            out.append(
                f"The {row.gate} gate has only {row.positives} positive snapshots in the test cohort: its test metrics are "
                "too noisy to judge the model by."
            )
    return out


def crossed_at_creation(
    suff: pd.DataFrame, ladder_stage: pd.Series | None = None, ladder: tuple[str, ...] = ()
) -> list[str]:
    """Gates with no labelled snapshot in any cohort (while other gates have some): every lead
    had crossed them before its first snapshot. With the snapshots' `ladder_stage` (furthest
    gate reached, 1 = the ladder's first), also every snapshot must stand past the gate: a gate
    whose labels are all censored (its horizon not over yet) is not crossed at creation."""
    labelled = suff.groupby("gate", sort=False)["labelled_snapshots"].sum()
    if labelled.sum() == 0:  # no labels at all: not a property of one gate
        return []
    gates = [str(g) for g, n in labelled.items() if n == 0]
    if ladder_stage is not None and len(ladder_stage):
        reached = ladder_stage.to_numpy()
        gates = [g for g in gates if g in ladder and (reached > ladder.index(g)).all()]
    return gates


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
    cohort: pd.Series,
    refit: bool = False,
    catalog: tuple[Feature, ...],
    catalog_version: str,
    ladder: tuple[str, ...],
    horizon_days: int,
    p: TrainParams,
    timing_ends: dict[str, pd.Timestamp] | None = None,
) -> TrainResult:
    """Fit every gate model and the baselines; features and labels share (lead_id, cutoff) rows,
    and `cohort` says which part each row plays (TRAIN, STOP, CALIBRATE, TEST or missing): by
    date (`assign_cohorts`) or, for a flat export, by account (models/crossval.py).

    With `refit` (flat exports, where every row counts), once the number of trees and the blend
    are chosen on the stop rows, the booster and the regressions are fitted again on the train
    and stop rows together, then calibrated on the calibration rows as before.

    Each gate also gets its timing (models/timing.py) from the crossings whose whole window
    (horizon, and follow-through for a revenue-anchored gate) lies before the gate's date in
    `timing_ends`; without them (a flat export: no dates) the timing is unknown."""
    if (
        len(features) != len(labels)
        or not (features["lead_id"].to_numpy() == labels["lead_id"].to_numpy()).all()
    ):
        raise ReadinessError(
            "Features and labels are not aligned row by row; rebuild labels after features."
        )
    names = [f.name for f in catalog]
    categorical = [f.name for f in catalog if f.categorical]
    # one float block: row subsets and LightGBM's input are then a take, not an interleave of
    # the frame's many column blocks
    X = pd.DataFrame(features[names].to_numpy(dtype=float), columns=names)
    cohort = cohort.reset_index(drop=True)
    suff = sufficiency(labels, ladder, cohort.fillna("outside"))
    inside = suff[suff["cohort"] != "outside"]
    stage = features.get("ladder_stage")
    at_creation = crossed_at_creation(inside, stage, ladder)
    warnings = sufficiency_warnings(inside, p.min_positives, at_creation)
    for w in warnings:
        log.warning(w)
    rng = np.random.default_rng(p.seed)
    numeric = [n for n in names if n not in categorical]
    train_rows = (cohort == TRAIN).to_numpy()
    leads = features["lead_id"].to_numpy()  # a lead's snapshots: one cluster of the gains' errors
    rows_per_lead = float(train_rows.sum()) / max(len(np.unique(leads[train_rows])), 1)
    lgb_params = _lightgbm_params(
        p, _monotone(catalog, names, p.monotone_beliefs), max(rows_per_lead, 1.0)
    )
    lr_rows = np.flatnonzero(train_rows)
    if len(lr_rows) > p.logistic_max_rows:
        lr_rows = np.sort(rng.choice(lr_rows, p.logistic_max_rows, replace=False))
    # the user's own numeric columns also enter the regression on every feature on their own
    # scale; the your-columns baseline is the same careful regression on those columns alone
    # (a log and a raw term, blanks flagged): a plain one (raw scale, blanks at the mean) lost
    # 0.01-0.07 AUC to a data scientist's log-scale, missing-flag version in a trial, which
    # overstated the model's margin over it
    yours = {f.name for f in catalog if f.family in YOUR_COLUMNS_FAMILIES}
    # "days since" a thing that never happened is no long time ago: an indicator of its own
    # (train.never_indicators)
    never = (
        {f.name for f in catalog if f.kind in ("days_since", "days_since_first")}
        if p.never_indicators
        else set()
    )
    logistic = LogisticBaseline.design(
        X.iloc[lr_rows], numeric, categorical, flexible=yours, never=never
    )
    linears = {"logistic": logistic}
    if yours:
        linears["your_columns"] = LogisticBaseline.design(
            X.iloc[lr_rows],
            [n for n in numeric if n in yours],
            [n for n in categorical if n in yours],
            flexible=yours,
        )
    # every regression's design matrix, built once on the rows it is fitted, stopped and
    # calibrated on (each gate's labelled rows are sliced from them)
    designs = _Designs(
        linears,
        X,
        {
            TRAIN: lr_rows,
            STOP: np.flatnonzero((cohort == STOP).to_numpy()),
            CALIBRATE: np.flatnonzero((cohort == CALIBRATE).to_numpy()),
        },
    )
    # the belief families' counts: whether they add anything the stop rows can show is measured
    beliefs = {f.name for f in catalog if f.family in BELIEFS}
    points = PointsScore(dict(p.points), p.points_cap)
    missing_points = [n for n in points.points if n not in X.columns]
    if missing_points:
        raise ReadinessError(
            f"train.points names feature(s) not in the catalogue: {missing_points}. See `readiness features --list`."
        )
    gates: dict[str, GateModel] = {}
    timing: dict[str, TimingModel] = {}
    horizons = tuple(p.time_horizons or ())
    window_end = features["cutoff"] + pd.Timedelta(days=horizon_days)
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
            if gate in at_creation:
                info["crossed_at_creation"] = True
            untrained = fit_calibrator(np.array([]), np.array([]))
            gates[gate] = GateModel(gate, None, untrained, base_rate, info)
            timing[gate] = unknown_timing(
                gate,
                horizons,
                horizon_days,
                f"every lead crosses {gate} at creation: there is no time to it"
                if gate in at_creation
                else f"{gate} has no model: when leads cross it is unknown",
            )
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
        _fit_baselines(
            gate,
            X,
            y,
            rows=(tr, ca),
            linears=linears,
            points=points,
            p=p,
            rng=rng,
            designs=designs,
            stop=st,
        )
        _choose_blend(gates[gate], linears, X, y, rows=(st, ca), p=p, designs=designs, groups=leads)
        signal = _belief_signal(gate, linears["logistic"], designs, tr, st, y, leads, p, beliefs)
        if signal is not None:
            gates[gate].info["belief_signal"] = signal
        if refit:
            _refit(
                gates[gate],
                X,
                y,
                rows=(np.concatenate([tr, st]), ca),
                categorical=categorical,
                lgb_params=lgb_params,
                linears=linears,
                points=points,
                p=p,
                rng=rng,
            )
        timing[gate] = _fit_timing(
            gate,
            X,
            labels,
            y,
            rows=(tr, st),
            complete=None if timing_ends is None else (window_end <= timing_ends[gate]).to_numpy(),
            categorical=categorical,
            lgb_params=lgb_params,
            horizons=horizons,
            horizon_days=horizon_days,
            seed=p.seed,
        )
        gates[gate].info["timing"] = timing[gate].method
        # each regression's strength, as chosen on the stop rows
        gates[gate].info["logistic_c"] = {
            name: lin.coefs[gate]["c"] for name, lin in linears.items() if gate in lin.coefs
        }
        gates[gate].info["seconds"] = round(time.perf_counter() - t0, 2)
        report[gate] = info = gates[gate].info
        log.info(
            "train: %s: %d trees, %d rows (%d positives), %s, calibrated %s (%.1fs)",
            gate,
            info["best_iteration"],
            len(tr),
            n_pos,
            info["scorer_reason"],
            info["calibration"],
            info["seconds"],
        )
    del designs
    for w in shift_warnings(X, suff, cohort, p):
        log.warning(w)
        warnings.append(w)
    model = ReadinessModel(
        ladder, names, categorical, catalog_version, gates, horizon_days, timing=timing
    )
    return TrainResult(model, {"points": points, **linears}, suff, warnings, report)


def _lightgbm_params(p: TrainParams, monotone: list[int], rows_per_lead: float = 1.0) -> dict:
    """LightGBM's parameters for every gate: deterministic, two threads, monotone beliefs.

    A category's split needs as many leads as LightGBM's defaults ask rows (100 per group,
    smoothing and penalty 10), `rows_per_lead` being the training snapshots per lead: a lead's
    snapshots share its outcome, so 100 rows of a job title may be 10 leads, and a free-text
    column with no effect took 17 % of a trial's mql gain and showed in 1,300 leads' drivers. On
    a synthetic no-effect title (60 codes, 10 snapshots per lead) its share of the gain went from
    30 % to 9 % and the validation AUC from 0.715 to 0.748. One snapshot per lead (a flat
    export): LightGBM's defaults."""
    return {
        "min_data_per_group": round(100 * rows_per_lead),
        "cat_smooth": 10 * rows_per_lead,
        "cat_l2": 10 * rows_per_lead,
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


def _fit_timing(
    gate: str,
    X: pd.DataFrame,
    labels: pd.DataFrame,
    y: np.ndarray,
    *,
    rows: tuple[np.ndarray, np.ndarray],
    complete: np.ndarray | None,
    categorical: list[str],
    lgb_params: dict,
    horizons: tuple[int, ...],
    horizon_days: int,
    seed: int,
) -> TimingModel:
    """The gate's timing (models/timing.py), unknown on a flat export (no dates)."""
    if complete is None or not horizons:
        why = (
            "a flat export has no dates"
            if complete is None
            else f"train.time_horizons holds no day below the {horizon_days}-day horizon"
        )
        return unknown_timing(gate, horizons, horizon_days, f"{why}: when leads cross is unknown")
    timing = fit_timing(
        gate,
        X,
        labels[crossing_days_column(gate)].to_numpy(dtype=float),
        y,
        rows=rows,
        complete=complete,
        categorical=categorical,
        lgb_params=lgb_params,
        horizons=horizons,
        horizon_days=horizon_days,
        seed=seed,
        prepare=lambda frame: _blank_as_missing(frame, categorical),
    )
    log.info("train: %s: time to threshold: %s", gate, timing.reason)
    return timing


def _blank_as_missing(X: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    """The rows as LightGBM is given them: a blank category (code -1) as missing, which is how
    LightGBM reads it anyway, without its warning per dataset (printed from worker threads,
    past any logger)."""
    blank = [c for c in categorical if (X[c] < 0).any()]
    if not blank:
        return X
    return X.assign(**{c: X[c].where(X[c] >= 0) for c in blank})


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
        _blank_as_missing(X.iloc[chosen], categorical),
        y[chosen],
        weight=weights,
        categorical_feature=categorical,
        free_raw_data=True,
    )
    dstop = lgb.Dataset(
        _blank_as_missing(X.iloc[st], categorical),
        y[st],
        reference=dtrain,
        categorical_feature=categorical,
    )
    booster = lgb.train(
        lgb_params,
        dtrain,
        num_boost_round=p.lightgbm.n_estimators,
        valid_sets=[dstop],
        valid_names=["valid_stop"],
        callbacks=[lgb.early_stopping(p.lightgbm.early_stopping_rounds, verbose=False)],
    )
    best = booster.best_iteration or booster.current_iteration()
    # a sensible minimum of trees: early stopping on a drifting cohort can stop after a handful
    floor = min(p.lightgbm.min_rounds, p.lightgbm.n_estimators)
    if best < floor <= booster.current_iteration():
        best = floor
    elif best < floor:  # stopped before the floor: grow the floor's trees without stopping
        booster = lgb.train(lgb_params, dtrain, num_boost_round=floor)
        best = floor
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
    linears: dict[str, LogisticBaseline],
    points: PointsScore,
    p: TrainParams,
    rng: np.random.Generator,
    designs: _Designs | None = None,
    stop: np.ndarray | None = None,
) -> None:
    """The gate's logistic regressions and points score on the same (train, calibrate) rows, all
    calibrated like the model. With `designs` holding a sample of training rows, the regressions
    learn from the gate's labelled rows of that sample (one sample of at most
    `logistic_max_rows` for every gate); else from the gate's rows, sampled down to it. Each
    regression's strength (`train.logistic_c`) is the one whose fit ranks the `stop` rows best."""
    tr, ca = rows
    designs = designs or _Designs(linears, X)
    part = TRAIN if TRAIN in designs.parts else None
    if part:
        lr_idx = np.intersect1d(tr, designs.parts[TRAIN], assume_unique=True)
    elif len(tr) > p.logistic_max_rows:
        lr_idx = rng.choice(tr, p.logistic_max_rows, replace=False)
    else:
        lr_idx = tr
    for name, logistic in linears.items():
        M = designs.matrix(name, lr_idx, part)
        # a refit keeps the strength chosen on the stop rows before it
        c = logistic.coefs.get(gate, {}).get("c")
        if c is None:
            c, w, b = _regularised(M, y[lr_idx], designs, name, stop, y, p.logistic_c)
        else:
            lr = LogisticRegression(C=c, max_iter=1000).fit(M, y[lr_idx])
            w, b = lr.coef_[0], float(lr.intercept_[0])
        logistic.coefs[gate] = {"w": w.tolist(), "b": b, "c": c}
        raw = 1 / (1 + np.exp(-designs.margin(name, gate, ca, CALIBRATE)))
        logistic.calibrators[gate] = fit_calibrator(raw, y[ca], p.calibration)
    points.calibrators[gate] = fit_calibrator(points.squashed(X.iloc[ca]), y[ca], "isotonic")


def _belief_signal(
    gate: str,
    logistic: LogisticBaseline,
    designs: _Designs,
    tr: np.ndarray,
    st: np.ndarray,
    y: np.ndarray,
    leads: np.ndarray,
    p: TrainParams,
    beliefs: set[str],
) -> dict | None:
    """Do the belief families' counts rank the gate's stop rows better than everything else
    without them? The regression on every feature (at its chosen strength) against the same
    regression without the belief counts, DeLong's paired difference clustered by lead; `shown`
    when it exceeds `blend_confidence_z` standard errors. Routing names a lead's weakest belief
    only where it is shown: on an export whose content carries no true effect, keyword-tagged
    belief counts still took 45-59 % of the attribution in a trial, and 41 % of open leads were
    sent to nurture_urgency. None when there is nothing to measure."""
    # every column of a belief feature: a never indicator left in would tell "without" whether
    # the lead ever consumed the belief's content
    cols = logistic.design_columns(beliefs)
    if not cols or gate not in logistic.coefs or len(np.unique(y[st])) < 2:
        return None
    fit = np.intersect1d(tr, designs.parts[TRAIN]) if TRAIN in designs.parts else tr
    M = designs.matrix("logistic", fit, TRAIN if TRAIN in designs.parts else None)
    if len(np.unique(y[fit])) < 2:
        return None
    keep = np.ones(M.shape[1], dtype=bool)
    keep[cols] = False
    lr = LogisticRegression(C=logistic.coefs[gate]["c"], max_iter=1000).fit(M[:, keep], y[fit])
    S = designs.matrix("logistic", st, STOP if STOP in designs.parts else None)
    without = S[:, keep] @ lr.coef_[0] + lr.intercept_[0]
    with_beliefs = S @ np.asarray(logistic.coefs[gate]["w"]) + logistic.coefs[gate]["b"]
    d = auc_difference(y[st], with_beliefs, without, groups=leads[st])
    return {
        "stop_auc_with": round(float(roc_auc_score(y[st], with_beliefs)), 5),
        "stop_auc_without": round(float(roc_auc_score(y[st], without)), 5),
        "difference": round(d["difference"], 5),
        "se": round(d["se"], 5),
        "shown": bool(d["difference"] - p.blend_confidence_z * d["se"] > 0),
    }


def _regularised(
    M: np.ndarray,
    y_fit: np.ndarray,
    designs: _Designs,
    name: str,
    stop: np.ndarray | None,
    y: np.ndarray,
    grid: tuple[float, ...],
) -> tuple[float, np.ndarray, float]:
    """Regression `name` fitted at each strength C of `grid`, strongest first (each fit starts
    from the one before), and kept at the C whose fit ranks the stop rows best: (C, weights,
    intercept). A user's export carries many weak or drifting columns that a fixed C = 1 lets
    the regression chase; in a trial on an unseen export, choosing C on the stop rows raised the
    test AUC by 0.016 (mql, C = 0.01) and 0.012 (SQL, C = 0.1), and the stop rows chose the C
    that was best on test for both. Without stop rows of both classes, the weakest penalty."""
    grid = tuple(sorted(grid))
    if stop is None or len(grid) == 1 or len(np.unique(y[stop])) < 2:
        lr = LogisticRegression(C=grid[-1], max_iter=1000).fit(M, y_fit)
        return grid[-1], lr.coef_[0], float(lr.intercept_[0])
    S = designs.matrix(name, stop, STOP)
    lr = LogisticRegression(max_iter=1000, warm_start=True)
    best: tuple[float, float, np.ndarray, float] | None = None
    for c in grid:
        lr.set_params(C=c).fit(M, y_fit)
        auc = float(roc_auc_score(y[stop], S @ lr.coef_[0] + lr.intercept_[0]))
        if best is None or auc > best[0]:
            best = (auc, c, lr.coef_[0].copy(), float(lr.intercept_[0]))
    assert best is not None
    return best[1], best[2], best[3]


class _Designs:
    """The regressions' design matrices (signed logs, standardised, one-hot columns). Built per
    gate and per use, they cost more than fitting the regressions (21 s of a 109 s training at
    the default size); given `parts` (sorted row indices per cohort), each regression's matrix is
    built once per cohort and every gate slices its rows from it. Rows outside `parts` are built
    when asked. They stay in float64: fitted in float32, L-BFGS stopped short on a design of
    many rare categories (Olist's landing pages: a higher loss, and a test AUC of 0.5408 where the
    converged fit gives 0.5359), for a saving of about 8 s at the default size."""

    def __init__(
        self,
        linears: dict[str, LogisticBaseline],
        X: pd.DataFrame,
        parts: dict[str, np.ndarray] | None = None,
    ):
        self.linears, self.X, self.parts = linears, X, parts or {}
        self.built = {
            (name, part): logistic.matrix(X.iloc[idx])
            for name, logistic in linears.items()
            for part, idx in self.parts.items()
        }

    def matrix(self, name: str, rows: np.ndarray, part: str | None = None) -> np.ndarray:
        """The design of regression `name` on `rows` (row indices; all rows of cohort `part`,
        ascending, when `part` was built)."""
        if part not in self.parts:
            return self.linears[name].matrix(self.X.iloc[rows])
        at = np.searchsorted(self.parts[part], rows)
        if len(rows) and (
            at.max() >= len(self.parts[part]) or (self.parts[part][at] != rows).any()
        ):
            raise ValueError(f"rows outside the {part} rows the designs were built on")
        return self.built[(name, part)][at]

    def margin(self, name: str, gate: str, rows: np.ndarray, part: str | None = None) -> np.ndarray:
        """Regression `name`'s log-odds for `gate` on `rows`."""
        c = self.linears[name].coefs[gate]
        return self.matrix(name, rows, part) @ np.asarray(c["w"]) + c["b"]


# LightGBM's share of the blend tried per gate (1 = the booster alone, 0 = the logistic alone)
BLEND_WEIGHTS = (1.0, 0.75, 0.5, 0.25, 0.0)


def _choose_blend(
    gm: GateModel,
    linears: dict[str, LogisticBaseline],
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    rows: tuple[np.ndarray, np.ndarray],
    p: TrainParams,
    designs: _Designs | None = None,
    groups: np.ndarray | None = None,
) -> None:
    """Pick the gate's scorer on the stop (validation) rows (`groups`: each row's lead, whose
    repeated snapshots the standard error clusters). The simplest, the logistic regression
    on every feature, is the default; LightGBM alone, a blend of the two, or the regression on the
    user's own columns replaces it only where its validation ROC AUC is higher by at least
    `blend_min_gain` and the gain is more than noise: DeLong's paired difference minus
    `blend_confidence_z` standard errors is above 0. A drifting cohort can favour a flexible model
    on validation rows by chance; then the shipped model would lose to its own baseline. The
    choice is recalibrated on the calibration rows; every candidate's AUC, the gain and its
    standard error, and the reason are recorded in the gate's info."""
    st, ca = rows
    designs = designs or _Designs(linears, X)
    scores: dict[tuple[float, str], float] = {}
    margins: dict[tuple[float, str], np.ndarray] = {}
    if 0 < y[st].sum() < len(st):
        booster = gm.margin(X.iloc[st])
        for name in linears:
            linear = designs.margin(name, gm.gate, st, STOP)
            for w in BLEND_WEIGHTS:
                if w < 1 or not margins:
                    margins[(w, name)] = w * booster + (1 - w) * linear
                    scores[(w, name)] = float(roc_auc_score(y[st], margins[(w, name)]))
    simplest = (0.0, "logistic")
    chosen = simplest
    gain: dict = {}
    if simplest in scores:
        # ties: the larger LightGBM share, then the regression on every feature
        best = max(scores, key=lambda k: (scores[k], k[0], k[1] == "logistic"))
        if best != simplest and scores[best] - scores[simplest] >= p.blend_min_gain:
            gain = auc_difference(
                y[st], margins[best], margins[simplest], None if groups is None else groups[st]
            )
            if gain and gain["difference"] - p.blend_confidence_z * gain["se"] > 0:
                chosen = best
    elif scores:  # no regression on every feature to compare with: the booster alone
        chosen = next(k for k in scores if k[0] == 1.0)
    w, side = chosen
    gm.lightgbm_weight = w
    gm.linear = linears[side].for_gate(gm.gate) if w < 1 else None
    gm.info["lightgbm_weight"] = w
    gm.info["linear_side"] = side if w < 1 else None
    for (cw, name), auc in scores.items():
        suffix = "" if name == "logistic" else f"_{name}"
        gm.info[f"stop_auc_lightgbm_{int(cw * 100)}{suffix}"] = round(auc, 5)
    if gain:
        gm.info["stop_best_gain_over_logistic"] = round(gain["difference"], 5)
        gm.info["stop_best_gain_se"] = round(gain["se"], 5)
    regression = "logistic" if side == "logistic" else "logistic on your columns"
    if w == 1.0:
        gm.info["scorer"] = "lightgbm"
    else:
        gm.info["scorer"] = ("logistic" if w == 0 else "blend") + (
            "" if side == "logistic" else "_your_columns"
        )
    name = {1.0: "LightGBM alone", 0.0: f"the {regression} alone"}.get(
        w, f"{w:.2f} LightGBM + {1 - w:.2f} {regression}"
    )
    if not scores:
        reason = f"{name}: the validation cohort has one class only, nothing to compare"
    elif simplest not in scores:
        reason = f"{name}: validation AUC {scores[chosen]:.4f} (no logistic regression to compare)"
    elif chosen != simplest:
        reason = (
            f"{name}: validation AUC {scores[chosen]:.4f} vs the logistic regression alone "
            f"{scores[simplest]:.4f} (gain {gain['difference']:+.4f}, DeLong standard error "
            f"{gain['se']:.4f})"
        )
    else:
        best = max(scores, key=lambda k: (scores[k], k[0], k[1] == "logistic"))
        if best == simplest:
            why = "no other scorer was better on the validation rows"
        elif scores[best] - scores[simplest] < p.blend_min_gain:
            why = f"it gains less than {p.blend_min_gain}"
        else:
            z, se = p.blend_confidence_z, gain.get("se", 0.0)
            why = (
                f"its gain {gain.get('difference', 0.0):+.4f} is not more than noise (below "
                f"{z} DeLong standard errors, {z} x {se:.4f} = {z * se:.4f})"
            )
        reason = (
            f"{name}: validation AUC {scores[simplest]:.4f}, best other {scores[best]:.4f}; {why}"
        )
    gm.info["scorer_reason"] = reason
    if w < 1:
        gm.calibrator = fit_calibrator(gm.raw(X.iloc[ca]), y[ca], p.calibration)
        gm.info["calibration"] = gm.calibrator.method


def _refit(
    gm: GateModel,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    rows: tuple[np.ndarray, np.ndarray],
    categorical: list[str],
    lgb_params: dict,
    linears: dict[str, LogisticBaseline],
    points: PointsScore,
    p: TrainParams,
    rng: np.random.Generator,
) -> None:
    """The gate's booster (its chosen number of trees) and regressions fitted again on `fit`
    rows, everything recalibrated on the calibration rows; the blend chosen stays."""
    fit, ca = rows
    trees = gm.info["best_iteration"]
    if gm.lightgbm_weight > 0:
        chosen, weights = _sample(fit, y[fit], p.max_train_rows, rng)
        data = lgb.Dataset(
            _blank_as_missing(X.iloc[chosen], categorical),
            y[chosen],
            weight=weights,
            categorical_feature=categorical,
        )
        gm.booster = lgb.train(lgb_params, data, num_boost_round=trees)
    _fit_baselines(gm.gate, X, y, rows=(fit, ca), linears=linears, points=points, p=p, rng=rng)
    if gm.lightgbm_weight < 1:
        gm.linear = linears[gm.info["linear_side"]].for_gate(gm.gate)
    gm.calibrator = fit_calibrator(gm.raw(X.iloc[ca]), y[ca], p.calibration)
    gm.info.update(refit_rows=int(len(fit)), calibration=gm.calibrator.method)


def shift_warnings(
    X: pd.DataFrame, suff: pd.DataFrame, cohort: pd.Series, p: TrainParams, max_rows: int = 100_000
) -> list[str]:
    """Plain-word warnings when the cohorts differ strongly: a gate's positive rate between the
    training, validation and test cohorts, or a feature's distribution between training and test
    (population stability index)."""
    out = []
    known = suff[
        suff["cohort"].isin([TRAIN, STOP, CALIBRATE, TEST]) & suff["positive_rate"].notna()
    ]
    for gate, g in known.groupby("gate", sort=False):
        rates = g.set_index("cohort")["positive_rate"].astype(float)
        lo, hi = rates.min(), rates.max()
        if hi > 0 and (lo == 0 or hi / lo > p.shift_rate_ratio):
            out.append(
                f"The {gate} gate's positive rate shifts between cohorts ("
                + ", ".join(f"{c} {100 * r:.1f} %" for c, r in rates.items())
                + "): calibration fitted on one cohort may not hold on the next; compare the test "
                "cohort's ECE and consider moving the train dates closer to today."
            )
    rng = np.random.default_rng(p.seed)
    tr = np.flatnonzero((cohort == TRAIN).to_numpy())
    te = np.flatnonzero((cohort == TEST).to_numpy())
    if len(tr) and len(te):
        tr = rng.choice(tr, min(max_rows, len(tr)), replace=False)
        te = rng.choice(te, min(max_rows, len(te)), replace=False)
        drift = {
            c: psi(X[c].to_numpy(dtype=float)[tr], X[c].to_numpy(dtype=float)[te])
            for c in X.columns
        }
        shifted = sorted((v, c) for c, v in drift.items() if v > p.shift_psi)[::-1]
        if shifted:
            out.append(
                f"{len(shifted)} feature(s) are distributed differently in the test rows than in "
                f"the training rows (population stability index above {p.shift_psi}, a blank "
                "counted as a value of its own): "
                + ", ".join(f"{c} ({v:.2f})" for v, c in shifted[:5])
                + ("..." if len(shifted) > 5 else "")
                + ". Scores on leads unlike the training rows rest on relations learned on others."
            )
    return out
