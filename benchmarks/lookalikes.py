"""Readiness on two synthetic flat exports against the logistic regression a data scientist would
write first, on the same leads and exactly Readiness's cross-validation folds.

The exports are synthetic look-alikes, generated (seeded) by benchmarks/lookalikes/synth.py:
`xedu`, 9,000 leads shaped like the public "X Education lead scoring" file, and `bank`, 30,000
contacts shaped like UCI "bank-additional-full" (semicolon separated, no id column). They are not
the real exports, which are kept apart for acceptance and are not measured here. Their conversion
is drawn from a known model, so the true probabilities give the ceiling (the oracle AUC).

Per export, on a clean folder: `readiness import ingest features labels train evaluate` with
benchmarks/lookalikes/<export>/params.yaml, then the reference on Readiness's folds: numeric
columns median-imputed and standardised, the others most-frequent-imputed and one-hot encoded,
LogisticRegression(max_iter=2000), on the mapping's attributes except those known only at export
(xedu's Tags, bank's duration). Before fitting, the export's rows are matched to Readiness's lead
ids and checked against its labels and raw attribute values. Reported: the reference AUC (per fold
too, and on plain stratified folds as a sanity check), Readiness's model, logistic and
your-columns AUCs, model - reference with its DeLong 95 % interval, diagnostic variants of the
reference (with Readiness's signed log1p terms and unknown flags, with a blank category as its own
level, both), the oracle AUC, the scorer each fold chose and each stage's wall seconds.

    python benchmarks/lookalikes.py [xedu] [bank]      # both by default

Writes benchmarks/results/lookalikes.json (an export run alone replaces only its own entry). The
generated exports, every stage output, the logs and the MLflow store go under
benchmarks/work/lookalikes/<export>/.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from _measure import machine, run_logged, run_stages
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from models.bundle import probability_column
from models.crossval import CV_FILE
from models.evaluate import auc_difference
from models.labels import label_column
from readiness.params import ProjectParams, load_params
from readiness.raw.attributes import TABLE as ATTRIBUTES
from readiness.raw.attributes import AttributesSchema

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "benchmarks" / "lookalikes"
WORK = ROOT / "benchmarks" / "work" / "lookalikes"
OUT = ROOT / "benchmarks" / "results" / "lookalikes.json"
EXPORTS = ("xedu", "bank")
STAGES = ("import", "ingest", "features", "labels", "train", "evaluate")


def _reference_model(
    numeric: list[str], categorical: list[str], *, blank_category: bool = False
) -> Pipeline:
    """The reference; `blank_category` (a diagnostic, not the reference) keeps a blank
    categorical cell as its own category instead of imputing the most frequent value."""
    fill = (
        SimpleImputer(strategy="constant", fill_value="(blank)")
        if blank_category
        else SimpleImputer(strategy="most_frequent")
    )
    columns = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            ("cat", make_pipeline(fill, OneHotEncoder(handle_unknown="ignore")), categorical),
        ]
    )
    return make_pipeline(columns, LogisticRegression(max_iter=2000))


def _out_of_fold(
    X: pd.DataFrame, y: np.ndarray, folds: np.ndarray, make_model: Callable[[], Pipeline]
) -> np.ndarray:
    """Each row's probability from the model fitted on the other folds."""
    p = np.zeros(len(y))
    for k in np.unique(folds):
        test = folds == k
        p[test] = make_model().fit(X[~test], y[~test]).predict_proba(X[test])[:, 1]
    return p


def _auc_per_fold(y: np.ndarray, p: np.ndarray, folds: np.ndarray) -> dict[int, float]:
    return {
        int(k): round(float(roc_auc_score(y[folds == k], p[folds == k])), 4)
        for k in np.unique(folds)
    }


def _delong(y: np.ndarray, p_a: np.ndarray, p_b: np.ndarray) -> dict[str, float]:
    return {k: round(v, 4) for k, v in auc_difference(y, p_a, p_b).items()}


