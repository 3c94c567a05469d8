"""Time to threshold: when a lead is likely to cross each gate, not only whether.

A gate model gives the probability of crossing within the horizon H (labels.horizon_days). Its
timing model spreads that probability over [0, H): for a lead that crosses within H, the chance
that it crosses within each shorter horizon h (train.time_horizons, e.g. 14, 30 and 60 days):

    P(cross within h) = P(cross within H) x P(T < h | T < H, lead)

so the curve is non-decreasing in h by construction and ends at the published readiness at H.
Per horizon the curve is made coherent along the ladder as readiness is (a crossed gate at 1, each
gate capped by the one before it: a running minimum of curves that each rise with h, so it still
rises with h).

The timing model is a LightGBM multiclass model per gate on the training cohort's positives, its
classes the intervals between the horizons, early-stopped on the stop cohort's positives. Only
positives whose whole horizon lies in the data count: a window cut short by the end of the data
keeps the quick crossings and loses the slow ones, which would bias the timing short.
- fewer than MIN_TIMING_POSITIVES such positives (or fewer than MIN_MARGINAL_POSITIVES in the
  stop cohort to stop on): the gate's marginal timing (the shares of its
  training crossings per interval, the same for every lead), said so;
- fewer than MIN_MARGINAL_POSITIVES, or a flat export (no dates): unknown, with the reason.
For a revenue-anchored gate the follow-through window must lie in the data too.

Dormant leads' readiness is recalibrated on their own (models/dormant.py); their timing shares
come from the active leads' crossings, and are not judged on dormant leads separately.

`days_<gate>` is the median days to the crossing, read off the piecewise-linear curve through
(0, 0), (h, P_h), ..., (H, P_H), when the lead more likely than not crosses within H (P_H >= 0.5);
missing otherwise (not expected within the horizon), and 0 for a gate already crossed.

Evaluation on the test cohort (realised crossings, models/evaluate.py): per horizon, ROC AUC and ECE of P_h against
"crossed within h"; Harrell's concordance of the curve's area (the expected days within H, fewer
= sooner) against the days to the crossing, censored at H, beside the concordance of readiness
alone (does the timing add anything to the ranking?); and the mean predicted vs realised share
crossing within each horizon.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from readiness.scores import days_column, horizon_column, probability_column

log = logging.getLogger(__name__)

MIN_TIMING_POSITIVES = 200  # a per-lead timing model needs this many complete positives
MIN_MARGINAL_POSITIVES = 20  # the gate's marginal timing needs this many
MAX_TIMING_ROWS = 200_000  # positives beyond this are sampled (the timing of a crossing)
TIMING_ROUNDS = 500
TIMING_STOP_ROUNDS = 30

LIGHTGBM = "lightgbm"
MARGINAL = "marginal"
UNKNOWN = "unknown"


@dataclass
class TimingModel:
    """One gate's timing: P(T < h | T < H) per horizon h, by lead (LightGBM) or for everyone."""

    gate: str
    horizons: tuple[int, ...]
    horizon_days: int
    method: str  # lightgbm | marginal | unknown
    reason: str
    booster: lgb.Booster | None = None
    marginal: tuple[float, ...] = ()  # the cumulative shares at each horizon
    info: dict = field(default_factory=dict)

    @property
    def known(self) -> bool:
        return self.method != UNKNOWN

    def shares(self, M: pd.DataFrame) -> np.ndarray:
        """(rows, horizons): P(T < h | T < H) for each row, non-decreasing along the horizons;
        NaN when the timing is unknown."""
        n, k = len(M), len(self.horizons)
        if self.method == UNKNOWN:
            return np.full((n, k), np.nan)
        if self.method == MARGINAL:
            return np.tile(np.asarray(self.marginal, dtype=float), (n, 1))
        assert self.booster is not None
        cls = np.asarray(self.booster.predict(M)).reshape(n, k + 1)
        return np.clip(np.cumsum(cls, axis=1)[:, :k], 0.0, 1.0)

    def to_dict(self) -> dict:
        return {
            "horizons": list(self.horizons),
            "horizon_days": self.horizon_days,
            "method": self.method,
            "reason": self.reason,
            "marginal": list(self.marginal),
            "info": self.info,
        }

    def save(self, folder: Path) -> dict:
        if self.booster is not None:
            self.booster.save_model(str(folder / f"timing_{self.gate}.txt"))
        return self.to_dict()

    @classmethod
    def load(cls, gate: str, d: dict, folder: Path) -> TimingModel:
        booster = None
        if d["method"] == LIGHTGBM:
            booster = lgb.Booster(model_file=str(folder / f"timing_{gate}.txt"))
        return cls(
            gate,
            tuple(d["horizons"]),
            int(d["horizon_days"]),
            d["method"],
            d["reason"],
            booster,
            tuple(d.get("marginal") or ()),
            dict(d.get("info") or {}),
        )


