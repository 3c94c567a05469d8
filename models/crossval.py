"""Cross-validation for flat exports (readiness/raw/flat.py): no dates, so no time split.

Folds are stratified by the top gate's label and grouped by account (every lead of an account
falls in one fold: colleagues never sit on both sides). Each fold is predicted by models trained
on the other folds, whose rows are split again by account into the training, early-stopping and
calibration parts that a time split would give by date. The out-of-fold predictions are what
`evaluate` judges; the shipped model is trained on every row the same way (no test part).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from features.catalog import Feature
from models.cohorts import TEST, fitting_cohorts, grouped_parts, strata_of
from models.evaluate import predictions
from models.train import train_models
from readiness.params import TrainParams

log = logging.getLogger(__name__)
CV_FILE = "cross_validation.parquet"  # the out-of-fold predictions, beside the trained model


def cross_validate(
    features: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    catalog: tuple[Feature, ...],
    catalog_version: str,
    ladder: tuple[str, ...],
    horizon_days: int,
    p: TrainParams,
) -> tuple[pd.DataFrame, list[dict]]:
    """Out-of-fold probabilities of the model and every baseline for every row: (lead_id,
    cutoff, fold, then `<model>.p_<gate>` columns), and each fold's training report."""
    groups = labels["account_id"].to_numpy()
    strata = strata_of(labels, ladder)
    fold = grouped_parts(groups, strata, p.cv_folds, p.seed)
    parts, reports = [], []
    for k in range(p.cv_folds):
        test = fold == k
        cohort = fitting_cohorts(np.flatnonzero(~test), groups, strata, p.seed + k + 1, len(labels))
        cohort[test] = TEST
        result = train_models(
            features,
            labels,
            cohort=cohort,
            refit=True,
            catalog=catalog,
            catalog_version=catalog_version,
            ladder=ladder,
            horizon_days=horizon_days,
            p=p,
        )
        X = features.loc[test]
        preds = predictions(X, result.model, result.baselines)
        frame = features.loc[test, ["lead_id", "cutoff"]].assign(fold=k)
        for name, probs in preds.items():
            for col in probs.columns:
                frame[f"{name}.{col}"] = probs[col].to_numpy()
        parts.append(frame)
        reports.append({"fold": k, "rows": int(test.sum()), "gates": result.report})
        log.info("train: cross-validation fold %d/%d done", k + 1, p.cv_folds)
    out = pd.concat(parts).sort_index()
    return out.reset_index(drop=True), reports


def unpack(cv: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The out-of-fold table back into {model: probabilities (p_<gate> columns)}."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for col in cv.columns:
        if "." in col:
            name, p_col = col.split(".", 1)
            out.setdefault(name, {})[p_col] = cv[col].to_numpy()
    frames = {}
    for name, cols in out.items():
        # a baseline missing from some folds (a gate too thin to fit there) is not comparable
        kept = {c: v for c, v in cols.items() if not np.isnan(v).any()}
        for c in set(cols) - set(kept):
            log.warning("evaluate: %s %s is missing in some folds; left out", name, c)
        frames[name] = pd.DataFrame(kept, index=cv.index)
    return frames
