"""The training frame: features and labels of the training snapshots, aligned row by row and
checked to come from the same feature catalogue and ladder (read by train, evaluate and the
training benchmark)."""

from __future__ import annotations

import json

import pandas as pd

from models.labels import LabelSettings
from readiness.errors import ReadinessError
from readiness.params import ProjectParams


def load_training_frame(
    project: ProjectParams,
) -> tuple[pd.DataFrame, pd.DataFrame, LabelSettings, dict]:
    """Features and labels of the training snapshots, aligned row by row."""
    params = project.params
    features_dir = project.resolve(params.paths.features)
    labels_dir = project.resolve(params.paths.labels)
    if not (labels_dir / "labels.parquet").exists():
        raise ReadinessError(
            f"{labels_dir / 'labels.parquet'} not found: run `readiness labels` first."
        )
    catalog_meta = json.loads((features_dir / "catalog.json").read_text())
    settings = LabelSettings.from_json((labels_dir / "settings.json").read_text())
    if settings.catalog_version != catalog_meta["version"] or settings.ladder != params.ladder:
        raise ReadinessError(
            "Labels were made from other features or another ladder: run `readiness labels` again."
        )
    features = (
        pd.read_parquet(features_dir / "training")
        .sort_values(["lead_id", "cutoff"])
        .reset_index(drop=True)
    )
    labels = (
        pd.read_parquet(labels_dir / "labels.parquet")
        .sort_values(["lead_id", "cutoff"])
        .reset_index(drop=True)
    )
    if len(features) != len(labels) or not features[["lead_id", "cutoff"]].equals(
        labels[["lead_id", "cutoff"]]
    ):
        raise ReadinessError(
            "Features and labels do not cover the same snapshots: run `readiness labels` again."
        )
    return features, labels, settings, catalog_meta
