"""The real Olist export through every stage with the shipped example project (skipped with the
reason when ../shared is absent): import, ingest, features, labels, train, evaluate, score, report."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from readiness.params import load_params

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "olist"
OLIST = ROOT.parent / "shared" / "data" / "olist_marketing_funnel"


@pytest.mark.skipif(
    not OLIST.exists(), reason=f"the real Olist export is not at {OLIST} (it lives in ../shared)"
)
def test_the_olist_project_runs_end_to_end_on_what_the_export_has(tmp_path, monkeypatch):
    from pipelines.evaluate import stage as evaluate
    from pipelines.features import stage as features
    from pipelines.importer import stage as importer
    from pipelines.ingest import stage as ingest
    from pipelines.labels import stage as labels
    from pipelines.report import stage as report
    from pipelines.score import stage as score
    from pipelines.train import stage as train

    shutil.copy(EXAMPLE / "mapping.yaml", tmp_path / "mapping.yaml")
    params = yaml.safe_load((EXAMPLE / "params.yaml").read_text())
    params["import"]["source"] = str(OLIST)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    project = load_params(tmp_path / "params.yaml")

    imp = importer.run(project)
    assert imp["absent_tables"] == ["sales_touches"]
    ing = ingest.run(project)
    assert ing["reconciled"] and ing["totals"]["quarantined"] == 1
    feats = features.run(project)
    assert {"urgency", "category", "capability", "alignment", "intent"} <= set(
        feats["unavailable_families"]
    )
    labels.run(project)
    tr = train.run(project)
    assert tr["gates"]["closed_won"]["trained"] and not tr["gates"]["mql"]["trained"]
    ev = evaluate.run(project)
    auc = ev["metrics"]["closed_won"]["model"]["roc_auc"]
    assert 0.5 <= auc <= 1.0
    sc = score.run(project)
    assert sc["run"]["leads"] > 7000
    rep = report.run(project)
    assert any("'urgency' is unavailable" in n for n in rep["notes"])
    assert any("no sales_touches" in n for n in rep["notes"])
