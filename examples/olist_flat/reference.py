"""The reference point of the Olist data read as a flat export, on exactly Readiness's folds.

The data's README reports a logistic regression on one-hot origin + landing page, 5-fold
cross-validated on the leads first contacted in 2018, label "won ever": ROC AUC 0.668. Here the
same regression is cross-validated on the same leads, labels and folds as Readiness's flat
evaluation (the folds are read from the train stage's out-of-fold predictions), so the two AUCs
are comparable; the published protocol (2018 leads, plain stratified folds) is measured too.

Inputs: the export's MQL and deals files (the mapping's source), data/raw/_keys/lead.parquet,
artifacts/models/cross_validation.parquet, artifacts/metrics/evaluate.json.
Output: artifacts/metrics/reference.json.
    python examples/olist_flat/reference.py      (the `reference` stage of its dvc.yaml)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from readiness.params import load_params

HERE = Path(__file__).resolve().parent
COLUMNS = ["origin", "landing_page_id"]


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

    # 1. on Readiness's own folds: every lead, won ever
    keys = pd.read_parquet(project.resolve(params.paths.raw) / "_keys" / "lead.parquet")
    cv = pd.read_parquet(project.resolve(params.paths.models) / "cross_validation.parquet")
    rows = (
        cv[["lead_id", "fold"]]
        .merge(keys, left_on="lead_id", right_on="our_id")
        .merge(mqls, left_on="their_id", right_on="mql_id")
    )
    oof = np.zeros(len(rows))
    for k in sorted(rows["fold"].unique()):
        test = (rows["fold"] == k).to_numpy()
        model = one_hot_lr().fit(rows.loc[~test, COLUMNS], rows.loc[~test, "won"])
        oof[test] = model.predict_proba(rows.loc[test, COLUMNS])[:, 1]
    same_folds = roc_auc_score(rows["won"], oof)

    # 2. as published: 2018 leads, plain stratified folds
    y18 = mqls[mqls["first_contact_date"] >= "2018-01-01"]
    published = cross_val_score(
        one_hot_lr(),
        y18[COLUMNS],
        y18["won"],
        cv=StratifiedKFold(5, shuffle=True, random_state=0),
        scoring="roc_auc",
    )
    evaluation = json.loads((project.resolve(params.paths.metrics) / "evaluate.json").read_text())
    gate = evaluation["gates"][params.ladder[-1]]
    out = {
        "evaluation_method": evaluation["evaluation_method"],
        "leads": len(rows),
        "won": int(rows["won"].sum()),
        "reference_lr_origin_landing_page_same_folds_auc": round(float(same_folds), 4),
        "readiness_model_auc": gate["model"].get("roc_auc"),
        "logistic_on_readiness_features_auc": gate.get("logistic", {}).get("roc_auc"),
        "logistic_on_your_columns_auc": gate.get("your_columns", {}).get("roc_auc"),
        "published_reference_cv_2018_leads": {
            "leads": len(y18),
            "won": int(y18["won"].sum()),
            "roc_auc_mean": round(float(published.mean()), 4),
            "roc_auc_std": round(float(published.std()), 4),
        },
    }
    path = project.resolve(params.paths.metrics) / "reference.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
