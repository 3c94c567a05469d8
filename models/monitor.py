"""Is the model still right? Drift of features and scores, and a label-free performance estimate.

- Population stability index (PSI) of each feature between a reference sample (the model's
  training cohort) and the current scoring snapshot, on the reference's quantile bins; per
  family, the largest PSI of its features. The usual reading: below 0.1 stable, 0.1-0.25 a
  moderate shift, above 0.25 a strong one.
- Confidence-based performance estimation (CBPE, as NannyML calls it): with calibrated
  probabilities p, the labels of the current leads are Bernoulli(p) draws, so the ROC AUC to
  expect is a function of p alone. `expected_auc` computes it exactly (every positive/negative
  pair weighted by p_i (1 - p_j)); `auc_draws` gives its spread by sampling labels.

It assumes calibration holds on the new cohort: the estimate tracks a change in who the leads
are (covariate shift), not a change in how features relate to the outcome (concept drift).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

from readiness.scores import probability_column

STABLE, STRONG = 0.1, 0.25  # the usual PSI readings


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index of `current` against `reference`: sum over the reference's
    quantile bins of (a - e) ln(a / e), shares floored at 1e-4 (an empty bin is not infinite).
    Unknown values (NaN) are a bin of their own, so a column blank more often now drifts. A
    constant reference gives 0 when `current` holds the same constant, else the share of
    `current` elsewhere scored as one bin against an almost empty one. NaN when either side has
    no rows."""
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    if len(reference) == 0 or len(current) == 0:
        return float("nan")
    ref_nan, cur_nan = np.isnan(reference), np.isnan(current)
    ref, cur = reference[~ref_nan], current[~cur_nan]
    if len(ref) == 0:  # nothing known in the reference: only the unknown shares compare
        e, a = np.array([0.0]), np.array([0.0])
    else:
        edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)))
        inner = edges[1:-1]
        if len(edges) < 2:  # a constant: one bin for it, one for everything else
            same = np.isclose(cur, edges[0]).sum()
            e, a = np.array([len(ref), 0.0]), np.array([same, len(cur) - same], dtype=float)
        else:
            e = np.bincount(np.searchsorted(inner, ref, side="right"), minlength=len(edges) - 1)
            a = np.bincount(np.searchsorted(inner, cur, side="right"), minlength=len(edges) - 1)
    # shares of every row, the unknown bin last
    e = np.append(e, ref_nan.sum()) / len(reference)
    a = np.append(a, cur_nan.sum()) / len(current)
    if not ref_nan.any() and not cur_nan.any():
        e, a = e[:-1], a[:-1]
    e, a = np.maximum(e, 1e-4), np.maximum(a, 1e-4)
    return float(np.sum((a - e) * np.log(a / e)))


def reading(value: float) -> str:
    if np.isnan(value):
        return "unknown"
    return "stable" if value < STABLE else ("moderate" if value < STRONG else "strong")


def feature_drift(
    reference: pd.DataFrame, current: pd.DataFrame, families: dict[str, str], bins: int = 10
) -> pd.DataFrame:
    """PSI of every feature both frames hold, with its family and reading, strongest first."""
    rows = [
        {
            "feature": c,
            "family": families.get(c, "other"),
            "psi": psi(reference[c].to_numpy(dtype=float), current[c].to_numpy(dtype=float), bins),
        }
        for c in reference.columns
        if c in current.columns
    ]
    out = pd.DataFrame(rows, columns=["feature", "family", "psi"])
    out["reading"] = out["psi"].map(reading)
    return out.sort_values("psi", ascending=False, na_position="last").reset_index(drop=True)


def family_drift(drift: pd.DataFrame) -> pd.DataFrame:
    """Per family: its largest feature PSI, which feature, and how many features shift strongly."""
    if drift.empty:
        return pd.DataFrame(columns=["family", "max_psi", "feature", "strong", "features"])
    top = drift.sort_values("psi", ascending=False).groupby("family", sort=False).head(1)
    counts = drift.groupby("family").agg(
        strong=("psi", lambda s: int((s >= STRONG).sum())), features=("psi", "size")
    )
    out = top.set_index("family")[["psi", "feature"]].rename(columns={"psi": "max_psi"})
    return out.join(counts).reset_index().sort_values("max_psi", ascending=False)


def expected_auc(p: np.ndarray) -> float:
    """The ROC AUC to expect when each lead's label is an independent Bernoulli(p_i) draw and
    leads are ranked by p: the expected count of correctly ordered positive-negative pairs over
    the expected count of pairs, sum over i != j of p_i (1 - p_j) [p_i > p_j] (ties half) over
    sum of p_i (1 - p_j) (a ratio of expectations: the mean AUC of the draws as the leads grow
    many). Computed in O(n log n)."""
    p = np.asarray(p, dtype=float)
    if len(p) < 2:
        return float("nan")
    q = 1 - p
    order = np.argsort(p, kind="mergesort")
    ps, qs = p[order], q[order]
    ranks = rankdata(ps, method="min") - 1  # rows strictly below each row
    below = np.concatenate([[0.0], np.cumsum(qs)])
    ties_end = rankdata(ps, method="max")  # rows up to and including its ties
    tied_q = below[ties_end] - below[ranks] - qs  # other rows with the same score
    numerator = float(np.sum(ps * (below[ranks] + 0.5 * tied_q)))
    denominator = float(p.sum() * q.sum() - np.sum(p * q))
    return numerator / denominator if denominator > 0 else float("nan")


