"""Stage `monitor`: is the model still right for the leads scored now?

Inputs: `paths.features` (training snapshots and catalogue; scoring.parquet, the current open
leads), `paths.labels` (cohorts, horizon, end of the data), the model that scored the current
leads (`paths.scores`/run.json names its version: `paths.models`/readiness and
`paths.metrics`/evaluate.json when it is the latest trained one, else that version, its test
AUCs and cohort dates from the MLflow registry, as after a challenger failed promotion), and the
history of published runs: `publish.exports`/<run_id>/ (run.json and leads.parquet, checked
against the run's manifest) with `paths.validated` (milestones: what happened after each run;
leads, events, sales touches: which of its leads had a sign of life when it was scored).
Outputs: `paths.metrics`/monitor.json: the model watched; feature drift per feature and family
(PSI of the open leads with a sign of life against the training cohort), the drift of each
gate's score distribution, each gate's label-free AUC estimate on the current leads next to the
same estimate on the test cohort and the test cohort's realised AUC; every published run's
realised AUC, ECE, lift and route outcomes once its horizon has passed (on all its leads and on
its active ones, with its dormant leads' expected against realised crossings; the label-free
estimate until then) and the estimate's error against the realised AUC over those runs; the
age of what the model learnt (its newest snapshot against the leads scored now), and a
retraining recommendation per gate with its reasons.
Params: monitor, ladder, train (cohort dates), features.dormant_after_days, publish.exports,
score.routing.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from models import registry
from models.bundle import ReadinessModel, probability_column
from models.cohorts import CALIBRATE, STOP, TEST, TRAIN, is_flat, training_cohorts
from models.dataset import load_training_frame
from models.dormant import is_dormant
from models.labels import LabelSettings
from models.monitor import (
    estimate_performance,
    family_drift,
    feature_drift,
    psi,
    reading,
    realised_outcomes,
    realised_performance,
)
from pipelines.common import sha256_of, write_json
from readiness.errors import ReadinessError
from readiness.params import ProjectParams

log = logging.getLogger(__name__)


def _retrain_learns_newer(age: dict, valid_end: object) -> bool | None:
    """Would a retrain now learn from a newer labelled cohort than the model did? Its validation
    cohort (as the cohorts stand now, chosen from the data or set) against the newest snapshot
    the model learnt from; None when either is unknown (a flat export has no cohorts)."""
    learnt = age.get("learnt_until")
    if learnt is None or valid_end is None:
        return None
    return pd.Timestamp(str(valid_end)) > pd.Timestamp(str(learnt))


def _at_risk(X: pd.DataFrame, ladder: tuple[str, ...], gate: str) -> np.ndarray:
    """Rows that have not crossed `gate` yet (ladder_stage counts gates reached)."""
    if "ladder_stage" not in X:
        return np.ones(len(X), dtype=bool)
    return X["ladder_stage"].to_numpy() <= ladder.index(gate)


def select_comparable_leads(
    current: pd.DataFrame, *, dormant_after_days: int, flat: bool
) -> np.ndarray:
    """The open leads a training snapshot could hold: on an export with dates, those with a sign
    of life (creation, an engaged action, a sales touch, a milestone) in the last
    `dormant_after_days`, as every training snapshot has; dormant leads are scored too, but the
    model never learnt from a dormant snapshot, so comparing them with the training cohort
    would report the dormant backlog as drift (they are recalibrated on a sample of their own,
    models/dormant.py, whose rule this is). A flat export: every lead."""
    if flat:
        return np.ones(len(current), dtype=bool)
    return ~is_dormant(current, dormant_after_days)


def measure_model_age(
    features: pd.DataFrame,
    cohort: pd.Series,
    as_of: pd.Timestamp,
    *,
    limit: int | None,
    flat: bool,
    learnt_until: pd.Timestamp | None = None,
) -> dict:
    """How old the model's knowledge is when the current leads are scored: the newest snapshot it
    learnt from (fitting, early stopping or calibration, by the params' cohorts: the latest
    trained model's; `learnt_until` for another version, the end of its own validation cohort)
    and the days from it to the current as-of date, against `limit` (params
    monitor.max_model_age_days)."""
    if flat:
        return {"days": None, "reason": "unknown: a flat export has no dates"}
    learnt = cohort.isin([TRAIN, STOP, CALIBRATE]).to_numpy()
    if learnt_until is None and not learnt.any():
        return {"days": None, "reason": "unknown: no snapshot of the training cohorts"}
    newest = (
        learnt_until
        if learnt_until is not None
        else pd.Timestamp(features.loc[learnt, "cutoff"].max())
    )
    days = int((as_of - newest).days)
    return {
        "learnt_until": str(newest.date()),
        "scored_as_of": str(as_of.date()),
        "days": days,
        "limit_days": limit,
        "too_old": limit is not None and days > limit,
    }


def monitored_model(project: ProjectParams, scoring_columns: pd.Index) -> dict:
    """The model whose scores the current leads carry: the version `paths.scores`/run.json names
    (the champion, or the provisional fallback), or the latest trained model when nothing has
    been scored yet. The latest trained one is read from `paths.models` with its test AUCs from
    evaluate.json; another version (a challenger trained since failed promotion) from the MLflow
    registry, with the test AUCs and the validation cohort's end logged to its training run.
    Returns model, version, which it is, test AUC per gate and (another version) learnt_until."""
    params = project.params
    models = project.resolve(params.paths.models)
    latest_file = models / "run.json"
    latest = json.loads(latest_file.read_text()) if latest_file.exists() else {}
    scores_run = project.resolve(params.paths.scores) / "run.json"
    scored = (
        json.loads(scores_run.read_text()).get("model_version") if scores_run.exists() else None
    )
    if scored is None or str(scored) == str(latest.get("model_version")):
        folder = models / "readiness"
        if not folder.exists():
            raise ReadinessError(f"{folder} not found: run `readiness train` first.")
        evaluation = project.resolve(params.paths.metrics) / "evaluate.json"
        tested = json.loads(evaluation.read_text())["gates"] if evaluation.exists() else {}
        model = ReadinessModel.load(folder)
        out = {
            "version": latest.get("model_version"),
            "which": "the latest trained model, which scored the current leads"
            if scored is not None
            else f"the latest trained model (nothing scored yet: {scores_run} not found)",
            "test_auc": {
                g: tested.get(g, {}).get("model", {}).get("roc_auc") for g in params.ladder
            },
            "learnt_until": None,
        }
    else:
        name = params.train.mlflow.registered_model
        registry.configure(project.root, params.train.mlflow.experiment)
        model = registry.load_version(name, str(scored))
        metrics, logged = registry.version_run(name, str(scored))
        valid_end = logged.get("train.valid_end")
        out = {
            "version": str(scored),
            "which": f"version {scored}, which scored the current leads (the latest trained, "
            f"version {latest.get('model_version')}, does not score them: it failed promotion "
            "or was not promoted); its test AUCs and cohorts from its MLflow training run",
            "test_auc": {g: metrics.get(f"test.{g}.model.roc_auc") for g in params.ladder},
            "learnt_until": pd.Timestamp(valid_end) if valid_end not in (None, "None") else None,
        }
    missing = [f for f in model.features if f not in scoring_columns]
    if missing:
        raise ReadinessError(
            f"The model that scored the current leads (version {out['version']}) needs "
            f"{len(missing)} feature(s) the scoring snapshot lacks: {', '.join(missing[:10])}"
            f"{' ...' if len(missing) > 10 else ''}. Re-run `readiness features` and "
            "`readiness score`, or score with a model trained on the current catalogue."
        )
    return {**out, "model": model}


def activity_days(validated) -> pd.DataFrame:
    """Every dated sign of life per lead in the validated tables, as the training snapshots count
    them (features/sources.py): its creation, an engaged action (any event but an email open), a
    sales touch or meeting, a milestone. Columns lead_id, at; a table the export lacks adds
    nothing."""
    parts = []
    for table, column, filters in (
        ("leads", "created_at", None),
        ("events", "occurred_at", [("event_type", "!=", "email_open")]),
        ("sales_touches", "occurred_at", None),
        ("milestones", "occurred_at", None),
    ):
        folder = validated / table
        if folder.exists():
            part = pd.read_parquet(folder, columns=["lead_id", column], filters=filters)
            parts.append(part.rename(columns={column: "at"}).dropna())
    if not parts:
        return pd.DataFrame({"lead_id": pd.Series(dtype=str), "at": pd.Series(dtype="M8[ns]")})
    return pd.concat(parts, ignore_index=True)


def active_at(
    activity: pd.DataFrame, lead_ids: pd.Series, as_of: pd.Timestamp, dormant_after_days: int
) -> np.ndarray:
    """Which of `lead_ids` showed a sign of life in the `dormant_after_days` days before
    `as_of` (strictly before it): the leads a training snapshot at that date would hold."""
    recent = activity[
        (activity["at"] < as_of) & (activity["at"] >= as_of - pd.Timedelta(days=dormant_after_days))
    ]
    return lead_ids.isin(recent["lead_id"]).to_numpy()


def dormant_calibration(
    leads: pd.DataFrame, outcomes: pd.DataFrame, dormant: np.ndarray, ladder: tuple[str, ...]
) -> dict:
    """On a realised run's dormant leads (no sign of life in the dormancy window: no training
    snapshot is like them, so their probabilities are the model's extrapolation), per gate: the
    leads at risk, the crossings their probabilities expected and those that happened."""
    joined = leads.loc[dormant].merge(outcomes, on="lead_id", how="inner", validate="one_to_one")
    gates = {}
    for gate in ladder:
        col = probability_column(gate)
        if col not in joined:
            continue
        rows = joined[joined[f"at_risk_{gate}"] & joined[col].notna()]
        gates[gate] = {
            "at_risk": len(rows),
            "expected_crossings": round(float(rows[col].sum()), 2),
            "crossed": int(rows[f"crossed_{gate}"].sum()),
        }
    return {"leads": int(dormant.sum()), "gates": gates}


def _estimates(leads: pd.DataFrame, rows: np.ndarray, reached: np.ndarray, params) -> dict:
    """A pending run's label-free AUC estimate per gate on `rows` among the leads at risk of
    the gate (`reached`: gates crossed when it was scored)."""
    return {
        g: estimate_performance(
            leads.loc[rows & (reached <= i), c].to_numpy(dtype=float), 50, params.monitor.seed
        )
        for i, g in enumerate(params.ladder)
        if (c := probability_column(g)) in leads
    }


def published_history(project: ProjectParams, settings: LabelSettings, flat: bool) -> list[dict]:
    """Every run published to `publish.exports`, oldest first: once its horizon has passed (by
    the end of the data), what became of it (realised AUC, ECE, lift per gate and route
    outcomes); before that, the label-free AUC estimate its own probabilities give and the day
    its horizon ends. A run whose files no longer match its manifest is listed, not read."""
    params = project.params
    exports = project.resolve(params.publish.exports)
    runs = sorted(exports.glob("*/run.json")) if exports.is_dir() else []
    if not runs:
        return []
    validated = project.resolve(params.paths.validated)
    milestones = pd.read_parquet(
        validated / "milestones", columns=["lead_id", "milestone", "occurred_at"]
    )
    activity = None if flat else activity_days(validated)
    dormant_after = params.features.dormant_after_days
    end = pd.Timestamp(settings.end_of_data)
    out = []
    for path in runs:
        if path.parent.name.startswith("."):
            continue  # an export being written or replaced
        run = json.loads(path.read_text())
        as_of = pd.Timestamp(run["as_of"])
        horizon_ends = as_of + pd.Timedelta(days=settings.horizon_days)
        entry = {
            "run_id": run.get("run_id", path.parent.name),
            "as_of": run["as_of"],
            "model_version": run.get("model_version"),
            "status": run.get("status", "final"),
            "leads": run.get("rows", {}).get("leads"),
            "horizon_ends": str(horizon_ends.date()),
        }
        leads_file = path.parent / "leads.parquet"
        expected = run.get("files", {}).get("leads.parquet")
        if not leads_file.exists() or (expected and sha256_of(leads_file) != expected):
            out.append(
                {
                    **entry,
                    "state": "unreadable",
                    "reason": f"{leads_file} is missing or changed since it was published",
                }
            )
            continue
        leads = pd.read_parquet(leads_file)
        if flat:
            out.append(
                {
                    **entry,
                    "state": "unknown",
                    "reason": "a flat export has no dates: what happened after a run is not in it",
                }
            )
            continue
        assert activity is not None
        # the leads a training snapshot at the run's date would hold (a sign of life in the
        # dormancy window); the dormant rest are scored by extrapolation
        active = active_at(activity, leads["lead_id"], as_of, dormant_after)
        entry["active_leads"] = int(active.sum())
        if horizon_ends > end:
            # on the leads at risk of each gate when the run was scored (a gate already crossed
            # has probability 1 and would flatter the estimate)
            reached = (
                leads["current_stage"]
                .map({g: i + 1 for i, g in enumerate(params.ladder)})
                .fillna(0)
                .to_numpy()
            )

            out.append(
                {
                    **entry,
                    "state": "pending",
                    "reason": f"its {settings.horizon_days}-day horizon ends {horizon_ends.date()}, after the data ({end.date()})",
                    "estimates": _estimates(
                        leads, np.ones(len(leads), dtype=bool), reached, params
                    ),
                    "estimates_active": _estimates(leads, active, reached, params),
                }
            )
            continue
        outcomes = realised_outcomes(leads, milestones, params.ladder, as_of, settings.horizon_days)
        routing = params.score.routing
        realised, on_active = (
            realised_performance(
                part,
                outcomes,
                params.ladder,
                routing.sales_gate,
                routing.general_route,
                params.evaluate.ece_bins,
            )
            for part in (leads, leads[active])
        )
        out.append(
            {
                **entry,
                "state": "realised",
                **realised,
                "gates_active": on_active["gates"],
                "dormant": dormant_calibration(leads, outcomes, ~active, params.ladder),
            }
        )
    return sorted(out, key=lambda r: (r["as_of"], r["run_id"]))


def estimate_errors(history: list[dict], ladder: tuple[str, ...], key: str = "gates") -> dict:
    """How far the label-free estimate each realised run gave at publication was from its
    realised AUC: per gate, the runs compared, the mean absolute error and the mean signed error
    (estimate minus realised: above 0, the estimate flattered the model); over all gates, the
    mean absolute error. Unknown (None, with the reason) before any run's horizon has passed.
    `key` "gates": on every lead at risk; "gates_active": on those with a sign of life in the
    dormancy window (the population the model learnt from)."""
    by_gate: dict = {}
    every: list[float] = []
    for gate in ladder:
        errors = [
            g["estimated_auc_at_publication"] - g["roc_auc"]
            for r in history
            if r["state"] == "realised"
            and (g := r.get(key, {}).get(gate))
            and g.get("roc_auc") is not None
            and g.get("estimated_auc_at_publication") is not None
        ]
        if errors:
            by_gate[gate] = {
                "runs": len(errors),
                "mae": round(float(np.mean(np.abs(errors))), 5),
                "mean_signed_error": round(float(np.mean(errors)), 5),
            }
            every.extend(abs(e) for e in errors)
    if not every:
        return {
            "mae": None,
            "reason": "unknown: no published run's horizon has passed yet",
            "gates": {},
        }
    return {"mae": round(float(np.mean(every)), 5), "gate_runs": len(every), "gates": by_gate}


def run(project: ProjectParams) -> dict:
    params = project.params
    p = params.monitor
    features, labels, settings, catalog_meta = load_training_frame(project)
    cohort = training_cohorts(features, labels, catalog_meta, params.train, params.ladder)
    scoring = project.resolve(params.paths.features) / "scoring.parquet"
    if not scoring.exists():
        raise ReadinessError(f"{scoring} not found: run `readiness features` first.")
    scored = pd.read_parquet(scoring)
    if scored.empty:
        raise ReadinessError(f"{scoring} holds no open lead: there is nothing to monitor.")
    flat = is_flat(catalog_meta)
    active = select_comparable_leads(
        scored, dormant_after_days=params.features.dormant_after_days, flat=flat
    )
    current = scored[active].reset_index(drop=True)
    monitored = monitored_model(project, scored.columns)
    model = monitored["model"]

    rng = np.random.default_rng(p.seed)
    train_rows = np.flatnonzero((cohort == TRAIN).to_numpy())
    if len(train_rows) == 0:  # a flat export: every snapshot is the reference
        train_rows = np.arange(len(features))
    sample = rng.choice(train_rows, min(p.reference_rows, len(train_rows)), replace=False)
    reference = features.iloc[np.sort(sample)].reset_index(drop=True)
    families = {f["name"]: f["family"] for f in catalog_meta["features"]}
    drift = feature_drift(reference[model.features], current[model.features], families, p.bins)
    by_family = family_drift(drift)

    ref_probs, cur_probs = model.predict(reference), model.predict(current)
    test_rows = (cohort == TEST).to_numpy()
    test_probs = model.predict(features[test_rows]) if test_rows.any() else None
    history = published_history(project, settings, flat)
    as_of = pd.Timestamp(scored["cutoff"].max())
    age = measure_model_age(
        features,
        cohort,
        as_of,
        limit=p.max_model_age_days,
        flat=flat,
        learnt_until=monitored["learnt_until"],
    )
    # the cohorts as they stand now (chosen from the data, or set): does a retrain learn
    # anything newer than the model did?
    newer = _retrain_learns_newer(age, params.train.valid_end)
    if age.get("too_old") and project.cohorts_chosen:
        newest = params.train.valid_end
        if newer is False:
            age["too_old"] = False
            age["note"] = (
                f"older than the {age['limit_days']}-day limit, but a retrain would learn nothing "
                f"newer: the cohorts chosen from the data end validation on {newest}, one horizon "
                f"({params.labels.horizon_days} days) before the test, whose labels must be "
                "complete. A shorter labels.horizon_days or a larger monitor.max_model_age_days "
                "settles it"
            )
    gates: dict = {}
    for gate in params.ladder:
        col = probability_column(gate)
        ref_risk, cur_risk = (
            _at_risk(reference, params.ladder, gate),
            _at_risk(current, params.ladder, gate),
        )
        score_psi = psi(
            ref_probs[col].to_numpy()[ref_risk], cur_probs[col].to_numpy()[cur_risk], p.bins
        )
        now = estimate_performance(cur_probs[col].to_numpy()[cur_risk], p.draws, p.seed)
        then = (
            estimate_performance(
                test_probs[col].to_numpy()[_at_risk(features[test_rows], params.ladder, gate)],
                p.draws,
                p.seed,
            )
            if test_probs is not None
            else {"estimated_auc": None}  # a flat export: no later cohort to compare with
        )
        test_auc = monitored["test_auc"].get(gate)
        reasons = []
        if not np.isnan(score_psi) and score_psi >= p.score_psi_alert:
            reasons.append(
                f"its score distribution shifted (PSI {score_psi:.3f} >= {p.score_psi_alert})"
            )
        # like with like: the estimate now against the same estimate where the model was tested
        # (the estimator's own bias on this data, e.g. 0.80 estimated for 0.85 realised, cancels);
        # a flat export has no test cohort, so no such rule
        estimate, before = now["estimated_auc"], then["estimated_auc"]
        if estimate is not None and before is not None and estimate < before - p.auc_margin:
            reasons.append(
                f"its estimated AUC on the current leads {estimate:.3f} is more than "
                f"{p.auc_margin} below the same estimate on the test cohort, {before:.3f}"
                + (f" (realised test AUC {test_auc:.3f})" if test_auc is not None else "")
            )
        realised: dict = next(
            (r["gates"].get(gate, {}) for r in reversed(history) if r["state"] == "realised"),
            {},
        )
        if (
            realised.get("roc_auc") is not None
            and test_auc is not None
            and realised["roc_auc"] < test_auc - p.auc_margin
        ):
            reasons.append(
                f"its realised AUC on the latest published run whose horizon has passed, "
                f"{realised['roc_auc']:.3f}, is more than {p.auc_margin} below its test AUC "
                f"{test_auc:.3f}"
            )
        if age.get("too_old"):
            reasons.append(
                f"the newest snapshot it learnt from ({age['learnt_until']}) is {age['days']} days "
                f"before the leads scored now, more than {age['limit_days']}; "
                + (
                    "a retrain chooses its cohorts again from the newest data (train.* dates "
                    "null): re-run features and train (`dvc repro`)"
                    if project.cohorts_chosen
                    else "a retrain learns nothing newer until the cohort dates move: set "
                    "train.train_end, "
                    "valid_start, valid_end and test_start later in params.yaml"
                )
            )
        gates[gate] = {
            "score_psi": None if np.isnan(score_psi) else round(score_psi, 4),
            "score_drift": reading(score_psi),
            "estimate_now": now,
            "estimate_on_test_cohort": then,
            "estimate_compared_with": "test cohort"
            if test_probs is not None
            else "unknown: a flat export has no test cohort",
            "test_auc": test_auc,
            "retrain": bool(reasons),
            "reasons": reasons
            or (
                ["unknown: too few leads at risk of this gate now to estimate its AUC"]
                if now["estimated_auc"] is None
                else ["score distribution stable and estimated AUC within the margin"]
            ),
        }
    if newer is False and any(g["retrain"] for g in gates.values()):
        how = (
            "a re-run of features and train then chooses later cohorts"
            if project.cohorts_chosen
            else "then move the train.* cohort dates in params.yaml later"
        )
        age["retrain_note"] = (
            "a retrain now would learn from the same labelled cohorts as this model (validation "
            f"ending {params.train.valid_end}): it cannot follow the change yet. Watch the "
            f"estimates, and retrain once newer labelled data arrive ({how})"
        )
    strong = drift[drift["reading"] == "strong"]
    summary = {
        "model": {"version": monitored["version"], "which": monitored["which"]},
        "reference": {"cohort": "training", "snapshots": len(reference)},
        "current": {
            "open_leads": len(scored),
            "compared_leads": len(current),
            "compared": "every open lead"
            if flat
            else f"the open leads with a sign of life in the last "
            f"{params.features.dormant_after_days} days, as every training snapshot has",
            "as_of": str(as_of.date()),
        },
        "model_age": age,
        "retrain": [g for g, v in gates.items() if v["retrain"]],
        # False: the data hold no labelled cohort newer than the model's, so a retrain now would
        # learn the same (the retraining waits for new labels); None: unknown (a flat export)
        "retrain_learns_newer": newer,
        "gates": gates,
        "families": by_family.round({"max_psi": 4}).to_dict("records"),
        "features_strong_drift": strong.round({"psi": 4})[["feature", "family", "psi"]].to_dict(
            "records"
        ),
        "features": drift.round({"psi": 4}).to_dict("records"),
        "published_runs": history,
        "estimate_vs_realised": {
            **estimate_errors(history, params.ladder),
            "active_leads": estimate_errors(history, params.ladder, "gates_active"),
        },
        "assumption": (
            "the estimate assumes the probabilities stay calibrated on the new leads: it tracks "
            "a change in who the leads are, not in how the signals relate to buying"
        ),
    }
    metrics = project.resolve(params.paths.metrics)
    write_json(metrics / "monitor.json", summary)
    log.info("monitor: retraining recommended for %s", summary["retrain"] or "no gate")
    return summary
