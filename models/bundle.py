"""The trained readiness model (a gate model per ladder gate) and the two baselines.

Saved as a folder of plain files: LightGBM models as text, calibrators and baselines as JSON, and a
meta.json with the ladder, the feature list and the catalogue version, so nothing but a schema'd
folder passes between stages.

The ladder is coherent: a gate the lead already crossed (from the `ladder_stage` feature) has
probability 1, and each later gate is capped by the one before it, since crossing gate k+1
within the horizon requires having crossed gate k by then.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import lightgbm as lgb
import numpy as np
import pandas as pd

from models.calibration import Calibrator
from readiness.errors import ReadinessError
from readiness.scores import probability_column


@dataclass
class GateModel:
    """One gate: a booster (None when the gate had too little data), optionally blended with a
    logistic regression on the same features, and the calibrator of the blend.

    The uncalibrated score is sigmoid(w * booster margin + (1 - w) * logistic margin) with
    w = `lightgbm_weight`: 1 is the booster alone, 0 the logistic regression alone. Training picks
    w per gate on the validation (stop) cohort, so the gate never does worse there than its own
    logistic regression."""

    gate: str
    booster: lgb.Booster | None
    calibrator: Calibrator
    base_rate: float
    info: dict = field(default_factory=dict)
    linear: LogisticBaseline | None = None  # the logistic side, with coefs for this gate
    lightgbm_weight: float = 1.0

    def _booster_margin(self, X: pd.DataFrame) -> np.ndarray:
        if self.booster is None:
            raise ValueError(f"gate {self.gate} has no booster")
        it = self.info.get("best_iteration") or None
        return np.asarray(self.booster.predict(X, num_iteration=it, raw_score=True))

    def margin(self, X: pd.DataFrame) -> np.ndarray:
        """The uncalibrated log-odds of the blend."""
        w = self.lightgbm_weight
        z = np.zeros(len(X))
        if w > 0:
            z += w * self._booster_margin(X)
        if w < 1:
            if self.linear is None:
                raise ValueError(f"gate {self.gate} blends a logistic side it does not have")
            z += (1 - w) * self.linear.margin(X, self.gate)
        return z

    def raw(self, X: pd.DataFrame) -> np.ndarray:
        if self.booster is None:
            return np.full(len(X), self.base_rate)
        if self.lightgbm_weight == 1:  # LightGBM's own probabilities, bit for bit
            return np.asarray(
                self.booster.predict(X, num_iteration=self.info.get("best_iteration") or None)
            )
        return 1 / (1 + np.exp(-self.margin(X)))

    def proba(self, X: pd.DataFrame) -> np.ndarray:
        if self.booster is None:
            return np.full(len(X), self.base_rate)
        return np.clip(self.calibrator.apply(self.raw(X)), 0.0, 1.0)


def coherent(probs: pd.DataFrame, ladder: tuple[str, ...], stage: np.ndarray) -> pd.DataFrame:
    """Crossed gates at 1, then each gate capped by the previous one (a running minimum)."""
    out = probs.copy()
    running = np.ones(len(out))
    for rank, gate in enumerate(ladder, start=1):
        col = probability_column(gate)
        p = np.where(stage >= rank, 1.0, out[col].to_numpy())
        running = np.minimum(running, p)
        out[col] = running
    return out


class ReadinessModel:
    """Calibrated, coherent probabilities of crossing each gate within the horizon."""

    def __init__(
        self,
        ladder: tuple[str, ...],
        features: list[str],
        categorical: list[str],
        catalog_version: str,
        gates: dict[str, GateModel],
        horizon_days: int,
    ):
        self.ladder = tuple(ladder)
        self.features = list(features)
        self.categorical = list(categorical)
        self.catalog_version = catalog_version
        self.gates = gates
        self.horizon_days = horizon_days

    def _matrix(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [f for f in self.features if f not in X.columns]
        if missing:
            raise ReadinessError(
                f"The feature frame lacks {len(missing)} feature(s) the model was trained on "
                f"({', '.join(missing[:5])}...): rebuild features with the model's catalogue version {self.catalog_version}."
            )
        return X[self.features].astype(float)

    def predict_uncalibrated(self, X: pd.DataFrame) -> pd.DataFrame:
        M = self._matrix(X)
        return pd.DataFrame(
            {probability_column(g): self.gates[g].raw(M) for g in self.ladder}, index=X.index
        )

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:
        """One column p_<gate> per gate: calibrated and coherent along the ladder."""
        M = self._matrix(X)
        probs = pd.DataFrame(
            {probability_column(g): self.gates[g].proba(M) for g in self.ladder}, index=X.index
        )
        stage = X["ladder_stage"].to_numpy() if "ladder_stage" in X.columns else np.zeros(len(X))
        return coherent(probs, self.ladder, stage)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        meta: dict[str, Any] = {
            "ladder": list(self.ladder),
            "features": self.features,
            "categorical": self.categorical,
            "catalog_version": self.catalog_version,
            "horizon_days": self.horizon_days,
            "gates": {},
        }
        for g, m in self.gates.items():
            if m.booster is not None:
                m.booster.save_model(
                    str(folder / f"gate_{g}.txt"),
                    num_iteration=m.info.get("best_iteration") or None,
                )
            meta["gates"][g] = {
                "trained": m.booster is not None,
                "calibrator": m.calibrator.to_dict(),
                "base_rate": m.base_rate,
                "info": m.info,
                "lightgbm_weight": m.lightgbm_weight,
                "linear": m.linear.to_dict() if m.linear is not None else None,
            }
        (folder / "meta.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, folder: Path) -> ReadinessModel:
        meta_path = folder / "meta.json"
        if not meta_path.exists():
            raise ReadinessError(
                f"No trained model in {folder} (meta.json missing). Run `readiness train` first."
            )
        meta = json.loads(meta_path.read_text())
        gates = {}
        for g, m in meta["gates"].items():
            booster = (
                lgb.Booster(model_file=str(folder / f"gate_{g}.txt")) if m["trained"] else None
            )
            info = {
                **m["info"],
                "best_iteration": None,
            }  # the saved model holds only the best trees
            linear = m.get("linear")
            gates[g] = GateModel(
                g,
                booster,
                Calibrator.from_dict(m["calibrator"]),
                m["base_rate"],
                info,
                linear=LogisticBaseline.from_dict(linear) if linear else None,
                lightgbm_weight=float(m.get("lightgbm_weight", 1.0)),
            )
        return cls(
            tuple(meta["ladder"]),
            meta["features"],
            meta["categorical"],
            meta["catalog_version"],
            gates,
            meta["horizon_days"],
        )


@dataclass
class PointsScore:
    """The score marketing ops writes by hand: points per unit of some features, capped."""

    points: dict[str, float]
    cap: float
    calibrators: dict[str, Calibrator] = field(default_factory=dict)

    def score(self, X: pd.DataFrame) -> np.ndarray:
        s = np.zeros(len(X))
        for name, pts in self.points.items():
            s += pts * np.minimum(X[name].to_numpy(dtype=float), self.cap)
        return s

    def squashed(self, X: pd.DataFrame) -> np.ndarray:
        """The score mapped into (0, 1) by a fixed monotone curve (ranking unchanged)."""
        return 1 / (1 + np.exp(-self.score(X) / 20.0))

    def proba(self, X: pd.DataFrame, gate: str) -> np.ndarray:
        return self.calibrators[gate].apply(self.squashed(X))

    def to_dict(self) -> dict:
        return {
            "points": self.points,
            "cap": self.cap,
            "calibrators": {g: c.to_dict() for g, c in self.calibrators.items()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> PointsScore:
        return cls(
            d["points"], d["cap"], {g: Calibrator.from_dict(c) for g, c in d["calibrators"].items()}
        )


@dataclass
class LogisticBaseline:
    """Logistic regression per gate on the same features: counts log1p'd and standardised
    (unknown values at the training mean), categories one-hot encoded (every code seen on at
    least MIN_LEVEL_ROWS training rows, at most the MAX_LEVELS most frequent). Stored as
    coefficients."""

    numeric: list[str]
    categorical: dict[str, list[float]]  # feature -> codes seen in training
    mean: list[float]
    scale: list[float]
    coefs: dict[str, dict] = field(default_factory=dict)  # gate -> {"w": [...], "b": float}
    calibrators: dict[str, Calibrator] = field(default_factory=dict)
    # rarer categories (a landing page seen twice), and any beyond the most frequent MAX_LEVELS,
    # share the reference's column
    MAX_LEVELS: ClassVar[int] = 1000
    MIN_LEVEL_ROWS: ClassVar[int] = 5

    @classmethod
    def design(
        cls, X: pd.DataFrame, numeric: list[str], categorical: list[str]
    ) -> LogisticBaseline:
        num = cls._transform(X[numeric])
        if len(num):
            mean, scale = np.nanmean(num, axis=0), np.nanstd(num, axis=0)
        else:
            mean, scale = np.zeros(len(numeric)), np.ones(len(numeric))
        mean = np.where(np.isfinite(mean), mean, 0.0)  # a column unknown on every row
        # a constant column (its spread only rounding error, e.g. 1e-16) carries nothing: scale
        # 1, so it sits at 0 and neither its coefficient nor its contribution can move a lead
        constant = ~np.isfinite(scale) | (scale <= 1e-9 * np.maximum(1.0, np.abs(mean)))
        scale = np.where(constant, 1.0, scale)
        cats = {}
        for c in categorical:
            counts = X[c].value_counts()
            # the frequent codes get a column each (a landing-page id may have hundreds)
            frequent = counts[counts >= cls.MIN_LEVEL_ROWS].index[: cls.MAX_LEVELS]
            cats[c] = sorted(float(v) for v in (frequent if len(frequent) else counts.index[:1]))
        return cls(list(numeric), cats, mean.tolist(), scale.tolist())

    @staticmethod
    def _transform(num: pd.DataFrame) -> np.ndarray:
        a = num.to_numpy(dtype=float)
        return np.sign(a) * np.log1p(np.abs(a))

    def matrix(self, X: pd.DataFrame) -> np.ndarray:
        num = (self._transform(X[self.numeric]) - np.asarray(self.mean)) / np.asarray(self.scale)
        num = np.nan_to_num(num, nan=0.0)  # an unknown value (a user's attribute) at the mean
        parts = [num]
        for c, codes in self.categorical.items():
            v = X[c].to_numpy(dtype=float)
            parts.append(
                np.stack([v == code for code in codes[1:]], axis=1).astype(float)
                if len(codes) > 1
                else np.zeros((len(X), 0))
            )
        return np.hstack(parts)

    def margin(self, X: pd.DataFrame, gate: str) -> np.ndarray:
        """The log-odds of `gate`'s regression."""
        c = self.coefs[gate]
        return self.matrix(X) @ np.asarray(c["w"]) + c["b"]

    def raw(self, X: pd.DataFrame, gate: str) -> np.ndarray:
        return 1 / (1 + np.exp(-self.margin(X, gate)))

    def contributions(self, X: pd.DataFrame, gate: str) -> np.ndarray:
        """(rows x features) log-odds contributions of `gate`'s regression, in the order of
        `numeric` then `categorical`: exactly additive (they sum to the margin minus the
        intercept). Numeric features are standardised, so 0 is the training mean; a category
        contributes relative to the first code seen in training."""
        w = np.asarray(self.coefs[gate]["w"])
        design = self.matrix(X) * w
        n_num = len(self.numeric)
        parts = [design[:, :n_num]]
        start = n_num
        for codes in self.categorical.values():
            width = max(len(codes) - 1, 0)
            parts.append(design[:, start : start + width].sum(axis=1, keepdims=True))
            start += width
        return np.hstack(parts)

    def for_gate(self, gate: str) -> LogisticBaseline:
        """A copy holding only `gate`'s coefficients (no calibrators): a gate model's logistic side."""
        return LogisticBaseline(
            self.numeric, self.categorical, self.mean, self.scale, {gate: self.coefs[gate]}
        )

    def proba(self, X: pd.DataFrame, gate: str) -> np.ndarray:
        return self.calibrators[gate].apply(self.raw(X, gate))

    def to_dict(self) -> dict:
        return {
            "numeric": self.numeric,
            "categorical": self.categorical,
            "mean": self.mean,
            "scale": self.scale,
            "coefs": self.coefs,
            "calibrators": {g: c.to_dict() for g, c in self.calibrators.items()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> LogisticBaseline:
        return cls(
            d["numeric"],
            d["categorical"],
            d["mean"],
            d["scale"],
            d["coefs"],
            {g: Calibrator.from_dict(c) for g, c in d["calibrators"].items()},
        )


Baseline = PointsScore | LogisticBaseline


def save_baselines(folder: Path, baselines: dict[str, Baseline]) -> None:
    """Each baseline as <name>.json (the points score as points_score.json)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, base in baselines.items():
        file = "points_score.json" if name == "points" else f"{name}.json"
        (folder / file).write_text(
            json.dumps(base.to_dict(), indent=2 if name == "points" else None)
        )


def load_baselines(folder: Path) -> dict[str, Baseline]:
    """{"points": ..., "logistic": ..., and "your_columns" when it was trained}."""
    out: dict[str, Baseline] = {
        "points": PointsScore.from_dict(json.loads((folder / "points_score.json").read_text()))
    }
    for name in ("logistic", "your_columns"):
        if (folder / f"{name}.json").exists():
            out[name] = LogisticBaseline.from_dict(
                json.loads((folder / f"{name}.json").read_text())
            )
    return out
