"""The leakage guard: before training, screen every feature for signs that it knows the outcome.

A user's attribute can carry the answer: a column sales fills in only for deals it won, a status
exported after the fact. Per feature and gate, on the training cohort:

- its AUC alone (out-of-fold target encoding for categorical codes, folds by lead, so a
  many-valued column does not look perfect by memorising its leads' outcomes), flagged when it
  separates the gate almost perfectly;
- for the user's attributes, how often it is filled for positives and for negatives, flagged
  when it is filled almost only for positives.

A flagged attribute (the `profile` family) is left out of training by default, with a message
naming it and the evidence; `train.admit_attributes` re-admits one by name. An attribute strong
enough alone to be suspicious but short of the flag (a tag sales sets after a call can reach
0.96) is kept and named as a suspect: only the user knows when it was filled in. Built-in features are
screened and reported the same way but never dropped: they are computed point in time from dated
events, and a strong one (the furthest gate reached) is a real signal, not a leak.

The same screen compares each feature's distribution in the test cohort with the training
cohort's (population stability index, from the test rows' features only, never their labels).
Above `train.shift_exclude_psi` most test rows lie where few training rows were: the feature is
left out, built-in or not, unless `train.admit_shifted` names it. On the Olist export, where leads
stopped arriving, a lead's age and days since its last action put every test row past the
training range; the regression extrapolated on them and lost to the one on the user's columns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features.catalog import Feature
from models.labels import label_column
from models.monitor import psi
from readiness.params import TrainParams

PROFILE = "profile"


def _oof_target_encoding(
    codes: np.ndarray, y: np.ndarray, rng: np.random.Generator, groups: np.ndarray | None = None
) -> np.ndarray:
    """Each row's category scored by the positive rate of its category in the other fold. With
    `groups` (each row's lead) a lead's rows share a fold: a lead's ten snapshots share its
    outcome, and split across folds they let a free-text column (a job title of one or two
    leads) score its own outcome (a trial's no-effect job title read 0.71 alone, 0.58 out of
    sample)."""
    if groups is None:
        fold = rng.integers(0, 2, len(codes))
    else:
        distinct, which = np.unique(groups, return_inverse=True)
        fold = rng.integers(0, 2, len(distinct))[which.ravel()]
    out = np.empty(len(codes))
    prior = y.mean() if len(y) else 0.0
    _, dense = np.unique(codes, return_inverse=True)  # a blank (-1 or NaN) is a category too
    dense = dense.ravel()
    k = int(dense.max()) + 1 if len(dense) else 0
    for f in (0, 1):
        fit, apply = fold != f, fold == f
        hits = np.bincount(dense[fit], weights=y[fit], minlength=k)
        count = np.bincount(dense[fit], minlength=k)
        rate = (hits + prior) / (count + 1)  # one pseudo-row at the prior
        out[apply] = rate[dense[apply]]
    return out


def single_feature_auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC of `score` for 0/1 `y` with both classes, ties counted half: the figure
    scikit-learn's `roc_auc_score` gives, from one sort and two counts per distinct value (the
    guard computes it for every feature and gate, hundreds of times per training)."""
    values, dense = np.unique(score, return_inverse=True)
    dense = dense.ravel()
    pos = np.bincount(dense, weights=y, minlength=len(values))
    neg = np.bincount(dense, minlength=len(values)) - pos
    below = np.cumsum(neg) - neg  # negatives scored lower than each distinct value
    return float((pos * (below + 0.5 * neg)).sum() / (pos.sum() * neg.sum()))


def _filled(f: Feature, x: np.ndarray) -> np.ndarray:
    return (x >= 0) if f.categorical else ~np.isnan(x)


def _shift(
    features: pd.DataFrame,
    catalog: tuple[Feature, ...],
    train_rows: np.ndarray,
    test_rows: np.ndarray | None,
    max_rows: int,
    seed: int,
) -> dict[str, float]:
    """Each feature's population stability index between (samples of) the training and test
    rows, as the train stage's shift warning computes it; empty without test rows."""
    if test_rows is None or not test_rows.any() or not train_rows.any():
        return {}
    rng = np.random.default_rng([seed, 1])  # its own stream: the AUC screen's stays as it was
    tr, te = np.flatnonzero(train_rows), np.flatnonzero(test_rows)
    tr = rng.choice(tr, min(max_rows, len(tr)), replace=False)
    te = rng.choice(te, min(max_rows, len(te)), replace=False)
    return {
        f.name: psi(
            features[f.name].to_numpy(dtype=float)[tr], features[f.name].to_numpy(dtype=float)[te]
        )
        for f in catalog
    }


def screen_features(
    features: pd.DataFrame,
    labels: pd.DataFrame,
    catalog: tuple[Feature, ...],
    ladder: tuple[str, ...],
    train_rows: np.ndarray,
    *,
    max_single_auc: float,
    max_fill_gap: float,
    suspect_auc: float = 1.0,
    admitted: tuple[str, ...] = (),
    test_rows: np.ndarray | None = None,
    max_shift_psi: float | None = None,
    admitted_shifted: tuple[str, ...] = (),
    max_rows: int = 100_000,
    seed: int = 0,
) -> list[dict]:
    """One row per feature: its strongest single-feature AUC over the gates (and which gate),
    fill rates among positives and negatives (attributes), whether it is flagged, excluded, or
    (an attribute, not flagged, whose AUC alone reaches `suspect_auc`) a suspect, and why.

    With `test_rows` and `max_shift_psi`, also its population stability index between the
    training and test rows (`test_psi`): above the bound it is `shifted` and left out, built-in
    or not, unless named in `admitted_shifted`. Only the test rows' features are read, never
    their labels: a feature that trends with the calendar (a lead's age when leads stopped
    arriving) puts the test rows outside the training range, where a regression extrapolates
    and a tree sees one edge value."""
    rng = np.random.default_rng(seed)
    out = []
    gates = {}
    for gate in ladder:
        y_all = labels[label_column(gate)].to_numpy()
        rows = np.flatnonzero(train_rows & ~np.isnan(y_all.astype(float)))
        if len(rows) > max_rows:
            rows = np.sort(rng.choice(rows, max_rows, replace=False))
        y = y_all[rows].astype(int)
        if 0 < y.sum() < len(y):
            gates[gate] = (rows, y)
    shift = _shift(features, catalog, train_rows, test_rows, max_rows, seed)
    leads = features["lead_id"].to_numpy() if "lead_id" in features else None
    for f in catalog:
        x_all = features[f.name].to_numpy(dtype=float)
        best: dict[str, Any] = {"auc": 0.5, "gate": None, "fill_pos": None, "fill_neg": None}
        for gate, (rows, y) in gates.items():
            x = x_all[rows]
            if f.categorical:
                score = _oof_target_encoding(x, y, rng, None if leads is None else leads[rows])
            else:
                score = np.where(np.isnan(x), np.nanmin(x) - 1 if np.isfinite(x).any() else 0, x)
            auc = single_feature_auc(y, score)
            strength = max(auc, 1 - auc)
            if strength > best["auc"]:
                best.update(auc=strength, gate=gate)
            if f.family == PROFILE:
                filled = _filled(f, x)
                fp, fn = float(filled[y == 1].mean()), float(filled[y == 0].mean())
                if best["fill_pos"] is None or fp - fn > best["fill_pos"] - best["fill_neg"]:
                    best.update(fill_pos=fp, fill_neg=fn, fill_gate=gate)
        reasons = []
        if best["auc"] >= max_single_auc:
            reasons.append(
                f"alone it separates the {best['gate']} gate almost perfectly on the training "
                f"cohort (AUC {best['auc']:.3f} >= {max_single_auc})"
            )
        if best["fill_pos"] is not None and best["fill_pos"] - best["fill_neg"] >= max_fill_gap:
            reasons.append(
                f"it is filled for {best['fill_pos']:.0%} of the {best['fill_gate']} gate's "
                f"positives but {best['fill_neg']:.0%} of its negatives"
            )
        flagged = bool(reasons)
        excluded = flagged and f.family == PROFILE and f.measure not in admitted
        suspect = not flagged and f.family == PROFILE and best["auc"] >= suspect_auc
        if suspect:
            reasons.append(
                f"kept, but alone it reaches AUC {best['auc']:.3f} on the {best['gate']} gate "
                f"(>= {suspect_auc}): if it is filled in after the outcome (a tag sales sets "
                f"after a call, a call's duration), declare it known: at_export"
            )
        reason = "; ".join(reasons) + (
            ""
            if not flagged
            else " -> left out of training (re-admit it with train.admit_attributes)"
            if excluded
            else " -> re-admitted by train.admit_attributes"
            if f.family == PROFILE
            else " -> kept: a built-in, point-in-time feature (reported, not dropped)"
        )
        excluded_for = ["leakage"] if excluded else []
        drift = shift.get(f.name, float("nan"))
        shifted = max_shift_psi is not None and drift > max_shift_psi
        if shifted:
            admit = f.name in admitted_shifted or f.measure in admitted_shifted
            reason = "; ".join(
                r
                for r in (
                    reason,
                    f"its test-cohort distribution is far from the training cohort's "
                    f"(population stability index {drift:.2f} > {max_shift_psi}): most test rows "
                    "lie where few training rows were, so a model would extrapolate on it"
                    + (
                        " -> re-admitted by train.admit_shifted"
                        if admit
                        else " -> left out of training (re-admit it with train.admit_shifted)"
                    ),
                )
                if r
            )
            if not admit:
                excluded_for.append("shift")
        out.append(
            {
                "feature": f.name,
                "family": f.family,
                "description": f.description,
                "single_feature_auc": round(best["auc"], 4),
                "gate": best["gate"],
                "filled_positives": None
                if best["fill_pos"] is None
                else round(best["fill_pos"], 4),
                "filled_negatives": None
                if best["fill_neg"] is None
                else round(best["fill_neg"], 4),
                "test_psi": None if np.isnan(drift) else round(drift, 3),
                "flagged": flagged,
                "shifted": shifted,
                "excluded": bool(excluded_for),
                "excluded_for": excluded_for,
                "suspect": suspect,
                "reason": reason,
            }
        )
    return out


def screen_for_training(
    features: pd.DataFrame,
    labels: pd.DataFrame,
    catalog: tuple[Feature, ...],
    ladder: tuple[str, ...],
    train_rows: np.ndarray,
    p: TrainParams,
    test_rows: np.ndarray,
) -> list[dict]:
    """`screen_features` with the bounds, re-admitted features and seed of params `train`: the
    screen the train stage runs before fitting (`test_rows` for the shift screen)."""
    return screen_features(
        features,
        labels,
        catalog,
        ladder,
        train_rows,
        max_single_auc=p.leak_max_single_auc,
        max_fill_gap=p.leak_max_fill_gap,
        suspect_auc=p.leak_suspect_auc,
        admitted=p.admit_attributes,
        test_rows=test_rows,
        max_shift_psi=p.shift_exclude_psi,
        admitted_shifted=p.admit_shifted,
        seed=p.seed,
    )
