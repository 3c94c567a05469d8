"""Dormant leads: scored, but never learnt from, so recalibrated on a sample of their own.

A lead with no sign of life (creation, an engaged action, a sales touch, a milestone) in the
`features.dormant_after_days` days before a cutoff has no training snapshot there
(features/snapshots.py), yet it is open and scored at the as-of date: on the simulator about
half the open leads. The model has only seen active leads, so for a dormant one it extrapolates
(a tree model reads 400 idle days as the 120 it has seen) and over-predicts: a past run's
dormant leads were expected to give 244 mqls and gave 88.

So the features stage also builds a sample of dormant snapshots (`features.dormant_sample` of
them, chosen by a fixed hash of lead and cutoff: the same rows on every run), the labels stage
labels them, and the train stage fits, per gate, a map from the model's probability to the
dormant leads' observed rate on the validation cohorts' dormant sample (early stopping and
calibration: the boosters never fitted either): Platt scaling (a
logistic curve on the log-odds, which keeps the ranking) with enough positives; with a few, a
shift of the log-odds alone, only where the model's expected count is outside the observed
count's 95 % interval; otherwise, or with too few rows, the model's probability (said so). The
map is stored in the model bundle and applied by `ReadinessModel.predict` to every row this
module's rule calls dormant, before the ladder is made coherent; the evaluate stage measures it
on the test cohort's dormant sample.

Dormant is read from the snapshot's "days since" features, which see a little less than the
snapshot rule (a meeting is not a sales touch there, and only the ladder's milestones count):
a lead whose one sign of life is a meeting counts as dormant here. A flat export has no
dormant leads (one as-of date).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score

from models.calibration import Calibrator, fit_calibrator, logit
from models.labels import label_column
from readiness.errors import ReadinessError
from readiness.params import ProjectParams
from readiness.scores import probability_column

# "days since" features of a snapshot that tell a sign of life (features/snapshots.py)
SIGNS_OF_LIFE = (
    "lead_age_days",
    "engaged_days_since_last",
    "sales_touch_days_since",
    "milestone_days_since",
)
# a gate's map: Platt scaling from this many positives in the calibration cohort's sample, a
# shift of the log-odds alone below it, nothing below MIN_ROWS sampled snapshots
PLATT_MIN_POSITIVES = 30
MIN_ROWS = 200


def is_dormant(X: pd.DataFrame, dormant_after_days: int | None) -> np.ndarray:
    """Rows with no sign of life in the last `dormant_after_days` days (read from the "days
    since" features); none when the setting is None (a flat export) or X lacks them."""
    signs = [c for c in SIGNS_OF_LIFE if c in X.columns]
    if dormant_after_days is None or not signs:
        return np.zeros(len(X), dtype=bool)
    return (X[signs].min(axis=1) > dormant_after_days).to_numpy()


def load_dormant_frame(project: ProjectParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features and labels of the dormant sample, aligned row by row; empty frames when the
    features stage built none (a flat export, `features.dormant_sample` 0, older outputs)."""
    params = project.params
    features_dir = project.resolve(params.paths.features) / "dormant"
    labels_file = project.resolve(params.paths.labels) / "dormant.parquet"
    if not any(features_dir.glob("*.parquet")):
        return pd.DataFrame(), pd.DataFrame()
    if not labels_file.exists():
        raise ReadinessError(
            f"{labels_file} not found, though {features_dir} holds dormant snapshots: run "
            "`readiness labels` again."
        )
    key = ["lead_id", "cutoff"]
    features = pd.read_parquet(features_dir).sort_values(key).reset_index(drop=True)
    labels = pd.read_parquet(labels_file).sort_values(key).reset_index(drop=True)
    if len(features) != len(labels) or not features[key].equals(labels[key]):
        raise ReadinessError(
            "Features and labels of the dormant snapshots differ: run `readiness labels` again."
        )
    return features, labels


@dataclass(frozen=True)
class DormantMap:
    """A gate's map for dormant leads, with how it was fitted."""

    calibrator: Calibrator
    method: str  # platt | shift | none
    rows: int
    positives: int
    reason: str

    def to_dict(self) -> dict:
        return {
            "calibrator": self.calibrator.to_dict(),
            "method": self.method,
            "rows": self.rows,
            "positives": self.positives,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: dict) -> DormantMap:
        return cls(
            Calibrator.from_dict(d["calibrator"]),
            d["method"],
            d["rows"],
            d["positives"],
            d["reason"],
        )


def _shift(p: np.ndarray, target: float) -> float:
    """The log-odds shift b with sum(sigmoid(logit(p) + b)) = target (bisection: the sum rises
    with b)."""
    z = logit(p)
    lo, hi = -30.0, 30.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if (1 / (1 + np.exp(-(z + mid)))).sum() < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _poisson_interval(k: int) -> tuple[float, float]:
    """The exact (Garwood) 95 % interval of a Poisson count observed as k."""
    lo = 0.0 if k == 0 else float(stats.chi2.ppf(0.025, 2 * k) / 2)
    return lo, float(stats.chi2.ppf(0.975, 2 * k + 2) / 2)


def fit_map(p: np.ndarray, y: np.ndarray) -> DormantMap:
    """The map from the model's probability `p` to the dormant rate, fitted on labelled
    dormant rows (y 0/1). With enough positives, Platt scaling; with a few, only the level: the
    log-odds are shifted so the expected count is the observed one, and only when the model's
    expectation lies outside the observed count's 95 % interval (a count of 0 then counts as
    half a crossing, the usual continuity correction, rather than a rate of exactly 0)."""
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=int)
    n, pos, expected = len(y), int(y.sum()), float(p.sum())
    if n < MIN_ROWS:
        return DormantMap(
            Calibrator("identity"),
            "none",
            n,
            pos,
            f"{n} dormant snapshots in the validation cohorts (fewer than {MIN_ROWS}): the "
            "model's probability is kept, extrapolated from active leads",
        )
    if pos >= PLATT_MIN_POSITIVES and pos < n:
        cal = fit_calibrator(p, y, "sigmoid")
        return DormantMap(
            cal,
            "platt",
            n,
            pos,
            f"Platt scaling on {n} dormant snapshots ({pos} positives, "
            f"{expected:.1f} expected before)",
        )
    lo, hi = _poisson_interval(pos)
    if lo <= expected <= hi:
        return DormantMap(
            Calibrator("identity"),
            "none",
            n,
            pos,
            f"the model's probability is kept: on {n} dormant snapshots it expected "
            f"{expected:.1f} crossings and {pos} happened (95 % interval {lo:.1f} to {hi:.1f})",
        )
    b = _shift(p, max(pos, 0.5))
    return DormantMap(
        Calibrator("sigmoid", a=1.0, b=b),
        "shift",
        n,
        pos,
        f"log-odds shifted by {b:+.2f} on {n} dormant snapshots ({pos} positives, fewer than "
        f"{PLATT_MIN_POSITIVES}; {expected:.1f} expected before, outside the count's 95 % "
        f"interval {lo:.1f} to {hi:.1f})",
    )


def fit_dormant_maps(
    model, features: pd.DataFrame, labels: pd.DataFrame, rows: np.ndarray
) -> dict[str, DormantMap]:
    """Per trained gate, the map fitted on the dormant sample's `rows` (the validation
    cohorts), from the gate model's calibrated probability on rows whose label is known."""
    out: dict[str, DormantMap] = {}
    if not rows.any():
        return out
    M = model.matrix(features.loc[rows])
    y_frame = labels.loc[rows]
    for gate, gm in model.gates.items():
        if gm.booster is None:
            continue
        y_all = y_frame[label_column(gate)]
        known = y_all.notna().to_numpy()
        p = gm.proba(M)[known]
        out[gate] = fit_map(p, y_all[known].astype(int).to_numpy())
    return out


def dormant_figures(model, features: pd.DataFrame, labels: pd.DataFrame, rows: np.ndarray) -> dict:
    """On the dormant sample's `rows` (the test cohort): per gate, the positives against the
    sum of probabilities the model gave before and after the dormant map (coherent along the
    ladder, as published), whether that count is consistent with them (`consistent`: each
    side's Poisson tail probability at least 2.5 %; `poisson_p`, the smaller tail doubled), and
    the model's AUC among dormant leads."""
    if not rows.any():
        return {}
    X = features.loc[rows]
    after = model.predict(X)
    before = model.predict(X, dormant=np.zeros(len(X), dtype=bool))
    gates = {}
    for gate in model.ladder:
        y_all = labels.loc[rows, label_column(gate)]
        known = y_all.notna().to_numpy()
        if not known.any() or gate not in model.dormant:
            continue
        y = y_all[known].astype(int).to_numpy()
        col = probability_column(gate)
        b, a = before[col].to_numpy()[known], after[col].to_numpy()[known]
        tail = poisson_tail(int(y.sum()), float(a.sum()))
        gates[gate] = {
            "snapshots": int(known.sum()),
            "positives": int(y.sum()),
            "expected_before": round(float(b.sum()), 1),
            "expected_after": round(float(a.sum()), 1),
            "auc": round(float(roc_auc_score(y, a)), 4) if 0 < y.sum() < len(y) else None,
            "map": model.dormant[gate].method,
            "poisson_p": round(min(1.0, 2 * tail), 4),
            "consistent": bool(tail >= 0.025),
        }
    return {"snapshots": int(rows.sum()), "gates": gates}


def poisson_tail(observed: int, expected: float) -> float:
    """The smaller tail probability of `observed` events under a Poisson with mean `expected`
    (P(X <= observed) or P(X >= observed)): a sum of small independent probabilities is close
    to Poisson. 1 when nothing is expected and nothing happened."""
    if expected <= 0:
        return 1.0 if observed == 0 else 0.0
    return float(
        min(stats.poisson.cdf(observed, expected), stats.poisson.sf(observed - 1, expected))
    )