def _read_export(project: ProjectParams, mapping: dict) -> tuple[pd.DataFrame, Path]:
    """The leads' file as the import reads it (readiness/raw/mapping.py): every cell as text,
    only an empty cell missing."""
    source = project.resolve(project.params.importer.source)
    path = source / mapping["files"][mapping["tables"]["leads"]["from"]]
    options = mapping.get("read_options", {})
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], **options), path


def _lead_ids(project: ProjectParams, frame: pd.DataFrame, rule: dict) -> pd.Series:
    """Readiness's lead id of every row of the export: a `row_number` id is the row's 1-based
    place in the file; a `key` id goes through the import's key table (their id -> ours)."""
    if rule.get("row_number"):
        return pd.Series(np.arange(1, len(frame) + 1), index=frame.index)
    keys = project.resolve(project.params.paths.raw) / "_keys" / f"{rule['key']}.parquet"
    table = pd.read_parquet(keys)
    ours = dict(zip(table["their_id"].astype(str), table["our_id"].astype(int), strict=True))
    return frame[rule["column"]].astype(str).map(ours)


def _check_attributes(project: ProjectParams, mapping: dict, by_lead: pd.DataFrame) -> None:
    """Every attribute's export values are Readiness's raw values of the same lead ids (up to the
    case and spacing the import merges: "google" -> "Google")."""
    table = pd.read_parquet(project.resolve(project.params.paths.raw) / f"{ATTRIBUTES}.parquet")

    def norm(values: pd.Series) -> np.ndarray:
        return values.str.casefold().str.replace(r"\s+", " ", regex=True).str.strip().to_numpy()

    wrong = {}
    for name, spec in mapping["attributes"].items():
        raw = table[table[AttributesSchema.attribute] == name]
        raw = raw.set_index(AttributesSchema.entity_id)[AttributesSchema.value].astype(str)
        raw.index = raw.index.astype("int64")
        mine = by_lead[spec["column"]].dropna().astype(str)
        both = mine.index.intersection(raw.index)
        if len(both) < 0.5 * len(mine):
            raise SystemExit(f"attribute {name}: only {len(both)} of {len(mine)} values in raw")
        if n := int((norm(mine.loc[both]) != norm(raw.loc[both])).sum()):
            wrong[name] = n
    if wrong:
        raise SystemExit(f"export rows are matched to the wrong leads: mismatched values {wrong}")


