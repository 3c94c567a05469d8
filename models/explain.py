"""Per-lead explanations: which features move a lead's readiness, and by how much.

Exact TreeSHAP (LightGBM's `pred_contrib`) costs O(trees x leaves x depth^2) per row, too slow for
a million leads on two cores. `PathAttribution` is the path (Saabas) attribution instead: for
each tree, the change in the node's expected value at every split on the row's path is credited
to the split's feature. Per tree it is a fixed vector per leaf, so it is precomputed once into a
sparse (all leaves x features) table; a row's attribution is then the sum of the table rows of
the leaves it lands in (LightGBM's `pred_leaf` plus one sparse product). Like SHAP it is additive
(the contributions plus the expected value give the raw score exactly) and it uses the same node
covers (training counts); it differs from SHAP in how interactions are shared. How far it
agrees with exact TreeSHAP is measured by `compare_with_shap` (see docs/scoring-and-routing.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy import sparse

from features.catalog import NEVER_DAYS, Feature
from features.sources import CATEGORICAL_VOCABULARY
from models.bundle import GateModel
from readiness.domain import BELIEFS


@dataclass
class PathAttribution:
    """Path attribution of one LightGBM booster, precomputed per leaf."""

    table: sparse.csr_matrix  # (all leaves of all trees) x features, in log-odds
    offsets: np.ndarray  # first row of each tree in `table`
    expected_value: float  # sum of the trees' root expectations (the raw score of "no information")
    booster: lgb.Booster

    @classmethod
    def from_booster(cls, booster: lgb.Booster) -> PathAttribution:
        dump = booster.dump_model()
        n_features = len(dump["feature_names"])
        rows, cols, vals, offsets = [], [], [], []
        start, expected = 0, 0.0
        for tree in dump["tree_info"]:
            offsets.append(start)
            root = tree["tree_structure"]
            n_leaves = tree["num_leaves"]
            if "leaf_index" in root or "split_feature" not in root:  # a single-leaf tree
                expected += float(root.get("leaf_value", 0.0))
                start += max(n_leaves, 1)
                continue
            mean = _node_means(root)
            expected += mean[id(root)]
            stack: list[tuple[dict, dict[int, float]]] = [(root, {})]
            while stack:
                node, path = stack.pop()
                if "leaf_index" in node:
                    for f, v in path.items():
                        rows.append(start + node["leaf_index"])
                        cols.append(f)
                        vals.append(v)
                    continue
                f = node["split_feature"]
                for child in (node["left_child"], node["right_child"]):
                    step = dict(path)
                    step[f] = step.get(f, 0.0) + mean[id(child)] - mean[id(node)]
                    stack.append((child, step))
            start += n_leaves
        table = sparse.csr_matrix(
            (np.asarray(vals), (np.asarray(rows, dtype=np.int64), np.asarray(cols))),
            shape=(start, n_features),
        )
        return cls(table, np.asarray(offsets, dtype=np.int64), expected, booster)

    def contributions(self, X: pd.DataFrame | np.ndarray, chunk_rows: int = 200_000) -> np.ndarray:
        """(rows x features) contributions in log-odds; each row sums to raw score - expected."""
        n = len(X)
        out = np.empty((n, self.table.shape[1]), dtype=np.float32)
        n_trees = len(self.offsets)
        for lo in range(0, n, chunk_rows):
            part = (
                X.iloc[lo : lo + chunk_rows]
                if isinstance(X, pd.DataFrame)
                else X[lo : lo + chunk_rows]
            )
            leaves = np.asarray(self.booster.predict(part, pred_leaf=True), dtype=np.int64)
            leaves = leaves.reshape(len(part), n_trees) + self.offsets
            hit = sparse.csr_matrix(
                (
                    np.ones(leaves.size, dtype=np.float64),
                    leaves.ravel(),
                    np.arange(0, leaves.size + 1, n_trees),
                ),
                shape=(len(part), self.table.shape[0]),
            )
            out[lo : lo + len(part)] = (hit @ self.table).toarray()
        return out


@dataclass
class GateAttribution:
    """Log-odds contributions of one gate model, per feature: the booster's path attributions
    and the logistic side's exact linear contributions, weighted as the gate blends them."""

    gate: GateModel
    features: list[str]
    path: PathAttribution | None

    @classmethod
    def of(cls, gate: GateModel, features: list[str]) -> GateAttribution | None:
        """None for a gate scored by its base rate (nothing to attribute)."""
        if gate.booster is None:
            return None
        path = PathAttribution.from_booster(gate.booster) if gate.lightgbm_weight > 0 else None
        return cls(gate, list(features), path)

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        w = self.gate.lightgbm_weight
        out = np.zeros((len(X), len(self.features)), dtype=np.float32)
        if self.path is not None:
            out += np.float32(w) * self.path.contributions(X)
        linear = self.gate.linear
        if w < 1 and linear is not None:
            lin = linear.contributions(X, self.gate.gate)
            columns = [*linear.numeric, *linear.categorical]
            where = [self.features.index(c) for c in columns]
            out[:, where] += ((1 - w) * lin).astype(np.float32)
        return out