def auc_draws(p: np.ndarray, draws: int = 200, seed: int = 7) -> np.ndarray:
    """ROC AUCs of `draws` label sets sampled from Bernoulli(p) (draws with one class skipped):
    the spread of the realised AUC around `expected_auc`."""
    p = np.asarray(p, dtype=float)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(draws):
        y = rng.random(len(p)) < p
        if 0 < y.sum() < len(y):
            out.append(roc_auc_score(y, p))
    return np.array(out)


def estimate_performance(p: np.ndarray, draws: int = 200, seed: int = 7) -> dict:
    """The label-free estimate of a gate's AUC on the current leads, with a 90 % band and the
    expected positive count; unknown (None) when the probabilities leave no positive to expect."""
    p = np.asarray(p, dtype=float)
    expected_positives = float(p.sum())
    if len(p) < 2 or expected_positives < 1:
        return {"estimated_auc": None, "expected_positives": round(expected_positives, 2)}
    sims = auc_draws(p, draws, seed)
    return {
        "estimated_auc": round(expected_auc(p), 5),
        "band_90": [
            round(float(np.quantile(sims, 0.05)), 5),
            round(float(np.quantile(sims, 0.95)), 5),
        ]
        if len(sims)
        else None,
        "expected_positives": round(expected_positives, 2),
        "leads": int(len(p)),
    }


def realised_outcomes(
    leads: pd.DataFrame,
    milestones: pd.DataFrame,
    ladder: tuple[str, ...],
    as_of: pd.Timestamp,
    horizon_days: int,
) -> pd.DataFrame:
    """For the leads a run scored as of `as_of`: per gate, whether the lead was at risk (had not
    crossed it by the as-of date) and whether it crossed it within the horizon after it
    (`at_risk_<gate>`, `crossed_<gate>`), read from the milestones recorded since. A gate counts
    as crossed once its milestone or any later gate's is recorded (the ladder is cumulative)."""
    end = as_of + pd.Timedelta(days=horizon_days)
    m = milestones[
        milestones["lead_id"].isin(leads["lead_id"]) & milestones["milestone"].isin(ladder)
    ]
    rank = m["milestone"].map({g: i for i, g in enumerate(ladder)})
    out = pd.DataFrame({"lead_id": leads["lead_id"].to_numpy()})
    for i, gate in enumerate(ladder):
        reached = m[rank.to_numpy() >= i]
        first = pd.to_datetime(reached.groupby("lead_id")["occurred_at"].min())
        when = pd.Series(first.reindex(out["lead_id"]).to_numpy(), dtype="datetime64[ns]")
        out[f"at_risk_{gate}"] = ~(when < as_of).to_numpy(dtype=bool)  # NaT: never crossed
        out[f"crossed_{gate}"] = ((when >= as_of) & (when < end)).to_numpy(dtype=bool)
    return out


def realised_performance(
    leads: pd.DataFrame,
    outcomes: pd.DataFrame,
    ladder: tuple[str, ...],
    sales_gate: str,
    general_route: str,
    bins: int = 10,
) -> dict:
    """What became of a published run once its horizon passed: per gate, on the leads at risk,
    the realised AUC, ECE and top-decile lift of the probabilities the run published (and the
    confidence-based estimate the same probabilities gave, to judge the estimate); per route,
    how many of its leads crossed the next gate (for `sales_now`, the sales gate)."""
    from models.evaluate import gate_metrics  # evaluate imports the bundle: keep this module light

    joined = leads.merge(outcomes, on="lead_id", how="inner", validate="one_to_one")
    gates: dict = {}
    for gate in ladder:
        col = probability_column(gate)
        if col not in joined:
            continue
        rows = joined[joined[f"at_risk_{gate}"] & joined[col].notna()]
        y = rows[f"crossed_{gate}"].to_numpy(dtype=int)
        p = rows[col].to_numpy(dtype=float)
        metrics = gate_metrics(y, p, bins)
        entry = {
            k: (round(v, 5) if isinstance(v, float) else v)
            for k, v in metrics.items()
            if k
            in (
                "rows",
                "positives",
                "positive_rate",
                "mean_predicted",
                "ece",
                "roc_auc",
                "top_decile_lift",
            )
        }
        entry["estimated_auc_at_publication"] = (
            round(expected_auc(p), 5) if len(p) > 1 and p.sum() >= 1 else None
        )
        if "roc_auc" not in entry:
            entry["roc_auc_unknown"] = "one class only among its leads at risk"
        gates[gate] = entry
    routes: dict = {}
    if "route" in joined and len(joined):
        # each lead's next gate: the first it had not crossed by the as-of date; a sales handoff
        # is judged on the sales gate
        at_risk = joined[[f"at_risk_{g}" for g in ladder]].to_numpy()
        crossed = joined[[f"crossed_{g}" for g in ladder]].to_numpy()
        first = np.where(at_risk.any(axis=1), at_risk.argmax(axis=1), -1)
        sales = joined["route"].to_numpy() == "sales_now"
        target = np.where(sales, ladder.index(sales_gate), first) if sales_gate in ladder else first
        rows = np.arange(len(joined))
        valid = target >= 0
        hit = np.zeros(len(joined), dtype=bool)
        hit[valid] = crossed[rows[valid], target[valid]] & at_risk[rows[valid], target[valid]]
        frame = pd.DataFrame({"route": joined["route"].astype(str), "hit": hit, "valid": valid})
        for route, g in frame.groupby("route"):
            n = int(g["valid"].sum())
            routes[str(route)] = {
                "leads": int(len(g)),
                "next_gate": sales_gate if route == "sales_now" else "each lead's next gate",
                "crossed_next_gate": int(g["hit"].sum()),
                "share": round(float(g["hit"].sum() / n), 4) if n else None,
                "is_general_route": route == general_route,
            }
    return {"gates": gates, "routes": routes}