def unknown_timing(
    gate: str, horizons: tuple[int, ...], horizon_days: int, reason: str
) -> TimingModel:
    return TimingModel(gate, horizons, horizon_days, UNKNOWN, reason)


def interval_class(days: np.ndarray, horizons: tuple[int, ...]) -> np.ndarray:
    """0 for a crossing before the first horizon, 1 before the second, ..., len(horizons) for
    one between the last horizon and H."""
    return np.searchsorted(np.asarray(horizons, dtype=float), days, side="right")


def fit_timing(
    gate: str,
    X: pd.DataFrame,
    days: np.ndarray,
    y: np.ndarray,
    *,
    rows: tuple[np.ndarray, np.ndarray],
    complete: np.ndarray,
    categorical: list[str],
    lgb_params: dict,
    horizons: tuple[int, ...],
    horizon_days: int,
    seed: int,
    prepare: Callable[[pd.DataFrame], pd.DataFrame] = lambda frame: frame,
) -> TimingModel:
    """Fit one gate's timing on the (train, stop) rows' positives whose horizon is complete;
    `prepare` readies a block of rows for LightGBM as the gate's booster gets them."""
    tr, st = rows
    usable = (y == 1) & complete & np.isfinite(days) & (days < horizon_days)
    tr, st = tr[usable[tr]], st[usable[st]]
    n = len(tr)
    if n < MIN_MARGINAL_POSITIVES:
        return unknown_timing(
            gate,
            horizons,
            horizon_days,
            f"{n} training crossing(s) of {gate} within {horizon_days} days (at least "
            f"{MIN_MARGINAL_POSITIVES} needed): when leads cross it is unknown",
        )
    cls = interval_class(days, horizons)
    counts = np.bincount(cls[tr], minlength=len(horizons) + 1)
    marginal = tuple(float(v) for v in np.cumsum(counts)[: len(horizons)] / n)
    info = {"positives": int(n), "stop_positives": int(len(st))}
    if n < MIN_TIMING_POSITIVES or len(st) < MIN_MARGINAL_POSITIVES:
        return TimingModel(
            gate,
            horizons,
            horizon_days,
            MARGINAL,
            f"{n} training crossing(s) of {gate} ({len(st)} to stop on): too few to time each "
            f"lead; every lead gets the gate's marginal timing",
            marginal=marginal,
            info=info,
        )
    rng = np.random.default_rng(seed)
    if n > MAX_TIMING_ROWS:
        tr = np.sort(rng.choice(tr, MAX_TIMING_ROWS, replace=False))
    params = {
        k: v
        for k, v in lgb_params.items()
        if k not in ("monotone_constraints", "monotone_constraints_method", "metric")
    }
    params |= {"objective": "multiclass", "num_class": len(horizons) + 1, "metric": "multi_logloss"}
    dtrain = lgb.Dataset(
        prepare(X.iloc[tr]), cls[tr], categorical_feature=categorical, free_raw_data=True
    )
    dstop = lgb.Dataset(
        prepare(X.iloc[st]), cls[st], reference=dtrain, categorical_feature=categorical
    )
    booster = lgb.train(
        params,
        dtrain,
        num_boost_round=TIMING_ROUNDS,
        valid_sets=[dstop],
        valid_names=["valid_stop"],
        callbacks=[lgb.early_stopping(TIMING_STOP_ROUNDS, verbose=False)],
    )
    best = max(booster.best_iteration or booster.current_iteration(), 1)
    # the saved model holds only the kept trees
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    info |= {"trees": int(best), "classes": int(len(horizons) + 1)}
    return TimingModel(
        gate,
        horizons,
        horizon_days,
        LIGHTGBM,
        f"timed per lead from {n:,} training crossings",
        booster,
        marginal,
        info,
    )


