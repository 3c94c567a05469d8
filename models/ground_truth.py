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

The roll-outs (`roll_out_sample`, the `truth` stage) are kept apart from the comparison
(`compare_with_truth`, the evaluate stage): they hold no model, so a retrain does not redo them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from models.bundle import probability_column
from models.labels import LabelSettings, crossing_days_column, label_column
from readiness.errors import ReadinessError
from readiness.params import Params, SimulateParams
from readiness.scores import horizon_column
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


def truth_settings(params: Params, label_settings: LabelSettings) -> dict[str, Any]:
    """Everything a truth sample depends on besides the test rows: what the `truth` stage rolls
    it out with (the evaluate.ground_truth* params, the sampling seed train.seed, the labels'
    horizon, the ladder, the simulation), and what evaluate checks it was rolled out with."""
    p = params.evaluate
    return {  # named as in params.yaml, so a refusal names the key
        "simulate": json.dumps(dataclasses.asdict(params.simulate), sort_keys=True, default=str),
        "ladder": list(params.ladder),
        "labels.horizon_days": label_settings.horizon_days,
        "labels.revenue_anchored": list(label_settings.revenue_anchored),
        "labels.follow_through_days": label_settings.follow_through_days,
        "train.time_horizons": list(params.train.time_horizons or ()),
        "evaluate.ground_truth_rollouts": p.ground_truth_rollouts,
        "evaluate.ground_truth_positives": p.ground_truth_positives,
        "evaluate.ground_truth_negatives": p.ground_truth_negatives,
        "train.seed": params.train.seed,
    }


@dataclass
class TruthSample:
    """The truth on a sample of test snapshots, as the `truth` stage rolls it out and evaluate
    reads it. `rows`: each gate's positions in the test rows (ordered as `load_training_frame`
    orders them); `union`: the positions rolled out, one per row of `truth` (lead_id, cutoff, the
    latent beliefs, `p_<gate>` and `se_<gate>`); `copies`: each gate's value per roll-out copy
    (rows of `truth` x copies); `settings`: what it was rolled out with (`truth_settings`). It
    depends on the simulation and the test cohort, never on a model."""

    rows: dict[str, np.ndarray]
    union: np.ndarray
    truth: pd.DataFrame
    copies: dict[str, np.ndarray]
    settings: dict[str, Any]

    FILES: ClassVar[tuple[str, ...]] = ("truth.parquet", "copies", "rows.json")

    @property
    def rollouts(self) -> int:
        return int(self.settings["evaluate.ground_truth_rollouts"])

    def save(self, folder: Path) -> None:
        self.truth.assign(test_row=self.union).to_parquet(folder / "truth.parquet", index=False)
        # one .npy per gate: the same bytes for the same copies (a zip archive stamps its time,
        # and a changed hash would re-run evaluate under DVC)
        (folder / "copies").mkdir()
        for gate, values in self.copies.items():
            np.save(folder / "copies" / f"{gate}.npy", values, allow_pickle=False)
        (folder / "rows.json").write_text(
            json.dumps(
                {
                    "settings": self.settings,
                    "rows": {g: r.tolist() for g, r in self.rows.items()},
                }
            )
        )

    def check(self, expected: dict[str, Any], where: str) -> None:
        """Refuse a sample rolled out with other settings than `expected` (a params change the
        `truth` stage did not see): name each difference and what to run."""
        differ = [
            f"{k}: {self.settings.get(k)!r} there, {v!r} now"
            for k, v in expected.items()
            if k != "simulate" and self.settings.get(k) != v
        ]
        if self.settings.get("simulate") != expected.get("simulate"):
            differ.append("the simulate parameters differ")
        if differ:
            raise ReadinessError(
                f"The ground truth in {where} was rolled out with other settings ("
                + "; ".join(differ)
                + "): run `readiness truth` (or `dvc repro`) again."
            )

    @classmethod
    def load_if_any(cls, folder: Path) -> TruthSample | None:
        """The sample the `truth` stage rolled out into `folder`, or None where it rolled out
        none (real data, a flat export, evaluate.ground_truth false, or the stage not run)."""
        return cls.load(folder) if (folder / "rows.json").exists() else None

    @classmethod
    def load(cls, folder: Path) -> TruthSample:
        frame = pd.read_parquet(folder / "truth.parquet")
        meta = json.loads((folder / "rows.json").read_text())
        return cls(
            rows={g: np.asarray(r, dtype=np.int64) for g, r in meta["rows"].items()},
            union=frame.pop("test_row").to_numpy(),
            truth=frame,
            copies={g: np.load(folder / "copies" / f"{g}.npy") for g in meta["rows"]},
            settings=meta["settings"],
        )


