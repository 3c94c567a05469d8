"""Evaluation of the gate models and the baselines on the test cohort.

Metrics per gate and model: ROC AUC, PR AUC (average precision), top-decile lift, recall in the
top 20 %, Brier score and expected calibration error (ECE: mean absolute gap between predicted and
observed rates over `bins` equal-count bins, weighted by bin size). Also by cohort (the month of
the cutoff) and by segment, and the curves behind the ROC, calibration and lift plots.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.metrics import roc_curve

from features.sources import CATEGORICAL_VOCABULARY
from models.bundle import LogisticBaseline, PointsScore, ReadinessModel, probability_column
from models.labels import crossing_days_column, label_column
from models.timing import TimingModel, concordance, expected_days
from readiness.scores import horizon_column

MODELS = ("model", "logistic", "your_columns", "points")
METRICS = (
    "roc_auc",
    "pr_auc",
    "top_decile_lift",
    "recall_at_20pct",
    "brier",
    "ece",
    "positives",
    "rows",
    "positive_rate",
    "mean_predicted",
)
# what evaluate.json (DVC metrics) and MLflow carry per gate and model
HEADLINE_METRICS = METRICS[:8]


def _top(p: np.ndarray, frac: float) -> np.ndarray:
    """Indices of the top `frac` share of rows by p (ties broken by order, deterministic)."""
    k = max(1, int(round(frac * len(p))))
    return np.argsort(-p, kind="stable")[:k]


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    order = np.argsort(p, kind="stable")
    parts = np.array_split(order, min(bins, len(p)))
    return float(sum(len(b) * abs(p[b].mean() - y[b].mean()) for b in parts if len(b)) / len(p))


def ranked_metrics(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """ROC AUC (ties counted half) and average precision of `p` for 0/1 `y` with both classes,
    from one sort: the same numbers as scikit-learn's `roc_auc_score` and
    `average_precision_score` without their input checks, which cost more than the sort when
    evaluate computes them for every gate, model, month and segment."""
    order = np.argsort(-p, kind="stable")
    s, hit = p[order], y[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]  # each distinct score's last row
    tps = np.cumsum(hit)[last]
    fps = (last + 1) - tps
    n_pos, n_neg = tps[-1], fps[-1]
    # AUC: each positive counts the negatives below it, and half of those tied with it
    pos_at = np.diff(np.r_[0, tps])
    neg_at = np.diff(np.r_[0, fps])
    below = n_neg - fps  # negatives with a lower score than this threshold's
    auc = float((pos_at * (below + 0.5 * neg_at)).sum() / (n_pos * n_neg))
    recall_step = pos_at / n_pos
    precision = tps / (tps + fps)
    return auc, float((recall_step * precision).sum())


def gate_metrics(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict:
    """Every metric of one gate for one model; discrimination metrics need both classes."""
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    out: dict[str, float] = {"rows": int(len(y)), "positives": int(y.sum())}
    if len(y) == 0:
        return out
    rate = y.mean()
    out["positive_rate"] = float(rate)
    out["mean_predicted"] = float(p.mean())
    out["brier"] = float(np.mean((p - y) ** 2))
    out["ece"] = expected_calibration_error(y, p, bins)
    if 0 < y.sum() < len(y):
        out["roc_auc"], out["pr_auc"] = ranked_metrics(y, p)
        out["top_decile_lift"] = float(y[_top(p, 0.10)].mean() / rate)
        out["recall_at_20pct"] = float(y[_top(p, 0.20)].sum() / y.sum())
    return out


def auc_difference(
    y: np.ndarray, p_a: np.ndarray, p_b: np.ndarray, groups: np.ndarray | None = None
) -> dict:
    """ROC AUC of `p_a` minus that of `p_b` on the same rows, with DeLong's standard error for
    two correlated AUCs (DeLong, DeLong & Clarke-Pearson 1988; the fast form of Sun & Xu 2014)
    and its 95 % interval: whether a difference is more than noise.

    With `groups` (each row's lead: a lead has a snapshot at every cutoff it was open, about
    ten in a test cohort, and its rows are not independent), the variance is the clustered
    form of Obuchowski (1997): each lead's structural components are summed and the variance
    taken over leads, so a difference carried by a few leads seen many times is not mistaken for
    a sure one. One row per group gives DeLong's variance again (up to I/(I-1))."""
    y = np.asarray(y, dtype=int)
    preds = np.vstack([np.asarray(p_a, dtype=float), np.asarray(p_b, dtype=float)])
    pos, neg = preds[:, y == 1], preds[:, y == 0]
    m, n = pos.shape[1], neg.shape[1]
    if m < 2 or n < 2:
        return {}
    tx = np.apply_along_axis(rankdata, 1, pos)
    ty = np.apply_along_axis(rankdata, 1, neg)
    tz = np.apply_along_axis(rankdata, 1, np.hstack([pos, neg]))
    aucs = (tz[:, :m].sum(axis=1) / m - (m + 1) / 2) / n
    v01 = (tz[:, :m] - tx) / n  # each positive's share of negatives ranked below it
    v10 = 1 - (tz[:, m:] - ty) / m  # each negative's share of positives ranked above it
    diff = float(aucs[0] - aucs[1])
    if groups is None:
        cov = np.cov(v01) / m + np.cov(v10) / n
        se = float(np.sqrt(max(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], 0.0)))
    else:
        se = _clustered_se(y, v01[0] - v01[1], v10[0] - v10[1], diff, np.asarray(groups))

    return {"difference": diff, "se": se, "low": diff - 1.96 * se, "high": diff + 1.96 * se}


