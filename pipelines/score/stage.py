"""Stage `score`: score every open lead with the registry's champion, route it and validate.

Inputs: `paths.features`/scoring.parquet (one row per open lead at the as-of date) and
catalog.json, `paths.validated` (context: who the lead is, its touches, what it consumed),
`paths.labels`/deal_size.json, the model `score.model` (alias or version) from the MLflow
registry; on simulated data `paths.ground_truth`/beliefs (weakest-belief accuracy only); the
latest published run (`publish.exports`/latest.json and its leads.parquet, checked against its
manifest), for each lead's trend since it. That history is outside DVC's view on purpose: a
trend is relative to whatever was last published when the run was scored, and run.json names
that run (`trend_since_run`).
Outputs: `paths.scores`/leads.parquet and accounts.parquet (under the score contract),
`paths.scores`/run.json (run id, scored_at, model version, params hash, row counts) and
`paths.metrics`/score.json (routes, stages, timings, drivers against exact SHAP, weakest-belief
accuracy). A table that breaks its contract is not written and the stage fails.
Params: score, features, ladder, publish.exports.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from features.build import connect
from features.profile import catalog_from_meta
from models import registry
from models.bundle import ReadinessModel
from models.dormant import is_dormant
from models.explain import PathAttribution, compare_with_shap
from models.timing import open_lead_summary
from pipelines.common import sha256_of, write_json
from pipelines.score.context import gather_context
from pipelines.score.leads import score_leads
from readiness.domain import BELIEFS
from readiness.errors import ReadinessError
from readiness.outputs import Output, replacing
from readiness.params import ProjectParams
from readiness.raw.io import crm_ids
from readiness.scores import (
    UNKNOWN_BELIEF,
    content_hash,
    probability_column,
    score_trends,
    scored_population,
    validate_scores,
    with_crm_ids,
)

log = logging.getLogger(__name__)


def load_scoring_model(project: ProjectParams) -> tuple[ReadinessModel, str, list[str] | None]:
    """The model named by score.model (an alias such as champion, or a version number), and
    when it is the provisional fallback (no champion yet), the promotion checks it failed."""
    params = project.params
    name = params.train.mlflow.registered_model
    registry.configure(project.root, params.train.mlflow.experiment)
    ref = params.score.model
    version = ref if ref.isdigit() else registry.alias_version(name, ref)
    failed = None
    if version is None and ref == registry.CHAMPION:
        version = registry.alias_version(name, registry.PROVISIONAL)
        if version is not None:
            failed = _failed_checks(project, version)
            log.warning(
                "score: no champion yet: scoring with provisional version %s (failed: %s)",
                version,
                "; ".join(failed),
            )
    if version is None:
        raise ReadinessError(
            f"The registry has no '{ref}' version of model '{name}': run `readiness evaluate` "
            "(which promotes a passing challenger) or `readiness promote --version N`."
        )
    return registry.load_version(name, version), version, failed


def _failed_checks(project: ProjectParams, version: str) -> list[str]:
    """The failed promotion checks of a provisional version (paths.metrics/promotion.json)."""
    path = project.resolve(project.params.paths.metrics) / "promotion.json"
    promotion = json.loads(path.read_text()) if path.exists() else {}
    if promotion.get("challenger_version") == version and promotion.get("failed_checks"):
        return list(promotion["failed_checks"])
    return [f"version {version} did not pass the promotion gate (see `readiness promote --list`)"]


def previous_published(
    project: ProjectParams, scored_at: pd.Timestamp, ladder: tuple[str, ...]
) -> tuple[pd.DataFrame | None, str | None, str]:
    """The latest published run's scores to measure trends against: (its lead_id, current_stage
    and probabilities, its run id, a note), or (None, None, why not)."""
    exports = project.resolve(project.params.publish.exports)
    latest = exports / "latest.json"
    if not latest.exists():
        return None, None, "no run published yet: every lead is new"
    try:
        folder = exports / json.loads(latest.read_text())["folder"]
        run = json.loads((folder / "run.json").read_text())
    except (OSError, ValueError, KeyError) as exc:
        return None, None, f"the latest published run is unreadable ({exc}): every lead is new"
    file = folder / "leads.parquet"
    if not file.exists() or sha256_of(file) != run.get("files", {}).get("leads.parquet"):
        return None, None, f"{file} is missing or changed since it was published: every lead is new"
    if pd.Timestamp(run["as_of"]) > scored_at:
        return (
            None,
            None,
            (f"the latest published run is as of {run['as_of']}, after this one: no trend"),
        )
    wanted = ["lead_id", "current_stage", *[probability_column(g) for g in ladder]]
    leads = pd.read_parquet(file)
    if not set(wanted) <= set(leads.columns):
        return None, None, "the latest published run has another ladder: every lead is new"
    return leads[wanted], run["run_id"], f"since run {run['run_id']} (as of {run['as_of']})"


def run(project: ProjectParams) -> dict:
    params = project.params
    p = params.score
    t0 = time.perf_counter()
    features_dir = project.resolve(params.paths.features)
    if not (features_dir / "scoring.parquet").exists():
        raise ReadinessError(
            f"{features_dir / 'scoring.parquet'} not found: run `readiness features` first."
        )
    X = pd.read_parquet(features_dir / "scoring.parquet")
    model, version, failed = load_scoring_model(project)
    if not (features_dir / "catalog.json").exists():
        raise ReadinessError(
            f"{features_dir / 'catalog.json'} not found: run `readiness features` first."
        )
    catalog_meta = json.loads((features_dir / "catalog.json").read_text())
    catalog = catalog_from_meta(catalog_meta)
    if model.catalog_version != catalog_meta["version"]:
        raise ReadinessError(
            f"Model version {version} was trained on feature catalogue {model.catalog_version}, the scoring "
            f"snapshot has {catalog_meta['version']}: retrain (`dvc repro train`) or score with a matching version."
        )
    validated = project.resolve(params.paths.validated)
    X, unscored = scored_population(X, validated, params.ladder)
    if X.empty and unscored:
        raise ReadinessError(
            f"No open lead can be scored: {unscored[0]['reason']} for every one of them (the "
            f"commonest reason: {unscored[0]['commonest_quarantine_reason']}). Fix those rows "
            "of the export (see artifacts/metrics/ingest.json and the quarantine) and run again."
        )
    for u in unscored:
        log.warning(
            "score: %d open lead(s) are not scored: %s (the commonest: %s); fix the rows and "
            "run again",
            u["leads"],
            u["reason"],
            u["commonest_quarantine_reason"],
        )
    cutoffs = X["cutoff"].unique()
    if len(cutoffs) != 1:
        raise ReadinessError("The scoring snapshot must hold one cutoff date; rebuild features.")
    scored_at = pd.Timestamp(cutoffs[0])
    deal_size = json.loads((project.resolve(params.paths.labels) / "deal_size.json").read_text())

    scores_dir = project.resolve(params.paths.scores)
    # DuckDB's spill folder beside the scores (never inside: the scores folder is replaced whole)
    work = scores_dir.with_name(f".{scores_dir.name}.work")
    con = connect(params.features, work)
    t1 = time.perf_counter()
    ctx = gather_context(
        con,
        project.resolve(params.paths.validated),
        X["lead_id"],
        scored_at,
        p.routing.trigger_events,
        p.routing.trigger_days,
    )
    context_seconds = time.perf_counter() - t1
    result = score_leads(
        model,
        X,
        ctx=ctx,
        catalog=catalog,
        deal_size=deal_size,
        p=p,
        scored_at=scored_at,
        con=con,
        unavailable=_unavailable_beliefs(
            catalog_meta.get("unavailable_families", {}),
            belief_unshown(model, p.routing.sales_gate) if p.routing.belief_evidence else {},
        ),
    )
    con.disconnect()
    shutil.rmtree(work, ignore_errors=True)  # this stage's own spill folder
    previous, since, trend_note = previous_published(project, scored_at, model.ladder)
    # the accounts' own ids in the export too, to join the account scores back to the CRM
    accounts = with_crm_ids(result.accounts, crm_ids(validated, "accounts"), "account_id")
    leads = validate_scores(
        with_crm_ids(
            score_trends(result.leads, previous, model.ladder),
            crm_ids(validated, "leads"),
            "lead_id",
        ),
        model.ladder,
        p.top_drivers,
        X["lead_id"],
        p.routing.general_route,
    )

    run_info = {
        "scored_at": scored_at.isoformat(),
        "as_of": str(scored_at.date()),
        "model_name": params.train.mlflow.registered_model,
        "model_version": str(version),
        "catalog_version": model.catalog_version,
        "params_hash": project.section_hash("ladder", "features", "labels", "score"),
        "leads": len(leads),
        "accounts": len(accounts),
        # provisional: no champion yet, the model failed the promotion gate (reasons listed)
        "status": "provisional" if failed is not None else "final",
        "status_reasons": failed or [],
        "general_route": p.routing.general_route,
        # each lead's trend is since this published run (None: the first, or none comparable)
        "trend_since_run": since,
        "trend_note": trend_note,
        # leads without a weakest belief, per reason (the report says why)
        "weakest_belief_unknown": result.unknown_beliefs,
        # open leads left unscored: the export's record of them is incomplete (why, how many)
        "not_scored": unscored,
    }
    run_info["run_id"] = (
        f"{scored_at:%Y%m%d}-v{version}-{content_hash(leads)}{content_hash(accounts)[:4]}"
    )
    # leads, accounts and run.json are moved into place together: publish never reads a mix
    output = Output(
        scores_dir, "paths.scores", ("leads.parquet", "accounts.parquet", "run.json", ".work")
    )
    with replacing("score", output) as (out,):
        leads.to_parquet(out / "leads.parquet", index=False)
        accounts.to_parquet(out / "accounts.parquet", index=False)
        write_json(out / "run.json", run_info)

    rng = np.random.default_rng(p.seed)
    sample = X.iloc[rng.choice(len(X), size=min(p.shap_check_rows, len(X)), replace=False)]
    M = sample[model.features].astype(float)
    drivers_vs_shap = {
        g: compare_with_shap(PathAttribution.from_booster(m.booster), M, p.top_drivers)
        for g, m in model.gates.items()
        if m.booster is not None
    }
    summary = {
        "run": run_info,
        "routes": leads["route"].value_counts().to_dict(),
        "readiness_stages": leads["readiness_stage"].value_counts().to_dict(),
        "weakest_belief": leads["weakest_belief"].value_counts().to_dict(),
        "trends": leads["trend"].value_counts().to_dict(),
        # leads with no sign of life lately, whose probabilities the dormant maps recalibrate
        # (models/dormant.py); the gates mapped
        "dormant_leads": {
            "leads": int(is_dormant(X, model.dormant_after_days).sum()),
            "recalibrated_gates": sorted(g for g, m in model.dormant.items() if m.method != "none"),
        },
        # "unknown" rather than a guess, with how many leads each reason covers
        "weakest_belief_unknown": result.unknown_beliefs,
        # per gate, the open leads whose own probability was above an earlier gate's and is
        # shown at it (a later gate is never likelier): many means the two gates' models see
        # crossing them as nearly the same event (models/bundle.ladder_caps)
        "ladder_capped": {
            g: {**c, "shown_at": f"p_{model.ladder[model.ladder.index(g) - 1]}"}
            for g, c in result.ladder_caps.items()
        },
        # when the open leads are likely to cross each gate (models/timing.py)
        "time_to_threshold": open_lead_summary(leads, model.timing, model.ladder),
        "sales_now_owners": leads.loc[leads["route"] == "sales_now", "owner"]
        .value_counts()
        .to_dict(),
        "nurture_without_next_asset": int(
            (leads["route"].str.startswith("nurture_") & leads["next_asset"].isna()).sum()
        ),
        "expected_revenue_total": round(float(leads["expected_revenue"].sum()), 2)
        if leads["expected_revenue"].notna().any()
        else None,  # no deal sizes: unknown
        # attributes known only at export that params let the model use: they may leak
        "attributes_known_only_at_export": catalog_meta.get("profile", {}).get(
            "accepted_at_export", []
        ),
        "drivers_vs_exact_shap": drivers_vs_shap,
        "seconds": {
            "context": round(context_seconds, 2),
            **result.timings,
            "stage": round(time.perf_counter() - t0, 2),
        },
    }
    truth_dir = project.resolve(params.paths.ground_truth) / "beliefs"
    if params.evaluate.ground_truth and truth_dir.exists():
        summary["weakest_belief_vs_truth"] = weakest_belief_accuracy(leads, X, truth_dir, scored_at)
    metrics = project.resolve(params.paths.metrics)
    metrics.mkdir(parents=True, exist_ok=True)
    write_json(metrics / "score.json", summary)
    log.info("score: %d open leads scored in %.1fs", len(leads), time.perf_counter() - t0)
    return summary


def _unavailable_beliefs(data: dict[str, str], unshown: dict[str, str]) -> dict[str, str]:
    """The families the data cannot feed, with their reasons; where some belief content is
    tagged but the belief counts show no signal, that is the one reason for every belief."""
    if unshown and not all(b in data for b in BELIEFS):
        return {**data, **unshown}
    return data


def belief_unshown(model: ReadinessModel, gate: str) -> dict[str, str]:
    """Every belief, with the reason, when the belief counts add nothing the validation rows can
    show to `gate` (the sales gate, whose contributions name a lead's weakest belief; train's
    belief_signal): the route then makes no belief claim. Empty when shown, or not measured
    (an older bundle, no belief counts)."""
    signal = model.gates[gate].info.get("belief_signal") if gate in model.gates else None
    if not signal or signal.get("shown", True):
        return {}
    why = (
        f"belief content adds nothing the data can show to {gate} (validation AUC "
        f"{signal['stop_auc_with']:.4f} with the belief counts, {signal['stop_auc_without']:.4f} "
        f"without; difference {signal['difference']:+.4f}, standard error {signal['se']:.4f})"
    )
    return dict.fromkeys(BELIEFS, why)


def weakest_belief_accuracy(
    leads: pd.DataFrame, X: pd.DataFrame, beliefs_dir: Path, scored_at: pd.Timestamp
) -> dict:
    """How often the named weakest belief is the simulator's lowest latent belief, next to the
    naive rule (the belief whose content the lead consumed least; ties go to the earliest) and
    to always naming the last belief."""
    truth = pd.read_parquet(beliefs_dir, columns=["lead_id", "as_of", *BELIEFS])
    truth = truth[pd.to_datetime(truth["as_of"]) <= scored_at]
    truth = truth.sort_values("as_of").drop_duplicates("lead_id", keep="last").set_index("lead_id")
    ids = leads["lead_id"]
    known = ids.isin(truth.index).to_numpy()
    t = truth.loc[ids[known], list(BELIEFS)].to_numpy()
    lowest = np.array(BELIEFS)[t.argmin(axis=1)]
    named = leads.loc[known, "weakest_belief"].to_numpy()
    consumed = X.loc[known, [f"{b}_content_all" for b in BELIEFS]].to_numpy()
    naive = np.array(BELIEFS)[consumed.argmin(axis=1)]
    engaged = consumed.sum(axis=1) > 0
    said = named != UNKNOWN_BELIEF  # accuracy where a belief is named; "unknown" is not a guess
    return {
        "leads": int(known.sum()),
        "named_share": round(float(said.mean()), 4) if len(said) else None,
        "model_accuracy": round(float((named[said] == lowest[said]).mean()), 4)
        if said.any()
        else None,
        "naive_accuracy_where_named": round(float((naive[said] == lowest[said]).mean()), 4)
        if said.any()
        else None,
        "naive_accuracy": round(float((naive == lowest).mean()), 4),
        # a second yardstick: always the last belief of the ladder, the one bought last
        "always_last_belief_accuracy": round(float((lowest == BELIEFS[-1]).mean()), 4),
        "engaged_leads": int(engaged.sum()),
        "model_accuracy_engaged": round(
            float((named[engaged & said] == lowest[engaged & said]).mean()), 4
        )
        if (engaged & said).any()
        else None,
        "naive_accuracy_engaged": round(float((naive[engaged] == lowest[engaged]).mean()), 4)
        if engaged.any()
        else None,  # no lead engaged: unknown, not NaN
        "truth_lowest_share": pd.Series(lowest).value_counts(normalize=True).round(4).to_dict(),
    }
