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
import logging
import warnings
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.catalog import NEVER_DAYS
from models.calibration import Calibrator
from models.dormant import DormantMap, is_dormant
from models.timing import TimingModel, horizon_curves
from readiness.errors import ReadinessError
from readiness.scores import COHERENCE_TOLERANCE, probability_column


class _LightGBMLog:
    """LightGBM's own messages through Python logging, without one expected warning: a blank
    category is coded -1, which LightGBM reads as missing, exactly as meant ("Met negative value
    in categorical features, will convert it to NaN" printed once per dataset and prediction)."""

    _log = logging.getLogger("lightgbm")

    def info(self, msg: str) -> None:  # the library's native messages all come this way
        text = msg.strip()
        if "negative value in categorical features" in text or not text:
            return
        if "[Warning]" in text or "[Fatal]" in text:
            self._log.warning(text)
        else:
            self._log.debug(text)

    def warning(self, msg: str) -> None:
        self.info(f"[Warning] {msg}")


lgb.register_logger(_LightGBMLog())


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


def _stage(X: pd.DataFrame) -> np.ndarray:
    """The rank of the furthest gate each row has crossed (0: none)."""
    return X["ladder_stage"].to_numpy() if "ladder_stage" in X.columns else np.zeros(len(X))


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


# a cut of coherence worth telling a reader of the scores about: one percentage point (rare gates'
# probabilities of 1e-4 cut by 1e-6 are the ladder's rounding, not a disagreement of two models)
MATERIAL_CUT = 0.01