def _node_means(root: dict) -> dict[int, float]:
    """Expected output under each node: the count-weighted mean of the leaves below it."""
    means: dict[int, float] = {}

    def walk(node: dict) -> tuple[float, float]:
        if "leaf_index" in node:
            c = float(node.get("leaf_count", 1))
            means[id(node)] = float(node["leaf_value"])
            return means[id(node)] * c, c
        ls, lc = walk(node["left_child"])
        rs, rc = walk(node["right_child"])
        c = lc + rc
        means[id(node)] = (ls + rs) / c if c > 0 else 0.0
        return ls + rs, c

    walk(root)
    return means


def exact_shap(booster: lgb.Booster, X: pd.DataFrame) -> np.ndarray:
    """Exact TreeSHAP values (rows x features, log-odds) from LightGBM, without the bias column."""
    return np.asarray(booster.predict(X, pred_contrib=True))[:, :-1]


def compare_with_shap(
    attribution: PathAttribution, X: pd.DataFrame, top_k: int = 3
) -> dict[str, float]:
    """How path attributions relate to exact TreeSHAP on the rows of X, and what each costs.

    Returns the share of rows whose top-k drivers (by absolute value) are the same set, the mean
    overlap of the top-k sets, the share whose top driver is the same feature with the same sign,
    the median per-row Spearman correlation of all contributions, and rows per second of each.
    """
    t0 = time.perf_counter()
    fast = attribution.contributions(X)
    t1 = time.perf_counter()
    exact = exact_shap(attribution.booster, X)
    t2 = time.perf_counter()
    top_fast = np.argsort(-np.abs(fast), axis=1)[:, :top_k]
    top_exact = np.argsort(-np.abs(exact), axis=1)[:, :top_k]
    overlap = np.array(
        [len(set(a) & set(b)) / top_k for a, b in zip(top_fast, top_exact, strict=True)]
    )
    rows = np.arange(len(X))
    same_top = (top_fast[:, 0] == top_exact[:, 0]) & (
        np.sign(fast[rows, top_fast[:, 0]]) == np.sign(exact[rows, top_exact[:, 0]])
    )
    rank_f = np.argsort(np.argsort(fast, axis=1), axis=1).astype(float)
    rank_e = np.argsort(np.argsort(exact, axis=1), axis=1).astype(float)
    rank_f -= rank_f.mean(axis=1, keepdims=True)
    rank_e -= rank_e.mean(axis=1, keepdims=True)
    spearman = (rank_f * rank_e).sum(axis=1) / np.sqrt(
        (rank_f**2).sum(axis=1) * (rank_e**2).sum(axis=1)
    )
    return {
        "rows": len(X),
        "top_k": top_k,
        "top_k_same_set": round(float((overlap == 1).mean()), 4),
        "top_k_mean_overlap": round(float(overlap.mean()), 4),
        "top_1_same_feature_and_sign": round(float(same_top.mean()), 4),
        "median_spearman": round(float(np.median(spearman)), 4),
        "path_rows_per_second": round(len(X) / max(t1 - t0, 1e-9), 1),
        "shap_rows_per_second": round(len(X) / max(t2 - t1, 1e-9), 1),
    }


def format_value(feature: Feature, value: float) -> str:
    """A feature's value as a person reads it."""
    if feature.categorical:
        vocab = feature.vocabulary or CATEGORICAL_VOCABULARY[feature.source]
        if not np.isfinite(value):
            return "unknown"
        code = int(value)
        return vocab[code] if 0 <= code < len(vocab) else "unknown"
    if not np.isfinite(value):
        return "unknown"
    if feature.kind in ("days_since", "days_since_first"):
        return "never" if value >= NEVER_DAYS else f"{int(value)} days"
    yes_no = feature.kind == "flag" or "(1 = yes)" in feature.description
    if yes_no and value in (0.0, 1.0):
        return "yes" if value == 1.0 else "no"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.2f}"


def top_drivers(
    contributions: np.ndarray,
    X: pd.DataFrame,
    catalog: tuple[Feature, ...],
    features: list[str],
    k: int,
) -> list[list[str]]:
    """The k strongest drivers of each row in plain language: '+ <description>: <value>'.

    The sign is the direction in which the feature moves this lead's readiness (its contribution),
    ordered by absolute contribution; features with no contribution are never listed.
    """
    by_name = {f.name: f for f in catalog}
    feats = [by_name[n] for n in features]
    k = min(k, contributions.shape[1])
    top = np.argpartition(-np.abs(contributions), k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(contributions, top, axis=1)
    order = np.argsort(-np.abs(vals), axis=1)
    top = np.take_along_axis(top, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    matrix = X[features].to_numpy(dtype=float)
    out: list[list[str]] = []
    for i in range(len(top)):
        row = []
        for j in range(k):
            c = vals[i, j]
            if c == 0:
                row.append("")
                continue
            f = feats[top[i, j]]
            row.append(
                f"{'+' if c > 0 else '-'} {f.description}: {format_value(f, matrix[i, top[i, j]])}"
            )
        out.append(row)
    return out


def belief_contributions(
    contributions: np.ndarray, catalog: tuple[Feature, ...], features: list[str]
) -> pd.DataFrame:
    """Per row, the summed contribution of each belief family's features (log-odds)."""
    family = {f.name: f.family for f in catalog}
    cols = np.array([family[n] for n in features])
    return pd.DataFrame(
        {b: contributions[:, cols == b].sum(axis=1) for b in BELIEFS},
    )