def _clustered_se(
    y: np.ndarray, d01: np.ndarray, d10: np.ndarray, diff: float, groups: np.ndarray
) -> float:
    """Obuchowski's clustered variance of an AUC difference from the per-row components of the
    difference (positives' `d01`, negatives' `d10`) and each row's cluster."""
    _, cluster = np.unique(groups, return_inverse=True)
    k = int(cluster.max()) + 1
    if k < 2:
        return float("nan")
    pos, neg = cluster[y == 1], cluster[y == 0]
    m, n = len(pos), len(neg)
    x = np.bincount(pos, weights=d01, minlength=k) - np.bincount(pos, minlength=k) * diff
    z = np.bincount(neg, weights=d10, minlength=k) - np.bincount(neg, minlength=k) * diff
    var = k / (k - 1) * ((x**2).sum() / m**2 + (z**2).sum() / n**2 + 2 * (x * z).sum() / (m * n))
    return float(np.sqrt(max(var, 0.0)))


def compare_with_baselines(
    labels: pd.DataFrame, preds: dict[str, pd.DataFrame], ladder: tuple[str, ...]
) -> dict:
    """Per gate and baseline, the model's AUC minus the baseline's on the same rows, with its
    DeLong 95 % interval, clustered by lead ({gate: {baseline: {difference, se, low, high}}})."""
    out: dict = {}
    col_of = probability_column
    leads = labels["lead_id"].to_numpy() if "lead_id" in labels else np.arange(len(labels))
    for gate in ladder:
        y_all = labels[label_column(gate)]
        known = y_all.notna().to_numpy()
        y = y_all.fillna(0).astype(int).to_numpy()[known]
        if "model" not in preds or col_of(gate) not in preds["model"]:
            continue
        p_model = preds["model"][col_of(gate)].to_numpy()[known]
        for name, frame in preds.items():
            if name == "model" or col_of(gate) not in frame:
                continue
            d = auc_difference(y, p_model, frame[col_of(gate)].to_numpy()[known], leads[known])
            if d:
                out.setdefault(gate, {})[name] = {k: round(v, 5) for k, v in d.items()}
    return out


def predictions(
    X: pd.DataFrame, model: ReadinessModel, baselines: dict[str, PointsScore | LogisticBaseline]
) -> dict[str, pd.DataFrame]:
    """Calibrated probabilities of the model and every baseline for every gate it has (p_<gate>
    columns)."""
    out = {"model": model.predict(X)}
    for name, base in baselines.items():
        cols = {
            probability_column(g): base.proba(X, g) for g in model.ladder if g in base.calibrators
        }
        out[name] = pd.DataFrame(cols, index=X.index)
    return out


def segment_names(X: pd.DataFrame, segment: str) -> pd.Series:
    vocab = CATEGORICAL_VOCABULARY[segment]
    return X[segment].map(lambda c: vocab[int(c)] if 0 <= c < len(vocab) else "unknown")


def evaluate_test(
    X: pd.DataFrame,
    labels: pd.DataFrame,
    preds: dict[str, pd.DataFrame],
    ladder: tuple[str, ...],
    segments: tuple[str, ...],
    bins: int,
) -> tuple[dict, pd.DataFrame]:
    """Headline metrics {gate: {model: {metric: value}}} and a long table by cohort and segment."""
    headline: dict = {}
    rows = []
    groupings = {"cohort": X["cutoff"].dt.strftime("%Y-%m")} | {
        s: segment_names(X, s) for s in segments
    }
    for gate in ladder:
        y_all = labels[label_column(gate)]
        known = y_all.notna().to_numpy()
        y = y_all.fillna(0).astype(int).to_numpy()
        headline[gate] = {}
        for name, frame in preds.items():
            col = probability_column(gate)
            if col not in frame.columns:
                continue
            p = frame[col].to_numpy()
            headline[gate][name] = gate_metrics(y[known], p[known], bins)
            for by, values in groupings.items():
                for value, idx in (
                    pd.Series(np.arange(len(y)))[known]
                    .groupby(values.to_numpy()[known])
                    .groups.items()
                ):
                    ix = np.asarray(list(idx))
                    rows.append(
                        {
                            "gate": gate,
                            "model": name,
                            "by": by,
                            "value": value,
                            **gate_metrics(y[ix], p[ix], bins),
                        }
                    )
    return headline, pd.DataFrame(rows)


