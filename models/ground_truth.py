"""On simulated data: how far are the models from the simulator's true probabilities?

For each gate a sample of test snapshots is drawn: every positive (up to a cap) plus random
negatives. AUC does not change when one class is sampled at random, so the AUCs on the sample
estimate the test AUCs; the true probabilities (Monte Carlo roll-outs of the simulator from the
exact latent state at each cutoff) and every model are scored on the same rows. The truth's own
AUC is the best any model could reach; the ratio model / truth is the headline.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from models.bundle import probability_column
from models.labels import label_column
from readiness.params import SimulateParams
from readiness.simulator.truth import true_probabilities

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
TRUTH_METRICS = ("truth_auc", "model_auc", "model_to_truth_auc_ratio", "gap", "rows", "positives")


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
    truth = true_probabilities(
        sim,
        queries,
        ladder,
        horizon_days=horizon_days,
        rollouts=rollouts,
        anchored=anchored,
        follow_through_days=follow_through_days,
    )
    truth.index = union
    result = {}
    for gate in ladder:
        ix = rows[gate]
        y = labels[label_column(gate)].to_numpy()[ix].astype(int)
        t = truth.loc[ix, f"p_{gate}"].to_numpy()
        ok = ~np.isnan(t)
        entry: dict[str, float] = {
            "rows": int(ok.sum()),
            "positives": int(y[ok].sum()),
            "rollouts": rollouts,
        }
        if 0 < y[ok].sum() < ok.sum():
            entry["truth_auc"] = float(roc_auc_score(y[ok], t[ok]))
            for name, frame in preds.items():
                col = probability_column(gate)
                if col in frame.columns:
                    entry[f"{name}_auc"] = float(
                        roc_auc_score(y[ok], frame[col].to_numpy()[ix][ok])
                    )
            if "model_auc" in entry:
                entry["model_to_truth_auc_ratio"] = entry["model_auc"] / entry["truth_auc"]
                entry["gap"] = entry["truth_auc"] - entry["model_auc"]
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