def _with_readiness_terms(X: pd.DataFrame, numeric: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """The reference's columns plus what Readiness's logistic design adds
    (models/bundle.py::LogisticBaseline): a signed log1p term beside each numeric column, and an
    unknown flag for a numeric column blank on some rows. Returns the frame and its numerics."""
    X = X.copy()
    columns = list(numeric)
    for c in numeric:
        X[f"log1p {c}"] = np.sign(X[c]) * np.log1p(X[c].abs())
        columns.append(f"log1p {c}")
        if 0 < X[c].isna().sum() < len(X):
            X[f"unknown {c}"] = X[c].isna().astype(float)
            columns.append(f"unknown {c}")
    return X, columns


def _matched_rows(
    project: ProjectParams, mapping: dict, gate: str
) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    """Readiness's out-of-fold rows, each with its row of the export (`row`) and the outcome the
    mapping reads there (`y`); the export and its path. Stops unless every export row is one
    cross-validated lead with Readiness's label and raw attribute values."""
    frame, path = _read_export(project, mapping)
    ids = _lead_ids(project, frame, mapping["tables"]["leads"]["columns"]["lead_id"])
    if ids.isna().any() or ids.duplicated().any():
        raise SystemExit(f"{path}: the export's rows do not map one-to-one onto lead ids")
    milestone = mapping["tables"]["milestones"]["columns"]["milestone"]
    converted = frame[milestone["column"]].map(milestone["values"]).eq(gate).astype(int)
    index = pd.DataFrame({"lead_id": ids.astype("int64"), "y": converted, "row": frame.index})
    models = project.resolve(project.params.paths.models)
    rows = pd.read_parquet(models / CV_FILE).merge(index, on="lead_id", how="left")
    if rows["row"].isna().any() or len(rows) != len(frame):
        raise SystemExit(
            f"{path}: {rows['row'].isna().sum()} cross-validated leads not in the export, "
            f"{len(frame) - rows['row'].notna().sum()} export rows not cross-validated"
        )
    labels = pd.read_parquet(project.resolve(project.params.paths.labels) / "labels.parquet")
    theirs = rows[["lead_id"]].merge(labels, on="lead_id", how="left")[label_column(gate)]
    if mismatched := int((rows["y"] != theirs.astype(float)).sum()):
        raise SystemExit(f"{path}: {mismatched} leads' outcome differs from Readiness's labels")
    _check_attributes(project, mapping, frame.set_index(ids.astype("int64")))
    return rows.astype({"row": int}), frame, path


def _reference_columns(
    mapping: dict, frame: pd.DataFrame
) -> tuple[pd.DataFrame, list[str], list[str], list[str]]:
    """The mapping's attributes as the reference reads them: the numeric ones parsed, the
    categorical and boolean ones as text (a blank missing); their names, and the attributes left
    out (known only at export)."""
    numeric, categorical, left_out = [], [], []
    for attribute, spec in mapping["attributes"].items():
        if spec["known"] == "at_export":
            left_out.append(attribute)
        else:
            (numeric if spec["type"] == "numeric" else categorical).append(spec["column"])
    X = pd.DataFrame(
        {c: pd.to_numeric(frame[c].str.strip()) for c in numeric}
        | {c: frame[c].astype(object).where(frame[c].notna(), np.nan) for c in categorical}
    )
    return X, numeric, categorical, left_out


def compare(project: ProjectParams, stage_seconds: dict[str, float]) -> dict:
    """Readiness's figures on the export next to the reference's on the same folds."""
    gate = project.params.ladder[-1]
    mapping = yaml.safe_load(project.resolve(project.params.importer.mapping).read_text())
    rows, frame, path = _matched_rows(project, mapping, gate)
    X, numeric, categorical, left_out = _reference_columns(mapping, frame)
    X = X.loc[rows["row"].to_numpy()].reset_index(drop=True)
    y = rows["y"].to_numpy()
    folds = rows["fold"].to_numpy()
    model = rows[f"model.{probability_column(gate)}"].to_numpy()

    reference = _out_of_fold(X, y, folds, partial(_reference_model, numeric, categorical))
    plain = np.zeros(len(y), dtype=int)  # the same regression on plain stratified folds
    for k, (_, test) in enumerate(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y)):
        plain[test] = k
    on_plain = _out_of_fold(X, y, plain, partial(_reference_model, numeric, categorical))
    X_terms, numeric_terms = _with_readiness_terms(X, numeric)
    diagnostics = {}
    for variant, data, num, blank in (
        ("reference_plus_log1p_and_unknown_flags", X_terms, numeric_terms, False),
        ("reference_blank_categorical_as_own_category", X, numeric, True),
        ("both", X_terms, numeric_terms, True),
    ):
        p = _out_of_fold(
            data, y, folds, partial(_reference_model, num, categorical, blank_category=blank)
        )
        diagnostics[variant] = {
            "auc": round(float(roc_auc_score(y, p)), 4),
            "model_minus_this": _delong(y, model, p),
        }
    truth = pd.read_csv(path.parent / "_truth.csv")["p_true"].to_numpy()  # written by synth.py

    metrics = project.resolve(project.params.paths.metrics)
    evaluation = json.loads((metrics / "evaluate.json").read_text())
    train = json.loads((metrics / "train.json").read_text())
    scores, shipped = evaluation["gates"][gate], train["gates"][gate]
    return {
        "export": str(path.relative_to(ROOT)),
        "evaluation_method": evaluation["evaluation_method"],
        "leads": len(rows),
        "positives": int(y.sum()),
        "folds": len(np.unique(folds)),
        "reference_columns": {"numeric": numeric, "categorical_or_boolean": categorical},
        "declared_at_export_left_out": left_out,
        "readiness_left_out_by_leakage_guard": sorted(train["left_out_by_leakage_guard"]),
        "reference_auc_same_folds": round(float(roc_auc_score(y, reference)), 4),
        "reference_auc_per_fold": _auc_per_fold(y, reference, folds),
        "reference_auc_plain_stratified_5fold": round(float(roc_auc_score(y, on_plain)), 4),
        "readiness_model_auc": scores["model"]["roc_auc"],
        "readiness_model_auc_per_fold": _auc_per_fold(y, model, folds),
        "readiness_model_ece": scores["model"]["ece"],
        "readiness_logistic_auc": scores["logistic"]["roc_auc"],
        "readiness_your_columns_auc": scores["your_columns"]["roc_auc"],
        "readiness_model_minus_baselines": evaluation["model_minus_baseline_auc"][gate],
        "model_minus_reference": _delong(y, model, reference),
        "diagnostic_variants_of_reference_same_folds": diagnostics,
        "oracle_auc_true_probabilities": round(
            float(roc_auc_score(y, truth[rows["row"].to_numpy()])), 4
        ),
        "scorer_shipped_model": shipped["scorer"],
        "scorer_reason_shipped_model": shipped["scorer_reason"],
        "scorer_per_fold": _fold_scorers(train["run_id"], gate),
        "stage_seconds": stage_seconds,
        "machine": machine(),
        "command": " ".join(["python benchmarks/lookalikes.py", *sys.argv[1:]]),
    }


