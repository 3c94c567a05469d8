"""Stage `train`: a calibrated LightGBM model per gate and the two baselines, tracked in MLflow.

Inputs: `paths.features`/training, dormant and catalog.json, `paths.labels`/labels.parquet and
dormant.parquet (the dormant sample, on which dormant leads are recalibrated: models/dormant.py).
Outputs: `paths.models`/readiness/ (the gate models: LightGBM text files and JSON calibrators),
`paths.models`/baselines/ (points score and logistic regressions as JSON), on a flat export
`paths.models`/cross_validation.parquet (out-of-fold predictions), `paths.models`/run.json
(the MLflow run and registered version) and `paths.metrics`/train.json. The run is logged with
every parameter of params.yaml, and the model registered as a new version with alias challenger.
Params: train, labels, ladder, features.dormant_after_days.
"""

from __future__ import annotations

import json
import logging
import subprocess
import time

import pandas as pd

from features.profile import catalog_from_meta
from models import registry
from models.bundle import save_baselines
from models.cohorts import (
    CALIBRATE,
    STOP,
    TEST,
    TRAIN,
    assign_cohorts,
    evaluation_method,
    is_flat,
    training_cohorts,
)
from models.crossval import CV_FILE, cross_validate
from models.dataset import load_training_frame
from models.dormant import SIGNS_OF_LIFE, fit_dormant_maps, load_dormant_frame
from models.guard import screen_for_training
from models.labels import LabelSettings
from models.train import train_models
from pipelines.common import write_json
from readiness.outputs import Output, replacing
from readiness.params import ProjectParams

log = logging.getLogger(__name__)


def _git_commit(root) -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _recalibrate_dormant(project: ProjectParams, model, catalog_meta: dict) -> dict | None:
    """Fit the dormant leads' maps on the validation cohorts' dormant sample and set them on
    `model` (models/dormant.py); what was fitted, per gate, or None without a sample."""
    params = project.params
    if is_flat(catalog_meta):
        return None
    features, labels = load_dormant_frame(project)
    model.dormant_after_days = params.features.dormant_after_days
    if features.empty:
        log.warning(
            "train: no dormant snapshots were built (features.dormant_sample is 0): dormant "
            "leads are scored by extrapolation from active ones"
        )
        return None
    # both validation cohorts: the boosters never fitted them, and dormant positives are rare
    cohort = assign_cohorts(features["cutoff"], params.train)
    maps = fit_dormant_maps(model, features, labels, cohort.isin([STOP, CALIBRATE]).to_numpy())
    model.dormant = maps
    for gate, m in maps.items():
        log.info("train: %s: dormant leads: %s", gate, m.reason)
    return {
        "after_days": params.features.dormant_after_days,
        "sample_snapshots": len(features),
        "gates": {
            g: {k: v for k, v in m.to_dict().items() if k != "calibrator"} for g, m in maps.items()
        },
    }


def _timing_ends(settings: LabelSettings) -> dict[str, pd.Timestamp]:
    """Per gate, the date by which a crossing's window must be over for its timing to count: the
    end of the data, less the follow-through for a revenue-anchored gate (whose crossings late in
    the horizon have not had the time to win yet)."""
    end = pd.Timestamp(settings.end_of_data)
    follow = pd.Timedelta(days=settings.follow_through_days)
    return {g: end - follow if g in settings.revenue_anchored else end for g in settings.ladder}