def ladder_caps(
    before: pd.DataFrame,
    after: pd.DataFrame,
    ladder: tuple[str, ...],
    stage: np.ndarray,
    min_cut: float = MATERIAL_CUT,
) -> dict[str, dict]:
    """Per gate, the rows whose own calibrated probability coherence lowered by at least
    `min_cut` to an earlier gate's (among rows that have not crossed it): how many, their share
    and the median cut. Many capped rows mean the gate's model finds crossing it about as likely
    as crossing the one before (nearly every lead that crosses one crosses the next), which a
    reader of the scores should be told rather than find out."""
    out: dict[str, dict] = {}
    for rank, gate in enumerate(ladder, start=1):
        col = probability_column(gate)
        open_rows = stage < rank
        cut = before[col].to_numpy() - after[col].to_numpy()
        capped = open_rows & (cut >= max(min_cut, COHERENCE_TOLERANCE))
        if capped.any():
            out[gate] = {
                "leads": int(capped.sum()),
                "share": round(float(capped.sum() / max(open_rows.sum(), 1)), 4),
                "median_cut": round(float(np.median(cut[capped])), 4),
            }
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
        dormant_after_days: int | None = None,
        dormant: dict[str, DormantMap] | None = None,
        timing: dict[str, TimingModel] | None = None,
    ):
        self.ladder = tuple(ladder)
        self.features = list(features)
        self.categorical = list(categorical)
        self.catalog_version = catalog_version
        self.gates = gates
        self.horizon_days = horizon_days
        # dormant leads' maps (models/dormant.py): none on a flat export and in older bundles
        self.dormant_after_days = dormant_after_days
        self.dormant: dict[str, DormantMap] = dict(dormant or {})
        # when leads cross each gate (models/timing.py): none in older bundles
        self.timing: dict[str, TimingModel] = dict(timing or {})

    def matrix(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [f for f in self.features if f not in X.columns]
        if missing:
            raise ReadinessError(
                f"The feature frame lacks {len(missing)} feature(s) the model was trained on "
                f"({', '.join(missing[:5])}...): rebuild features with the model's catalogue version {self.catalog_version}."
            )
        return X[self.features].astype(float)

    def predict_uncalibrated(self, X: pd.DataFrame) -> pd.DataFrame:
        M = self.matrix(X)
        return pd.DataFrame(
            {probability_column(g): self.gates[g].raw(M) for g in self.ladder}, index=X.index
        )

    def predict(self, X: pd.DataFrame, dormant: np.ndarray | None = None) -> pd.DataFrame:
        """One column p_<gate> per gate: calibrated (a dormant lead's by its own map,
        models/dormant.py) and coherent along the ladder. `dormant`: which rows are dormant
        (default: read from X's "days since" features)."""
        return coherent(self.calibrated(X, dormant), self.ladder, _stage(X))

    def predict_with_caps(self, X: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, dict]]:
        """predict's probabilities and, per gate, how many rows coherence lowered to an earlier
        gate's probability (ladder_caps)."""
        before, stage = self.calibrated(X), _stage(X)
        probs = coherent(before, self.ladder, stage)
        return probs, ladder_caps(before, probs, self.ladder, stage)

    def calibrated(self, X: pd.DataFrame, dormant: np.ndarray | None = None) -> pd.DataFrame:
        """Each gate's own calibrated probability, before coherence along the ladder."""
        M = self.matrix(X)
        probs = pd.DataFrame(
            {probability_column(g): self.gates[g].proba(M) for g in self.ladder}, index=X.index
        )
        if self.dormant:
            idle = is_dormant(X, self.dormant_after_days) if dormant is None else dormant
            if idle.any():
                for g, m in self.dormant.items():
                    col = probability_column(g)
                    probs.loc[idle, col] = m.calibrator.apply(probs.loc[idle, col].to_numpy())
        return probs

    def time_to_threshold(self, X: pd.DataFrame, probs: pd.DataFrame) -> pd.DataFrame:
        """p_<gate>_<h>d per gate and horizon and days_<gate> (models/timing.py), from the
        coherent probabilities `probs` (predict's) of the same rows; no columns without timing."""
        return horizon_curves(self.timing, self.matrix(X), probs, self.ladder, _stage(X))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        meta: dict[str, Any] = {
            "ladder": list(self.ladder),
            "features": self.features,
            "categorical": self.categorical,
            "catalog_version": self.catalog_version,
            "horizon_days": self.horizon_days,
            "dormant_after_days": self.dormant_after_days,
            "dormant": {g: m.to_dict() for g, m in self.dormant.items()},
            "timing": {g: t.save(folder) for g, t in self.timing.items()},
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
            meta.get("dormant_after_days"),
            {g: DormantMap.from_dict(m) for g, m in (meta.get("dormant") or {}).items()},
            {g: TimingModel.load(g, t, folder) for g, t in (meta.get("timing") or {}).items()},
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
    """Logistic regression per gate on the same features: counts log1p'd (signed) and
    standardised (unknown values at the training mean), categories one-hot encoded (a column for
    every code seen on at least MIN_LEVEL_ROWS training rows, at most the MAX_LEVELS most
    frequent, and one for any other code). Stored
    as coefficients.

    The numeric columns named `also_raw` (a user's own attributes: seconds on a website, an
    interest rate, a negative index) also enter on their own scale, standardised, beside the log:
    the regression weighs the two, so an effect linear in the raw value is not bent by the log,
    nor a skewed count's by the raw. Those that are unknown on some training rows get an
    "unknown" indicator too, so a blank is not read as the average. A feature's contribution is
    the sum of its columns'.

    A `plain` design has numbers on their own scale only, standardised, blanks at the mean;
    categories one-hot. Older bundles' your-columns baseline was one (today's is the design
    above on the user's columns alone: a plain one understated it).

    Every frequent code of a category has its own column (no reference level), so the penalty
    shrinks each code towards the average rather than towards one arbitrary code; the rare codes
    share one more column, which a code never seen in training also takes at scoring
    (scikit-learn's `OneHotEncoder(min_frequency=2, handle_unknown="infrequent_if_exist")`). The
    older design dropped the first code as the reference and gave it the rare codes (bundles
    written before, `every_level` false, are still read that way); what the change did on real
    data is in docs/models-and-evaluation.md#evaluation."""

    numeric: list[str]
    categorical: dict[str, list[float]]  # feature -> codes seen in training
    mean: list[float]
    scale: list[float]
    coefs: dict[str, dict] = field(default_factory=dict)  # gate -> {"w": [...], "b": float}
    calibrators: dict[str, Calibrator] = field(default_factory=dict)
    also_raw: list[str] = field(default_factory=list)
    raw_mean: list[float] = field(default_factory=list)
    raw_scale: list[float] = field(default_factory=list)
    unknown_flag: list[str] = field(default_factory=list)
    plain: bool = False  # numbers on their own scale only (no log terms)
    every_level: bool = False  # a column per code and one for others; older bundles: codes[1:]
    # each design column's training mean: a contribution is measured from it (older bundles:
    # none, contributions from 0)
    centre: list[float] = field(default_factory=list)
    # days-since features whose "never" (features.catalog.NEVER_DAYS) some training rows hold:
    # a never is no long time ago, so it gets an indicator and its log term sits at the mean of
    # the rows where it happened (older bundles: none, never read as 999 days)
    never_flag: list[str] = field(default_factory=list)
    # rarer codes (a landing page seen once), and any beyond the most frequent MAX_LEVELS, share
    # the column of any other code
    MAX_LEVELS: ClassVar[int] = 1000
    MIN_LEVEL_ROWS: ClassVar[int] = 2

    @classmethod
    def design(
        cls,
        X: pd.DataFrame,
        numeric: list[str],
        categorical: list[str],
        flexible: Collection[str] = (),
        plain: bool = False,
        never: Collection[str] = (),
    ) -> LogisticBaseline:
        """The design learnt from training rows `X`; the `flexible` numeric columns (a user's
        own) also get a raw term and, where unknown on some rows, an unknown indicator; the
        `never` ones (days since something, NEVER_DAYS when it never happened) a never
        indicator where some rows never had it. `plain`: numbers on their own scale only."""
        if plain:
            flexible = never = ()
        never_flag = [c for c in numeric if c in never and 0 < (X[c] >= NEVER_DAYS).sum() < len(X)]
        mean, scale = _standardise(cls._scaled(_never_as_unknown(X[numeric], never_flag), plain))
        # two distinct values (a flag): the raw term is the log term again
        also_raw = [c for c in numeric if c in flexible and X[c].nunique() > 2]
        raw_mean, raw_scale = _standardise(X[also_raw].to_numpy(dtype=float))
        unknown = [c for c in numeric if c in flexible and 0 < X[c].isna().sum() < len(X)]
        cats = {}
        for c in categorical:
            counts = X[c].value_counts()
            # the frequent codes get a column each (a landing-page id may have hundreds)
            frequent = counts[counts >= cls.MIN_LEVEL_ROWS].index[: cls.MAX_LEVELS]
            cats[c] = sorted(float(v) for v in frequent)
        made = cls(
            list(numeric),
            cats,
            mean,
            scale,
            also_raw=also_raw,
            raw_mean=raw_mean,
            raw_scale=raw_scale,
            unknown_flag=unknown,
            plain=plain,
            every_level=True,
            never_flag=never_flag,
        )
        made.centre = made._training_centre(X)
        return made

    def _training_centre(self, X: pd.DataFrame) -> list[float]:
        """The mean of each design column over the training rows `X`, without building the
        matrix: 0 for the standardised terms (unknown values sit at the mean), the share of
        unknown values for an indicator, the share of each code (and of any other) for a
        category."""
        out = [0.0] * (len(self.numeric) + len(self.also_raw))
        out += [float(X[c].isna().mean()) for c in self.unknown_flag]
        out += [float((X[c] >= NEVER_DAYS).mean()) for c in self.never_flag]
        for c, codes in self.categorical.items():
            v = X[c].to_numpy(dtype=float)
            shares = [float(np.mean(v == code)) for code in codes]
            out += [*shares, float(np.mean(~np.isin(v, codes)))]
        return out

    @staticmethod
    def _scaled(num: pd.DataFrame, plain: bool) -> np.ndarray:
        """The numeric block before standardising: signed log1p, or the values (`plain`)."""
        a = num.to_numpy(dtype=float)
        return a if plain else np.sign(a) * np.log1p(np.abs(a))

    def _numeric_parts(self, X: pd.DataFrame) -> list[np.ndarray]:
        """The log terms, the raw terms, the unknown and the never indicators (rows x columns
        each)."""
        num = _never_as_unknown(X[self.numeric], self.never_flag)
        log = (self._scaled(num, self.plain) - np.asarray(self.mean)) / np.asarray(self.scale)
        raw = (X[self.also_raw].to_numpy(dtype=float) - np.asarray(self.raw_mean)) / np.asarray(
            self.raw_scale
        )
        # an unknown value (a user's attribute) at the mean
        flags = X[self.unknown_flag].isna().to_numpy(dtype=float)
        never = (X[self.never_flag].to_numpy(dtype=float) >= NEVER_DAYS).astype(float)
        return [np.nan_to_num(log, nan=0.0), np.nan_to_num(raw, nan=0.0), flags, never]

    def matrix(self, X: pd.DataFrame) -> np.ndarray:
        parts = self._numeric_parts(X)
        for c, codes in self.categorical.items():
            v = X[c].to_numpy(dtype=float)
            columns = [v == code for code in (codes if self.every_level else codes[1:])]
            if self.every_level:  # any other code: rare in training, or never seen
                columns.append(~np.isin(v, codes))
            parts.append(
                np.stack(columns, axis=1).astype(float) if columns else np.zeros((len(X), 0))
            )
        return np.hstack(parts)

    def design_columns(self, features: Collection[str]) -> list[int]:
        """The design matrix's columns that carry `features`: their log, raw, unknown and never
        terms, and a category's every column (what leaving the features out must drop)."""
        groups = [
            *([n] for n in self.numeric),
            *([n] for n in self.also_raw),
            *([n] for n in self.unknown_flag),
            *([n] for n in self.never_flag),
        ]
        out = [i for i, (n,) in enumerate(groups) if n in features]
        start = len(groups)
        for c, codes in self.categorical.items():
            width = self._width(codes)
            if c in features:
                out += list(range(start, start + width))
            start += width
        return out

    def _width(self, codes: list[float]) -> int:
        """A category's columns: one per frequent code and one for any other, or (an older
        bundle) one per code but the reference."""
        return len(codes) + 1 if self.every_level else max(len(codes) - 1, 0)

    def margin(self, X: pd.DataFrame, gate: str) -> np.ndarray:
        """The log-odds of `gate`'s regression."""
        c = self.coefs[gate]
        return self.matrix(X) @ np.asarray(c["w"]) + c["b"]

    def raw(self, X: pd.DataFrame, gate: str) -> np.ndarray:
        return 1 / (1 + np.exp(-self.margin(X, gate)))

    def contributions(self, X: pd.DataFrame, gate: str) -> np.ndarray:
        """(rows x features) log-odds contributions of `gate`'s regression, in the order of
        `numeric` then `categorical`, each measured from the average training row: exactly
        additive (they sum to the margin minus the margin of the training mean,
        `centre_margin`). Numeric features are standardised, so 0 is the training mean (a
        feature's raw term and unknown indicator add to its log term); a category contributes
        its code's weight less the training rows' average weight of that category, so a
        category every row shares (a column the export lacks, "unknown" on every lead)
        contributes 0 and a sign says above or below the average. Older bundles (no centre):
        from 0, relative to the first code."""
        w = np.asarray(self.coefs[gate]["w"])
        m = self.matrix(X)
        if self.centre:
            m = m - np.asarray(self.centre)
        design = m * w
        n_num, n_raw, n_flag = len(self.numeric), len(self.also_raw), len(self.unknown_flag)
        n_never = len(self.never_flag)
        numeric = design[:, :n_num].copy()
        where = {c: i for i, c in enumerate(self.numeric)}
        for j, c in enumerate(self.also_raw):
            numeric[:, where[c]] += design[:, n_num + j]
        for j, c in enumerate(self.unknown_flag):
            numeric[:, where[c]] += design[:, n_num + n_raw + j]
        for j, c in enumerate(self.never_flag):
            numeric[:, where[c]] += design[:, n_num + n_raw + n_flag + j]
        parts = [numeric]
        start = n_num + n_raw + n_flag + n_never
        for codes in self.categorical.values():
            width = self._width(codes)
            parts.append(design[:, start : start + width].sum(axis=1, keepdims=True))
            start += width
        return np.hstack(parts)

    def centre_margin(self, gate: str) -> float:
        """The log-odds of the average training row (the intercept, for an older bundle): the
        point contributions are measured from."""
        c = self.coefs[gate]
        return float(np.dot(self.centre, c["w"]) + c["b"]) if self.centre else float(c["b"])

    def for_gate(self, gate: str) -> LogisticBaseline:
        """A copy holding only `gate`'s coefficients (no calibrators): a gate model's logistic side."""
        return replace(self, coefs={gate: self.coefs[gate]}, calibrators={})

    def proba(self, X: pd.DataFrame, gate: str) -> np.ndarray:
        return self.calibrators[gate].apply(self.raw(X, gate))

    def to_dict(self) -> dict:
        return {
            "numeric": self.numeric,
            "categorical": self.categorical,
            "mean": self.mean,
            "scale": self.scale,
            "also_raw": self.also_raw,
            "raw_mean": self.raw_mean,
            "raw_scale": self.raw_scale,
            "unknown_flag": self.unknown_flag,
            "plain": self.plain,
            "every_level": self.every_level,
            "centre": self.centre,
            "never_flag": self.never_flag,
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
            d.get("also_raw", []),  # bundles written before the raw terms have none
            d.get("raw_mean", []),
            d.get("raw_scale", []),
            d.get("unknown_flag", []),
            d.get("plain", False),
            d.get("every_level", False),
            d.get("centre", []),  # bundles written before: contributions from 0
            d.get("never_flag", []),  # bundles written before: never read as 999 days
        )


Baseline = PointsScore | LogisticBaseline


def _never_as_unknown(num: pd.DataFrame, never_flag: list[str]) -> pd.DataFrame:
    """`num` with the never values (NEVER_DAYS) of the `never_flag` columns unknown: their log
    term then sits at the mean of the rows where the thing happened, the indicator says never."""
    if not never_flag:
        return num
    out = num.copy()
    for c in never_flag:
        out[c] = out[c].where(out[c] < NEVER_DAYS)
    return out


def _standardise(a: np.ndarray) -> tuple[list[float], list[float]]:
    """Each column's training mean and spread, ignoring unknown values: a column unknown on every
    row sits at 0, and a constant one (its spread only rounding error, e.g. 1e-16) gets scale 1,
    so it sits at 0 and neither its coefficient nor its contribution can move a lead."""
    if len(a) == 0 or a.shape[1] == 0:
        return [0.0] * a.shape[1], [1.0] * a.shape[1]
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-unknown columns: handled below
        mean, scale = np.nanmean(a, axis=0), np.nanstd(a, axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    constant = ~np.isfinite(scale) | (scale <= 1e-9 * np.maximum(1.0, np.abs(mean)))
    return mean.tolist(), np.where(constant, 1.0, scale).tolist()


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