def _fold_scorers(run_id: str, gate: str) -> list[dict]:
    """The scorer each cross-validation fold chose, from the train run's MLflow artifact."""
    from mlflow.artifacts import load_text  # after readiness (see _measure.track_mlflow_in)

    folds = json.loads(load_text(f"runs:/{run_id}/training/cross_validation_folds.json"))
    return [
        {
            "fold": f["fold"],
            "scorer": f["gates"][gate]["scorer"],
            "reason": f["gates"][gate]["scorer_reason"],
        }
        for f in folds
    ]


def _summary(name: str, r: dict) -> str:
    d = r["model_minus_reference"]
    lines = [
        f"{name}: {r['leads']:,} leads, {r['positives']:,} positives; reference "
        f"{r['reference_auc_same_folds']:.4f}, Readiness model {r['readiness_model_auc']:.4f} "
        f"(logistic {r['readiness_logistic_auc']:.4f}, your columns "
        f"{r['readiness_your_columns_auc']:.4f}, oracle {r['oracle_auc_true_probabilities']:.4f})",
        f"  model - reference {d['difference']:+.4f} (DeLong 95 % [{d['low']:+.4f}, "
        f"{d['high']:+.4f}]); fold scorers {[f['scorer'] for f in r['scorer_per_fold']]}",
    ]
    for variant, v in r["diagnostic_variants_of_reference_same_folds"].items():
        dd = v["model_minus_this"]
        lines.append(
            f"  diagnostic {variant}: AUC {v['auc']:.4f}, model - it {dd['difference']:+.4f} "
            f"[{dd['low']:+.4f}, {dd['high']:+.4f}]"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("exports", nargs="*", metavar="export", help="xedu, bank (default: both)")
    args = ap.parse_args()
    if unknown := sorted(set(args.exports) - set(EXPORTS)):
        ap.error(f"unknown export(s) {unknown}: choose from {', '.join(EXPORTS)}")
    names = [n for n in EXPORTS if n in args.exports] or list(EXPORTS)
    for name in names:  # a clean run: nothing left over from an earlier one
        shutil.rmtree(WORK / name, ignore_errors=True)
    # one call writes both exports (one seeded stream: bank's rows follow xedu's draw)
    run_logged(
        [sys.executable, str(HERE / "synth.py"), "--out", str(WORK)],
        log=WORK / "synth.log",
        cwd=WORK,
    )
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    for name in names:
        project = load_params(HERE / name / "params.yaml")
        results[name] = compare(project, run_stages(project, STAGES, work=WORK / name, label=name))
        OUT.write_text(
            json.dumps({n: results[n] for n in EXPORTS if n in results}, indent=2) + "\n"
        )
        print(_summary(name, results[name]), flush=True)
    print(f"written {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