def curves(
    labels: pd.DataFrame, preds: dict[str, pd.DataFrame], ladder: tuple[str, ...], bins: int
) -> dict[str, pd.DataFrame]:
    """Data of the ROC, calibration and lift plots: one long table each, by gate and model."""
    roc, cal, lift = [], [], []
    for gate in ladder:
        y_all = labels[label_column(gate)]
        known = y_all.notna().to_numpy()
        y = y_all.fillna(0).astype(int).to_numpy()[known]
        if y.sum() == 0 or y.sum() == len(y):
            continue
        for name, frame in preds.items():
            col = probability_column(gate)
            if col not in frame.columns:
                continue
            p = frame[col].to_numpy()[known]
            fpr, tpr, _ = roc_curve(y, p)
            keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 200)).astype(int))
            roc += [
                {"gate": gate, "model": name, "fpr": float(a), "tpr": float(b)}
                for a, b in zip(fpr[keep], tpr[keep], strict=True)
            ]
            order = np.argsort(p, kind="stable")
            for part in np.array_split(order, bins):
                cal.append(
                    {
                        "gate": gate,
                        "model": name,
                        "predicted": float(p[part].mean()),
                        "observed": float(y[part].mean()),
                        "rows": int(len(part)),
                    }
                )
            ranked = y[np.argsort(-p, kind="stable")]
            gains = np.cumsum(ranked) / ranked.sum()
            for q in np.linspace(0.05, 1.0, 20):
                k = max(1, int(round(q * len(ranked))))
                lift.append(
                    {
                        "gate": gate,
                        "model": name,
                        "targeted": round(float(q), 2),
                        "recall": float(gains[k - 1]),
                        "lift": float(gains[k - 1] / q),
                    }
                )
    return {"roc": pd.DataFrame(roc), "calibration": pd.DataFrame(cal), "lift": pd.DataFrame(lift)}


def evaluate_timing(
    model_timing: dict[str, TimingModel],
    curves: pd.DataFrame,
    probs: pd.DataFrame,
    labels: pd.DataFrame,
    ladder: Sequence[str],
    bins: int = 10,
) -> dict:
    """Time to threshold against realised crossings on labelled rows (the test cohort): per gate,
    each horizon's AUC, ECE and predicted vs realised share crossing within it, and Harrell's
    concordance of the expected days (censored at H) beside that of readiness alone."""
    if not model_timing:
        return {"unknown": "the model was trained without time to threshold"}
    first = next(iter(model_timing.values()))
    horizons, horizon_days = first.horizons, first.horizon_days
    grid = np.asarray([0.0, *horizons, float(horizon_days)])
    out: dict = {"horizons": list(horizons), "horizon_days": horizon_days, "gates": {}}
    for g in ladder:
        t = model_timing[g]
        entry: dict = {"method": t.method, "reason": t.reason}
        out["gates"][g] = entry
        if not t.known:
            continue
        y_all = labels[label_column(g)]
        known = y_all.notna().to_numpy()
        if not known.any():
            entry["unknown"] = "no labelled rows to judge it on"
            continue
        event = (y_all.fillna(0).to_numpy() == 1)[known]
        days = labels[crossing_days_column(g)].to_numpy(dtype=float)[known]
        days = np.where(event, days, float(horizon_days))  # censored at H
        p_h = probs[probability_column(g)].to_numpy()[known]
        curve = np.column_stack(
            [
                np.zeros(int(known.sum())),
                *(curves[horizon_column(g, h)].to_numpy()[known] for h in horizons),
                p_h,
            ]
        )
        by_horizon = {}
        for j, h in enumerate(horizons):
            y_h = (event & (days < h)).astype(int)
            p = curve[:, j + 1]
            m = gate_metrics(y_h, p, bins)  # an AUC needs both classes
            by_horizon[str(h)] = {
                "positives": int(y_h.sum()),
                "auc": _rounded(m.get("roc_auc")),
                "ece": _rounded(m.get("ece")),
                "predicted_share": round(float(p.mean()), 5),
                "realised_share": round(float(y_h.mean()), 5),
            }
        c_time, pairs = concordance(days, event, -expected_days(curve, grid))
        c_alone, _ = concordance(days, event, p_h)
        # among the leads that crossed: does the timing order *when* they cross? (readiness
        # mostly separates who crosses from who does not, most pairs above.) Its risk is the
        # curve given a crossing within H (the curve over readiness), which readiness's own
        # scale does not swamp
        crossed = np.flatnonzero(event & (p_h > 0))
        given = curve[crossed] / p_h[crossed, None]
        c_when, _ = concordance(days[crossed], event[crossed], -expected_days(given, grid))
        c_when_alone, _ = concordance(days[crossed], event[crossed], p_h[crossed])
        entry |= {
            "rows": int(known.sum()),
            "crossings": int(event.sum()),
            "by_horizon": by_horizon,
            "concordance": _rounded(c_time),
            "concordance_readiness_alone": _rounded(c_alone),
            "concordance_among_crossings": _rounded(c_when),
            "concordance_among_crossings_readiness_alone": _rounded(c_when_alone),
            "comparable_pairs": pairs,
            "median_days_realised": _rounded(float(np.median(days[event])))
            if event.any()
            else None,
        }
    return out


def _rounded(v: float | None) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), 5)
