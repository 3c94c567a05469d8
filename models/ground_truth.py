"""On simulated data: how far are the models from the simulator's true probabilities?

For each gate a sample of test snapshots is drawn: every positive (up to a cap) plus random
negatives. AUC does not change when one class is sampled at random, so the AUCs on the sample
estimate the test AUCs; the true probabilities (Monte Carlo roll-outs of the simulator from the
exact latent state at each cutoff) and every model are scored on the same rows. The truth's own
AUC is the best any model could reach; the ratio model / truth is the headline.

The truth is itself an estimate: noise lowers its AUC, so the AUC is debiased with the two
disjoint halves of the copies (see truth_error), and each gate carries its Monte Carlo error
(the spread of that AUC over roll-outs drawn again from the same copies) and paired bootstrap
intervals (the same resampled rows for the model and the truth) of truth - model and of the
ratio. A model above the truth is sampling error unless it is beyond both; then
`model_above_truth` is raised: the evaluation has a flaw (a leak, or too few roll-outs).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from models.bundle import probability_column
from models.labels import label_column
from readiness.params import SimulateParams
from readiness.simulator.truth import estimate, true_probability_copies

log = logging.getLogger(__name__)


def sample_rows(
    labels: pd.DataFrame, ladder: tuple[str, ...], positives: int, negatives: int, seed: int
) -> dict[str, np.ndarray]:
    """Row positions per gate: all positives up to a cap, plus random negatives."""
    rng = np.random.default_rng(seed)
    out = {}
    for gate in ladder:
        y = labels[label_column(gate)]
        pos = np.flatnonzero((y == 1).fillna(False).to_numpy())
        neg = np.flatnonzero((y == 0).fillna(False).to_numpy())
        pos = rng.choice(pos, min(len(pos), positives), replace=False) if len(pos) else pos
        neg = rng.choice(neg, min(len(neg), negatives), replace=False) if len(neg) else neg
        out[gate] = np.sort(np.concatenate([pos, neg]))
    return out


# what evaluate.json carries of the comparison with the truth, per gate
TRUTH_METRICS = (
    "truth_auc",
    "truth_auc_plain",
    "truth_auc_mc_se",
    "model_auc",
    "model_to_truth_auc_ratio",
    "gap",
    "gap_low",
    "gap_high",
    "ratio_low",
    "ratio_high",
    "model_above_truth",
    "rows",
    "positives",
)
# resamples of the rows for the paired bootstrap intervals
ROW_RESAMPLES = 1000


def compare_with_truth(
    sim: SimulateParams,
    X: pd.DataFrame,
    labels: pd.DataFrame,
    preds: dict[str, pd.DataFrame],
    *,
    ladder: tuple[str, ...],
    horizon_days: int,
    anchored: tuple[str, ...],
    follow_through_days: int,
    rollouts: int,
    positives: int,
    negatives: int,
    seed: int,
) -> tuple[dict, pd.DataFrame]:
    """Per gate: the truth's AUC and each model's AUC on the same sampled rows, and the ratio."""
    rows = sample_rows(labels, ladder, positives, negatives, seed)
    union = np.unique(np.concatenate(list(rows.values())))
    queries = X.iloc[union][["lead_id", "cutoff"]].reset_index(drop=True)
    log.info("ground truth: %d test snapshots, %d roll-outs each", len(queries), rollouts)
    truth, copies = true_probability_copies(
        sim,
        queries,
        ladder,
        horizon_days=horizon_days,
        rollouts=rollouts,
        anchored=anchored,
        follow_through_days=follow_through_days,
    )
    truth.index = union
    rng = np.random.default_rng([seed, 1])  # not the stream that sampled the rows
    result = {}
    for gate in ladder:
        ix = rows[gate]
        at = np.searchsorted(union, ix)
        y = labels[label_column(gate)].to_numpy()[ix].astype(int)
        t = truth.loc[ix, f"p_{gate}"].to_numpy()
        ok = ~np.isnan(t)
        entry: dict[str, Any] = {
            "rows": int(ok.sum()),
            "positives": int(y[ok].sum()),
            "rollouts": rollouts,
        }
        if 0 < y[ok].sum() < ok.sum():
            y, t, gate_copies = y[ok], t[ok], copies[gate][at[ok]]
            entry.update(truth_error(y, gate_copies, rng))
            col = probability_column(gate)
            for name, frame in preds.items():
                if col in frame.columns:
                    entry[f"{name}_auc"] = float(roc_auc_score(y, frame[col].to_numpy()[ix][ok]))
            if "model_auc" in entry:
                model = preds["model"][col].to_numpy()[ix][ok]
                entry["model_to_truth_auc_ratio"] = entry["model_auc"] / entry["truth_auc"]
                entry["gap"] = entry["truth_auc"] - entry["model_auc"]
                debiasing = entry["truth_auc"] - entry["truth_auc_plain"]
                entry.update(paired_intervals(y, model, t, rng, shift=debiasing))
                # above the truth beyond its Monte Carlo error and beyond row sampling
                entry["model_above_truth"] = bool(
                    -entry["gap"] > 1.96 * entry["truth_auc_mc_se"] and entry["gap_high"] < 0
                )
        result[gate] = entry
    beliefs = truth[
        [
            "lead_id",
            "cutoff",
            "urgency",
            "category",
            "capability",
            "alignment",
            *[f"p_{g}" for g in ladder],
        ]
    ]
    return result, beliefs


def truth_error(
    y: np.ndarray, copies: np.ndarray, rng: np.random.Generator, *, resamples: int = 50
) -> dict:
    """The truth's AUC, debiased, and its Monte Carlo error.

    A truth estimated from R roll-outs is noisy, and noise in a score lowers its AUC: the truth's
    AUC grows with R (benchmarks/truth.py). Its bias falls about as 1/R, so the AUCs of the two
    disjoint halves of the copies (R/2 each, `truth_auc_halves`) give it away: `truth_auc` is
    2 x the AUC on all copies - the halves' mean (one Richardson step; `truth_auc_plain` is the
    AUC on all copies). `truth_auc_mc_se` is its standard deviation over `resamples` sets of
    roll-outs resampled from the copies (columns)."""
    half = copies.shape[1] // 2  # two halves of equal size (an odd copy left out of them)

    def debiased(c: np.ndarray) -> tuple[float, float, float, float]:
        plain = roc_auc_score(y, estimate(c))
        a = roc_auc_score(y, estimate(c[:, :half]))
        b = roc_auc_score(y, estimate(c[:, half : 2 * half]))
        return min(1.0, 2 * plain - (a + b) / 2), plain, a, b

    auc, plain, a, b = debiased(copies)
    n = copies.shape[1]
    again = [debiased(copies[:, rng.integers(0, n, n)])[0] for _ in range(resamples)]
    return {
        "truth_auc": float(auc),
        "truth_auc_plain": float(plain),
        "truth_auc_halves": [round(float(a), 5), round(float(b), 5)],
        "truth_auc_mc_se": float(np.std(again, ddof=1)) if resamples > 1 else None,
    }


def paired_intervals(
    y: np.ndarray,
    model: np.ndarray,
    truth: np.ndarray,
    rng: np.random.Generator,
    *,
    shift: float = 0.0,
) -> dict:
    """95 % paired bootstrap intervals (rows resampled within each class, the same rows for both
    scores) of truth - model (`gap`) and of model / truth (`ratio`); `shift` is added to every
    resample's truth AUC (the debiasing of truth_error)."""
    weights = np.zeros((ROW_RESAMPLES, len(y)))
    for label in (0, 1):
        members = np.flatnonzero(y == label)
        weights[:, members] = rng.multinomial(
            len(members), np.full(len(members), 1 / len(members)), size=ROW_RESAMPLES
        )
    a_model, a_truth = weighted_auc(y, model, weights), weighted_auc(y, truth, weights) + shift
    gap = np.percentile(a_truth - a_model, [2.5, 97.5])
    ratio = np.percentile(a_model / a_truth, [2.5, 97.5])
    return {
        "gap_low": float(gap[0]),
        "gap_high": float(gap[1]),
        "ratio_low": float(ratio[0]),
        "ratio_high": float(ratio[1]),
    }


def weighted_auc(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC of `score` for each row of `weights` (how many times each example counts, e.g.
    bootstrap counts), ties counted half; one sort for all rows."""
    order = np.argsort(score, kind="stable")
    s, pos = score[order], y[order] == 1
    w = weights[:, order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # runs of tied scores
    neg_w = np.add.reduceat(np.where(pos, 0.0, w), starts, axis=1)
    pos_w = np.add.reduceat(np.where(pos, w, 0.0), starts, axis=1)
    below = np.cumsum(neg_w, axis=1) - neg_w
    pairs = pos_w.sum(axis=1) * neg_w.sum(axis=1)
    return (pos_w * (below + 0.5 * neg_w)).sum(axis=1) / pairs
