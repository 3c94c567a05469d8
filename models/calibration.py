"""Probability calibration on held-out data, stored as plain JSON (no pickles between stages).

Isotonic regression (non-parametric, monotone) when there are enough positives to calibrate on;
Platt scaling (a logistic curve on the log-odds of the raw score) otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

ISOTONIC_MIN_POSITIVES = 300
_EPS = 1e-6


def logit(p: np.ndarray) -> np.ndarray:
    """The log-odds of probabilities `p`, clipped away from 0 and 1."""
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class Calibrator:
    """Maps a raw score in [0, 1] to a calibrated probability."""

    method: str  # isotonic | sigmoid | identity
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    a: float = 1.0
    b: float = 0.0

    def apply(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=float)
        if self.method == "isotonic":
            return np.interp(raw, self.x, self.y)
        if self.method == "sigmoid":
            return 1 / (1 + np.exp(-(self.a * logit(raw) + self.b)))
        return raw

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "x": list(self.x),
            "y": list(self.y),
            "a": self.a,
            "b": self.b,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Calibrator:
        return cls(d["method"], tuple(d["x"]), tuple(d["y"]), d["a"], d["b"])


def fit_calibrator(raw: np.ndarray, y: np.ndarray, method: str = "auto") -> Calibrator:
    """Fit on held-out scores; 'auto' picks isotonic with enough positives, else sigmoid."""
    raw = np.asarray(raw, dtype=float)
    y = np.asarray(y, dtype=int)
    if len(y) == 0 or y.min() == y.max():
        return Calibrator("identity")
    if method == "auto":
        method = "isotonic" if y.sum() >= ISOTONIC_MIN_POSITIVES else "sigmoid"
    if method == "isotonic":
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
        return Calibrator(
            "isotonic",
            tuple(float(v) for v in iso.X_thresholds_),
            tuple(float(v) for v in iso.y_thresholds_),
        )
    lr = LogisticRegression(C=1e6, solver="lbfgs").fit(logit(raw).reshape(-1, 1), y)
    return Calibrator("sigmoid", a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))