def run(project: ProjectParams) -> dict:
    params = project.params
    t0 = time.perf_counter()
    features, labels, settings, catalog_meta = load_training_frame(project)
    catalog = catalog_from_meta(catalog_meta)
    tp = params.train
    cohort = training_cohorts(features, labels, catalog_meta, tp, params.ladder)
    screen = screen_for_training(
        features,
        labels,
        catalog,
        params.ladder,
        (cohort == TRAIN).to_numpy(),
        tp,
        test_rows=(cohort == TEST).to_numpy(),
    )
    left_out = {r["feature"]: r["reason"] for r in screen if r["excluded"]}
    suspects = {r["feature"]: r["reason"] for r in screen if r.get("suspect")}
    for name, reason in {**left_out, **suspects}.items():
        log.warning("train: %s: %s", name, reason)
    fit = {
        "catalog": tuple(f for f in catalog if f.name not in left_out),
        "catalog_version": catalog_meta["version"],
        "ladder": params.ladder,
        "horizon_days": settings.horizon_days,
        "p": params.train,
    }
    result = train_models(
        features,
        labels,
        cohort=cohort,
        refit=is_flat(catalog_meta),
        # the timing of crossings needs dates: none on a flat export
        timing_ends=None if is_flat(catalog_meta) else _timing_ends(settings),
        **fit,
    )
    dormant = _recalibrate_dormant(project, result.model, catalog_meta)
    folds = cross_validate(features, labels, **fit) if is_flat(catalog_meta) else None
    models_dir = project.resolve(params.paths.models)
    output = Output(
        models_dir,
        "paths.models",
        ("readiness", "baselines", "run.json", "leakage_screen.json", CV_FILE),
    )
    seconds = round(time.perf_counter() - t0, 2)
    metrics = {
        f"train.{g}.{k}": float(v)
        for g, info in result.report.items()
        for k, v in info.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    metrics["train.seconds"] = seconds
    example = (
        # the "days since" features tell the logged model which rows are dormant
        features[
            result.model.features
            + ["ladder_stage"]
            + [c for c in SIGNS_OF_LIFE if c in features.columns]
        ]
        .loc[:, lambda d: ~d.columns.duplicated()]
        .head(50)
    )
    # the model folder is in place only once the model is saved, logged and registered: a failed
    # train leaves the previous model whole for evaluate and score
    with replacing("train", output) as (written,):
        write_json(written / "leakage_screen.json", screen)
        result.model.save(written / "readiness")
        save_baselines(written / "baselines", result.baselines)
        if folds is not None:  # a flat export: evaluate judges these out-of-fold predictions
            folds[0].to_parquet(written / CV_FILE, index=False)
        uri = registry.configure(project.root, params.train.mlflow.experiment)
        run_id, version = registry.log_training_run(
            params=project.as_flat_dict(),
            model_dir=written / "readiness",
            baselines_dir=written / "baselines",
            example=example,
            tags={
                "catalog_version": catalog_meta["version"],
                "label_settings": settings.to_json().replace("\n", " "),
                "git_commit": _git_commit(project.root),
                "params_hash": project.section_hash(),
                # the model is logged from a folder moved into place after logging
                "models_dir": str(models_dir),
                "evaluation_method": evaluation_method(folds is not None, params.train.cv_folds),
                **{
                    f"scorer.{g}": info["scorer_reason"]
                    for g, info in result.report.items()
                    if "scorer_reason" in info
                },
            },
            artifacts={
                "label_settings.json": settings.to_json(),
                "catalog.json": json.dumps(catalog_meta, indent=2),
                "data_sufficiency.csv": result.sufficiency.to_csv(index=False),
                "train_report.json": json.dumps(result.report, indent=2),
                "leakage_screen.json": json.dumps(screen, indent=2),
                **(
                    {"cross_validation_folds.json": json.dumps(folds[1], indent=2)}
                    if folds is not None
                    else {}
                ),
            },
            metrics=metrics,
            registered_model=params.train.mlflow.registered_model,
        )
        write_json(
            written / "run.json",
            {
                "run_id": run_id,
                "model_version": version,
                "registered_model": params.train.mlflow.registered_model,
            },
        )
    summary = {
        "run_id": run_id,
        "model_version": version,
        "tracking_uri": uri,
        "evaluation_method": evaluation_method(folds is not None, params.train.cv_folds),
        "gates": result.report,
        "warnings": result.warnings,
        "left_out_by_leakage_guard": {
            r["feature"]: r["reason"] for r in screen if "leakage" in r["excluded_for"]
        },
        "left_out_by_shift_screen": {
            r["feature"]: r["test_psi"] for r in screen if "shift" in r["excluded_for"]
        },
        "flagged_by_leakage_guard": [r["feature"] for r in screen if r["flagged"]],
        "suspected_by_leakage_guard": suspects,
        "dormant": dormant,
        "seconds": seconds,
    }
    out = project.resolve(params.paths.metrics)
    write_json(out / "train.json", {k: v for k, v in summary.items() if k != "tracking_uri"})
    return summary