def roll_out_sample(
    sim: SimulateParams, X: pd.DataFrame, labels: pd.DataFrame, settings: dict[str, Any]
) -> TruthSample:
    """The truth on a sample of the test rows `X` (lead_id, cutoff) with their `labels`, rolled
    out with `settings` (`truth_settings`): per gate every positive up to
    `evaluate.ground_truth_positives` and `evaluate.ground_truth_negatives` random negatives, each
    rolled out `evaluate.ground_truth_rollouts` times from its exact latent state."""
    ladder = tuple(settings["ladder"])
    rows = sample_rows(
        labels,
        ladder,
        settings["evaluate.ground_truth_positives"],
        settings["evaluate.ground_truth_negatives"],
        settings["train.seed"],
    )
    union = np.unique(np.concatenate(list(rows.values())))
    queries = X.iloc[union][["lead_id", "cutoff"]].reset_index(drop=True)
    rollouts = settings["evaluate.ground_truth_rollouts"]
    log.info("ground truth: %d test snapshots, %d roll-outs each", len(queries), rollouts)
    truth, copies = true_probability_copies(
        sim,
        queries,
        ladder,
        horizon_days=settings["labels.horizon_days"],
        rollouts=rollouts,
        anchored=tuple(settings["labels.revenue_anchored"]),
        follow_through_days=settings["labels.follow_through_days"],
        within=tuple(settings.get("train.time_horizons") or ()),
    )
    return TruthSample(rows, union, truth.reset_index(drop=True), copies, settings)


def _same_snapshots(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Whether two frames hold the same (lead_id, cutoff) snapshots in the same order."""
    return (
        len(a) == len(b)
        and bool((a["lead_id"].to_numpy() == b["lead_id"].to_numpy()).all())
        and bool(
            (pd.to_datetime(a["cutoff"]).to_numpy() == pd.to_datetime(b["cutoff"]).to_numpy()).all()
        )
    )


def compare_with_truth(
    sample: TruthSample,
    X: pd.DataFrame,
    labels: pd.DataFrame,
    preds: dict[str, pd.DataFrame],
    *,
    ladder: tuple[str, ...],
    seed: int,
) -> tuple[dict, pd.DataFrame]:
    """Per gate: the truth's AUC and each model's AUC on the same sampled rows, and the ratio.
    `X`, `labels` and `preds` are the test rows the sample was drawn from."""
    union, rows, rollouts = sample.union, sample.rows, sample.rollouts
    if len(union) and (union.max() >= len(X) or not _same_snapshots(X.iloc[union], sample.truth)):
        raise ReadinessError(
            "The ground truth sample was rolled out from other test rows than these: run "
            "`readiness truth` (or `dvc repro`) again."
        )
    truth = sample.truth.set_axis(union)
    copies = sample.copies
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


def compare_timing_with_truth(
    sample: TruthSample,
    labels: pd.DataFrame,
    curves: pd.DataFrame,
    *,
    ladder: tuple[str, ...],
) -> dict:
    """Per gate and shorter horizon h, on the gate's sampled test rows: the model's probability
    of crossing within h (models/timing.py) against the truth's (counted over the roll-outs):
    mean absolute difference, both means, and both AUCs against the realised crossings within h.
    The sample enriches the horizon's positives, so every figure weighs each row by the inverse
    of its chance of being sampled (test positives over sampled positives, negatives likewise):
    estimates for the whole test cohort. `labels` and `curves` are the test rows the sample was
    drawn from."""
    truth = sample.truth.set_axis(sample.union)
    out: dict = {}
    for gate in ladder:
        ix = sample.rows[gate]
        days = labels[crossing_days_column(gate)].to_numpy(dtype=float)[ix]
        y_test = labels[label_column(gate)]
        y_all = y_test.to_numpy()[ix]
        sampled = pd.Series(y_all).value_counts()
        cohort = y_test.value_counts()
        ratio = {v: cohort.get(v, 0) / n for v, n in sampled.items()}
        weight = pd.Series(y_all).map(ratio).to_numpy(float)
        by_h: dict = {}
        for h in sample.settings.get("train.time_horizons") or ():
            col = horizon_column(gate, h)
            if col not in truth.columns or col not in curves.columns:
                continue
            t = truth.loc[ix, col].to_numpy()
            m = curves[col].to_numpy()[ix]
            ok = ~np.isnan(t) & ~np.isnan(m) & pd.notna(y_all)
            if not ok.any():
                continue
            y = ((y_all[ok] == 1) & (days[ok] < h)).astype(int)
            w = weight[ok]
            entry = {
                "rows": int(ok.sum()),
                "positives": int(y.sum()),
                "mean_abs_difference": round(
                    float(np.average(np.abs(m[ok] - t[ok]), weights=w)), 5
                ),
                "model_mean": round(float(np.average(m[ok], weights=w)), 5),
                "truth_mean": round(float(np.average(t[ok], weights=w)), 5),
                "realised_share": round(float(np.average(y, weights=w)), 5),
            }
            if 0 < y.sum() < len(y):
                for name, score in (("model", m[ok]), ("truth", t[ok])):
                    auc = weighted_auc(y, score, w[None, :])[0]
                    entry[f"{name}_auc"] = round(float(auc), 5)
            by_h[str(h)] = entry
        if by_h:
            out[gate] = by_h
    return out


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