def horizon_curves(
    timing: dict[str, TimingModel],
    M: pd.DataFrame,
    probs: pd.DataFrame,
    ladder: Sequence[str],
    stage: np.ndarray,
) -> pd.DataFrame:
    """The probability of crossing each gate within each horizon (coherent along the ladder and
    non-decreasing along the horizons, NaN where the gate's timing is unknown) and the median days
    to each gate's crossing; `probs` are the coherent readiness probabilities at H."""
    out = pd.DataFrame(index=probs.index)
    if not timing:
        return out
    horizons = next(iter(timing.values())).horizons
    curves = {}
    for rank, g in enumerate(ladder, start=1):
        t = timing[g]
        share = t.shares(M)
        p_h = probs[probability_column(g)].to_numpy()[:, None] * share
        # a crossed gate is crossed at every horizon
        curves[g] = np.where((stage >= rank)[:, None], 1.0, p_h)
    running = np.ones((len(probs), len(horizons)))
    for g in ladder:
        c = curves[g]
        known = ~np.isnan(c)
        # an unknown gate leaves the running minimum as it is: the later gates are capped by the
        # known ones before it
        running = np.where(known, np.minimum(running, np.where(known, c, 1.0)), running)
        curves[g] = np.where(known, running, np.nan)
    grid = np.asarray([0.0, *horizons, float(next(iter(timing.values())).horizon_days)])
    for rank, g in enumerate(ladder, start=1):
        for j, h in enumerate(horizons):
            out[horizon_column(g, h)] = curves[g][:, j]
        full = np.column_stack(
            [np.zeros(len(probs)), curves[g], probs[probability_column(g)].to_numpy()]
        )
        # an unknown timing has no days either (the curve's ends alone would be a straight-line
        # guess); a crossed gate is 0 days away
        days = median_days(full, grid) if timing[g].known else np.full(len(probs), np.nan)
        days[stage >= rank] = 0.0
        out[days_column(g)] = days
    return out


def when_text(
    times: pd.DataFrame,
    probs: pd.DataFrame,
    timing: dict[str, TimingModel],
    ladder: Sequence[str],
    gate_rank: np.ndarray,
    stage: np.ndarray,
) -> np.ndarray:
    """Per row, in words, when it is likely to cross the gate of `gate_rank` (0-based): "likely
    in about N days", "unlikely within H days (p)" or "unknown: why", so that a blank days_<gate>
    is never left to be read as either."""
    out = np.empty(len(probs), dtype=object)
    if not timing:
        out[:] = "unknown: the model was trained without time to threshold"
        return out
    for k, g in enumerate(ladder):
        rows = np.flatnonzero(gate_rank == k)
        t = timing[g]
        days = times[days_column(g)].to_numpy() if days_column(g) in times else None
        p_h = probs[probability_column(g)].to_numpy()
        if not len(rows):
            continue
        if not t.known or days is None:
            text = np.full(len(rows), f"unknown: {t.reason or 'no timing for this gate'}", object)
        else:
            d = days[rows]
            pct = np.round(p_h[rows] * 100).astype(int).astype(str)
            soon = np.maximum(np.round(np.nan_to_num(d)), 1).astype(int).astype(str)
            text = np.where(
                np.isnan(d),
                np.char.add(np.char.add(f"unlikely within {t.horizon_days} days (", pct), "%)"),
                np.char.add(np.char.add("likely in about ", soon), " days"),
            ).astype(object)
        out[rows] = np.where(stage[rows] > k, "crossed", text)
    return out


