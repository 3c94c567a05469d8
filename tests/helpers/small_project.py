"""A project folder on the small simulation: params.yaml with quick training settings."""

from __future__ import annotations

import yaml

from readiness.params import load_params


def write_params(folder, sim, extra: dict | None = None, **train_overrides) -> object:
    """params.yaml for the small simulation in folder; `extra` adds or replaces sections."""
    train = {"min_positives": 20, "lightgbm": {"n_estimators": 300, "early_stopping_rounds": 30}}
    train.update(train_overrides)
    text = {
        "simulate": {
            "n_leads": sim["params"].n_leads,
            "workers": 1,
            "chunk_leads": sim["params"].chunk_leads,
            "seed": sim["params"].seed,
        },
        "paths": {
            "raw": str(sim["raw"]),
            "ground_truth": str(sim["truth"]),
            "validated": str(sim["validated"]),
        },
        # the train.* cohort dates are left null: chosen from this calendar, they are the
        # project's params.yaml dates (the same simulated years)
        "features": {"first_cutoff": "2023-07-03"},
        "train": train,
        # the small simulation's validation rows are too few to show the belief counts' signal
        # beyond noise: its routing tests name beliefs as a larger run does
        "score": {"routing": {"belief_evidence": False}},
        "evaluate": {
            "ground_truth_rollouts": 48,
            "ground_truth_positives": 150,
            "ground_truth_negatives": 250,
        },
    }
    text.update(extra or {})
    (folder / "params.yaml").write_text(yaml.safe_dump(text))
    return load_params(folder / "params.yaml")
