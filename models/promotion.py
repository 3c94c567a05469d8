"""The promotion gate: may the newly trained challenger replace the champion?

The challenger must be calibrated (ECE under the bound on every judged gate) and may not lose
more than `max_auc_drop` of ROC AUC to the current champion on the same (newest) test cohort.

A first run never dead-ends: when no champion exists and the challenger fails, it gets the
`provisional` alias; `readiness score` then uses it and marks the run provisional with the failed
checks (scores, database, report, CLI). A provisional model never replaces a champion.
"""

from __future__ import annotations

import pandas as pd

from models import registry
from models.evaluate import gate_metrics
from models.labels import label_column
from readiness.params import EvaluateParams, PromotionParams


def promotion_decision(
    challenger: dict,
    champion: dict | None,
    p: PromotionParams,
    versus: dict | None = None,
    implausible: dict | None = None,
) -> dict:
    """Whether the challenger may replace the champion, and why (per gate).

    `challenger` / `champion`: {gate: {"roc_auc": .., "ece": ..}} on the same (newest) cohort;
    gates without an AUC (too few positives) do not block. `versus`: {gate: {baseline:
    {difference, low, high}}} (DeLong, model - baseline): with `never_behind_baselines`, a gate
    worse than a baseline beyond noise blocks. `implausible`: {gate: warning} for gates the
    user's own columns alone rank implausibly well (evaluate.implausible_your_columns_auc): a
    column filled in after the outcome is probably declared at_creation, every figure is
    inflated, and such a model is not promoted (without a champion it scores provisionally, the
    reason shown with every score).
    """
    reasons, promote = [], True
    for gate, warning in (implausible or {}).items():
        promote = False
        reasons.append(f"{gate}: implausibly well ranked by your own columns alone: {warning}")
    for gate, by_baseline in (versus or {}).items():
        for baseline, d in by_baseline.items():
            if p.never_behind_baselines and d.get("high", 0.0) < 0:
                promote = False
                reasons.append(
                    f"{gate}: worse than the {baseline} baseline beyond noise (AUC difference "
                    f"{d['difference']:+.4f}, 95 % interval {d['low']:+.4f} to {d['high']:+.4f})"
                )
    for gate, m in challenger.items():
        if "roc_auc" not in m:
            why = (
                "no test snapshot is at risk of crossing it"
                if m.get("rows") == 0
                else "one class only"
            )
            reasons.append(f"{gate}: no AUC on the test cohort ({why}); not judged")
            continue
        if m["ece"] > p.max_ece:
            promote = False
            reasons.append(f"{gate}: ECE {m['ece']:.4f} is above the bound {p.max_ece}")
        if champion and "roc_auc" in champion.get(gate, {}):
            drop = champion[gate]["roc_auc"] - m["roc_auc"]
            if drop > p.max_auc_drop:
                promote = False
                reasons.append(
                    f"{gate}: AUC {m['roc_auc']:.4f} is {drop:.4f} below the champion's {champion[gate]['roc_auc']:.4f} (allowed {p.max_auc_drop})"
                )
            else:
                reasons.append(
                    f"{gate}: AUC {m['roc_auc']:.4f} vs champion {champion[gate]['roc_auc']:.4f}: ok"
                )
        else:
            reasons.append(
                f"{gate}: AUC {m['roc_auc']:.4f}, ECE {m['ece']:.4f}: ok (no champion to compare)"
            )
    return {"promote": promote, "reasons": reasons}


def run_promotion_gate(
    *,
    registered_model: str,
    version: str,
    X: pd.DataFrame,
    y: pd.DataFrame,
    challenger: dict,
    ladder: tuple[str, ...],
    p: EvaluateParams,
    compare_champion: bool = True,
    versus: dict | None = None,
    catalog_version: str | None = None,
    implausible: dict | None = None,
) -> dict:
    """Judge the challenger `version` against the registry's champion on the test rows (X, y),
    promote it when it passes, and return the decision with the versions before and after.
    Without `compare_champion` (a flat export, whose champion was trained on the same leads)
    only the challenger's own checks apply; so too when the champion was trained on another
    feature catalogue than `catalog_version` (the features of these leads): it could not score
    them, so it cannot keep a challenger that can from being promoted."""
    champion_before = registry.alias_version(registered_model, registry.CHAMPION)
    champion_metrics = None
    champion = (
        registry.load_version(registered_model, champion_before)
        if champion_before and champion_before != version and compare_champion
        else None
    )
    other_catalogue = (
        champion is not None
        and catalog_version is not None
        and champion.catalog_version != catalog_version
    )
    if champion is not None and not other_catalogue:
        champion_preds = champion.predict(X)
        champion_metrics = {}
        for g in ladder:
            yg = y[label_column(g)]
            known = yg.notna().to_numpy()
            champion_metrics[g] = gate_metrics(
                yg.fillna(0).astype(int).to_numpy()[known],
                champion_preds[f"p_{g}"].to_numpy()[known],
                p.ece_bins,
            )
    decision = promotion_decision(challenger, champion_metrics, p.promotion, versus, implausible)
    failed = failed_checks(decision)
    if champion_before and not compare_champion:
        decision["reasons"].append(
            f"not compared with champion version {champion_before}: it was trained on these "
            "leads (a flat export is cross-validated, not split by time)"
        )
    if other_catalogue:
        assert champion is not None
        decision["reasons"].append(
            f"not compared with champion version {champion_before}: it was trained on feature "
            f"catalogue {champion.catalog_version} and cannot score these leads (catalogue "
            f"{catalog_version}); the challenger is judged on its own checks"
        )
    champion_after = champion_before
    if decision["promote"] and champion_before != version:
        registry.set_champion(registered_model, version)
        champion_after = version
    # no champion at all: the failed challenger scores provisionally, its failed checks said with
    # every run; a champion (now or later) always takes precedence and clears the alias
    provisional = champion_after is None
    registry.set_alias(registered_model, registry.PROVISIONAL, version if provisional else None)
    return {
        **decision,
        "challenger_version": version,
        "champion_before": champion_before,
        "champion_after": champion_after,
        "provisional": provisional,
        "failed_checks": failed if provisional else [],
    }


def failed_checks(decision: dict) -> list[str]:
    """The reasons that blocked promotion (not the ones that passed or were not judged)."""
    if decision["promote"]:
        return []
    blocking = ("above the bound", "below the champion", "baseline beyond noise", "implausibly")
    return [r for r in decision["reasons"] if any(b in r for b in blocking)]
