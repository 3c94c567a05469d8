"""The reference point of the Olist data, measured two ways, next to Readiness's own evaluation.

1. As published with the data: logistic regression on one-hot origin + landing page, 5-fold
   cross-validation on the leads first contacted in 2018, label "won ever" (ROC AUC 0.668 in the
   data's README). Not a time split: folds mix leads of the same weeks.
2. The same logistic regression on Readiness's time split: trained on the training cohort's
   snapshots, scored on the test cohort's, with the same labels (win within the horizon) that the
   gate model and its baselines are evaluated on (artifacts/metrics/evaluate.json).

Inputs: the export's MQL file (the mapping's source), data/raw/_keys/lead.parquet (their ids to
ours), data/features/training and data/labels. Output: artifacts/metrics/reference.json.
    python examples/olist/reference.py      (the `reference` stage of examples/olist/dvc.yaml)
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from readiness.params import load_params

HERE = Path(__file__).resolve().parent


def one_hot_lr():
    return make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression(max_iter=2000))


def main() -> None:
    project = load_params(HERE / "params.yaml")
    params = project.params
    mapping = yaml.safe_load((HERE / "mapping.yaml").read_text())
    source = (HERE / mapping["source"]).resolve()
    mqls = pd.read_csv(source / mapping["files"]["mqls"], dtype=str, keep_default_na=False)
    deals = pd.read_csv(source / mapping["files"]["deals"], dtype=str)
    mqls["won"] = mqls["mql_id"].isin(deals["mql_id"]).astype(int)
    cols = ["origin", "landing_page_id"]

    # 1. as published: 5-fold CV on 2018 leads, won ever
    y18 = mqls[mqls["first_contact_date"] >= "2018-01-01"]
    cv = cross_val_score(
        one_hot_lr(),
        y18[cols],
        y18["won"],
        cv=StratifiedKFold(5, shuffle=True, random_state=0),
        scoring="roc_auc",
    )

    # 2. on Readiness's time split, same snapshots and labels as the gate model
    keys = pd.read_parquet(project.resolve(params.paths.raw) / "_keys" / "lead.parquet")
    per_lead = mqls.merge(keys, left_on="mql_id", right_on="their_id")[["our_id", *cols]]
    features = pd.read_parquet(
        project.resolve(params.paths.features) / "training", columns=["lead_id", "cutoff"]
    )
    labels = pd.read_parquet(project.resolve(params.paths.labels) / "labels.parquet")
    gate = params.ladder[-1]
    df = features.merge(labels[["lead_id", "cutoff", f"y_{gate}"]], on=["lead_id", "cutoff"])
    df = df[df[f"y_{gate}"].notna()].merge(per_lead, left_on="lead_id", right_on="our_id")
    t = params.train
    train = df[
        (df["cutoff"] >= pd.Timestamp(t.train_start)) & (df["cutoff"] <= pd.Timestamp(t.train_end))
    ]
    test = df[
        (df["cutoff"] >= pd.Timestamp(t.test_start)) & (df["cutoff"] <= pd.Timestamp(t.test_end))
    ]
    model = one_hot_lr().fit(train[cols], train[f"y_{gate}"].astype(int))
    auc = roc_auc_score(test[f"y_{gate}"].astype(int), model.predict_proba(test[cols])[:, 1])

    evaluation = json.loads((project.resolve(params.paths.metrics) / "evaluate.json").read_text())[
        "gates"
    ][gate]
    out = {
        "published_reference_cv_2018_leads": {
            "leads": len(y18),
            "won": int(y18["won"].sum()),
            "roc_auc_mean": round(float(cv.mean()), 4),
            "roc_auc_std": round(float(cv.std()), 4),
        },
        "time_split": {
            "gate": gate,
            "horizon_days": params.labels.horizon_days,
            "train_snapshots": len(train),
            "train_positives": int(train[f"y_{gate}"].sum()),
            "test_snapshots": len(test),
            "test_positives": int(test[f"y_{gate}"].sum()),
            "reference_lr_origin_landing_page_auc": round(float(auc), 4),
            "readiness_model_auc": evaluation["model"].get("roc_auc"),
            "logistic_on_readiness_features_auc": evaluation.get("logistic", {}).get("roc_auc"),
            "points_score_auc": evaluation.get("points", {}).get("roc_auc"),
        },
    }
    path = project.resolve(params.paths.metrics) / "reference.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
