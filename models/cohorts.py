"""Which part each training row plays: fitting (TRAIN), early stopping (STOP), calibration
(CALIBRATE) or the test (TEST).

By date on an export with a timeline (cohorts are ranges of cutoff dates, params `train`); by
account on a flat export (readiness/raw/flat.py), whose test is cross-validation
(models/crossval.py): folds stratified by the top gate's label and grouped by account, so the
leads of one account never sit on both sides.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from models.labels import label_column
from readiness.errors import ReadinessError
from readiness.params import TrainParams, cohort_dates

TRAIN, STOP, CALIBRATE, TEST = "train", "valid_stop", "valid_calibrate", "test"
# of the rows left for fitting on a flat export: 4 parts train, 1 part halved into early stopping
# and calibration; the boosters and regressions are then refitted on train + early stopping
INNER_PARTS = 5


def assign_cohorts(cutoffs: pd.Series, p: TrainParams) -> pd.Series:
    """train / valid_stop / valid_calibrate / test (or missing) for each cutoff."""
    p = cohort_dates(p)
    c = pd.to_datetime(cutoffs)
    out = pd.Series(pd.NA, index=cutoffs.index, dtype="object")
    out[(c >= pd.Timestamp(p.train_start)) & (c <= pd.Timestamp(p.train_end))] = TRAIN
    valid = (c >= pd.Timestamp(p.valid_start)) & (c <= pd.Timestamp(p.valid_end))
    valid_days = np.sort(c[valid].unique())
    calibrate_days = set(valid_days[1::2])
    out[valid] = np.where(c[valid].isin(calibrate_days), CALIBRATE, STOP)
    out[(c >= pd.Timestamp(p.test_start)) & (c <= pd.Timestamp(p.test_end))] = TEST
    return out


def no_test_rows(p: TrainParams) -> ReadinessError:
    """The error for a test cohort without a snapshot, saying what to change."""
    return ReadinessError(
        f"No snapshot falls in the test cohort {p.test_start}..{p.test_end}: move the train "
        "dates inside the feature cutoffs (with the dates chosen from the data: no open lead "
        "was active at those cutoffs; re-run `readiness features`, or set the dates yourself)."
    )


def strata_of(labels: pd.DataFrame, ladder: tuple[str, ...]) -> np.ndarray:
    """The top gate's label (missing as its own class): what the folds keep balanced."""
    return labels[label_column(ladder[-1])].astype("float").fillna(-1).to_numpy()


def grouped_parts(groups: np.ndarray, strata: np.ndarray, parts: int, seed: int) -> np.ndarray:
    """A part number per row: stratified, grouped, shuffled with `seed`."""
    n_groups = len(np.unique(groups))
    if n_groups < parts:
        raise ReadinessError(
            f"Cross-validation needs at least {parts} accounts; the export has {n_groups}."
        )
    part = np.empty(len(groups), dtype=int)
    splitter = StratifiedGroupKFold(n_splits=parts, shuffle=True, random_state=seed)
    # a class rarer than the parts makes sklearn warn; the grouping still holds
    for k, (_, rows) in enumerate(splitter.split(np.zeros(len(groups)), strata, groups)):
        part[rows] = k
    return part


def fitting_cohorts(
    rows: np.ndarray, groups: np.ndarray, strata: np.ndarray, seed: int, n: int
) -> pd.Series:
    """TRAIN / STOP / CALIBRATE for `rows` (by account), missing for the others."""
    out = pd.Series(pd.NA, index=range(n), dtype="object")
    part = grouped_parts(groups[rows], strata[rows], INNER_PARTS, seed)
    held = np.flatnonzero(part == 0)
    half = grouped_parts(groups[rows][held], strata[rows][held], 2, seed)
    roles = np.full(len(rows), TRAIN, dtype=object)
    roles[held] = np.where(half == 0, STOP, CALIBRATE)
    out.iloc[rows] = roles
    return out


def final_cohorts(labels: pd.DataFrame, ladder: tuple[str, ...], seed: int) -> pd.Series:
    """The shipped model's cohorts on a flat export: every row fits it (no test part)."""
    groups = labels["account_id"].to_numpy()
    return fitting_cohorts(
        np.arange(len(labels)), groups, strata_of(labels, ladder), seed, len(labels)
    )


def evaluation_method(flat: bool, folds: int) -> str:
    """How the test figures were made, in the words every output uses."""
    if flat:
        return f"stratified {folds}-fold cross-validation grouped by account (a flat export has no dates)"
    return "time split (training cutoffs before the test cohort, gaps of one horizon)"


def is_flat(catalog_meta: dict) -> bool:
    """Whether the features were built from a flat export (catalog.json says so)."""
    return bool(catalog_meta.get("flat"))


def training_cohorts(
    features: pd.DataFrame,
    labels: pd.DataFrame,
    catalog_meta: dict,
    p: TrainParams,
    ladder: tuple[str, ...],
) -> pd.Series:
    """Each row's part in fitting the shipped model: by date, or by account on a flat export."""
    if is_flat(catalog_meta):
        return final_cohorts(labels, ladder, p.seed)
    return assign_cohorts(features["cutoff"], p).reset_index(drop=True)