def median_days(curve: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Per row, the day the piecewise-linear curve (values at `grid`) first reaches 0.5; NaN when
    it never does (or the curve is unknown)."""
    n = len(curve)
    out = np.full(n, np.nan)
    reached = curve >= 0.5
    ok = reached[:, -1] & ~np.isnan(curve).any(axis=1)
    if not ok.any():
        return out
    rows = np.flatnonzero(ok)
    j = reached[rows].argmax(axis=1)  # the first grid point at or above 0.5 (j >= 1: curve[0] = 0)
    lo_p, hi_p = curve[rows, j - 1], curve[rows, j]
    lo_d, hi_d = grid[j - 1], grid[j]
    frac = np.where(hi_p > lo_p, (0.5 - lo_p) / np.where(hi_p > lo_p, hi_p - lo_p, 1.0), 1.0)
    out[rows] = lo_d + frac * (hi_d - lo_d)
    return out


def expected_days(curve: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Per row, the expected days without crossing within H (the area above the piecewise-linear
    curve through `grid`, the restricted mean time): fewer = sooner."""
    widths = np.diff(grid)
    mids = (curve[:, 1:] + curve[:, :-1]) / 2
    return ((1.0 - mids) * widths).sum(axis=1)


def concordance(days: np.ndarray, event: np.ndarray, risk: np.ndarray) -> tuple[float, int]:
    """Harrell's concordance of `risk` (higher = sooner) with the times to an event, censored:
    a pair counts when one lead crossed (event) on an earlier whole day than the other's crossing
    or censoring; it is concordant when that lead has the higher risk (ties count half). Returns
    the index and the number of comparable pairs."""
    d = np.floor(np.asarray(days, dtype=float))
    event = np.asarray(event, dtype=bool)
    risk = np.asarray(risk, dtype=float)
    concordant = 0.0
    pairs = 0
    for day in np.unique(d[event]):
        later = np.sort(risk[d > day])
        if not len(later):
            continue
        r = risk[event & (d == day)]
        below = np.searchsorted(later, r, side="left")
        ties = np.searchsorted(later, r, side="right") - below
        concordant += float(below.sum()) + 0.5 * float(ties.sum())
        pairs += len(r) * len(later)
    return (concordant / pairs if pairs else float("nan")), int(pairs)


def not_crossed(scores: pd.DataFrame, ladder: Sequence[str], gate: str) -> pd.Series:
    """The scored leads whose current stage is short of `gate` (by rank, not by a probability
    of 1, which a calibration may also give a lead that has not crossed)."""
    rank = {g: k for k, g in enumerate(ladder, start=1)}
    return scores["current_stage"].map(rank).fillna(0) < rank[gate]


def open_lead_summary(
    scores: pd.DataFrame, model_timing: dict[str, TimingModel], ladder: Sequence[str]
) -> dict:
    """Per gate, over the scored leads that have not crossed it: the expected crossings within
    each horizon (the sum of the probabilities), how many leads more likely than not cross within
    H and their median days; or why the timing is unknown."""
    if not model_timing:
        return {"unknown": "the model was trained without time to threshold"}
    first = next(iter(model_timing.values()))
    out: dict = {}
    for g in ladder:
        t = model_timing[g]
        if not t.known:
            out[g] = {"method": t.method, "unknown": t.reason}
            continue
        ahead = scores[not_crossed(scores, ladder, g)]
        days = ahead[days_column(g)]
        out[g] = {
            "method": t.method,
            "leads_not_crossed": len(ahead),
            "expected_crossings": {
                **{
                    str(h): round(float(ahead[horizon_column(g, h)].sum()), 1)
                    for h in first.horizons
                },
                str(first.horizon_days): round(float(ahead[probability_column(g)].sum()), 1),
            },
            "likely_within_horizon": int(days.notna().sum()),
            "median_days_when_likely": round(float(days.median()), 1)
            if days.notna().any()
            else None,
        }
    return out
