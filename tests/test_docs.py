"""The tables of measured figures in docs/*.md are the JSON that measured them (docs/figures.py),
so the docs cannot go stale: a changed result without regenerated docs fails here."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load_figures():
    spec = importlib.util.spec_from_file_location("docs_figures", ROOT / "docs" / "figures.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


figures = _load_figures()


def _copy_project(tmp: Path) -> Path:
    """The docs pages and every JSON their tables are made from, under `tmp`."""
    shutil.copytree(ROOT / "docs", tmp / "docs")
    for source in {s for t in figures.TABLES.values() for s in t.sources}:
        (tmp / source).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / source, tmp / source)
    return tmp


def test_docs_tables_match_their_json():
    problems = figures.check(ROOT)
    assert not problems, (
        "docs tables differ from their JSON; run `python docs/figures.py`:\n" + "\n".join(problems)
    )


def test_every_measured_table_is_generated():
    """No page carries a hand-typed copy of a generated table: every table is in markers."""
    pages = {p.name: p.read_text() for p in (ROOT / "docs").glob("*.md")}
    placed = {m["name"] for text in pages.values() for m in figures.BLOCK.finditer(text)}
    assert placed == set(figures.TABLES)


def test_the_check_sees_a_changed_number(tmp_path):
    """Control, on a copy: one figure of the evaluation changes and the check names its table."""
    root = _copy_project(tmp_path)
    assert figures.check(root) == []
    path = root / "artifacts" / "metrics" / "evaluate.json"
    evaluation = json.loads(path.read_text())
    evaluation["gates"]["closed_won"]["model"]["roc_auc"] -= 0.01
    path.write_text(json.dumps(evaluation))
    assert figures.check(root) == [
        "docs/models-and-evaluation.md: figures:evaluate differs from "
        "artifacts/metrics/evaluate.json, artifacts/metrics/train.json"
    ]
    # rewriting the tables makes the docs true again
    assert figures.update(root) != []
    assert figures.check(root) == []


def test_rewrite_check_and_missing_json_on_a_synthetic_table(tmp_path):
    """The whole cycle on a tiny synthetic table: write, check, a changed number, a missing file."""

    def render(result: dict) -> list[str]:
        return ["| leads | seconds |", "| --- | --- |", f"| {result['leads']:,} | {result['s']} |"]

    tables = {"tiny": figures.Table(("results/tiny.json",), "`python make_tiny.py`", render)}
    (tmp_path / "results").mkdir()
    (tmp_path / "docs").mkdir()
    data = tmp_path / "results" / "tiny.json"
    data.write_text(json.dumps({"leads": 1000, "s": 2.5}))
    page = tmp_path / "docs" / "page.md"
    page.write_text("# Page\n\n<!-- figures:tiny -->\nstale\n<!-- /figures -->\n\nafter\n")

    assert figures.check(tmp_path, tables) == [
        "docs/page.md: figures:tiny differs from results/tiny.json"
    ]
    figures.update(tmp_path, tables)
    text = page.read_text()
    assert "| 1,000 | 2.5 |" in text and "`results/tiny.json`" in text
    assert "`python make_tiny.py`" in text
    assert text.startswith("# Page\n\n") and text.endswith("<!-- /figures -->\n\nafter\n")
    assert figures.check(tmp_path, tables) == []

    data.write_text(json.dumps({"leads": 1001, "s": 2.5}))
    assert figures.check(tmp_path, tables) == [
        "docs/page.md: figures:tiny differs from results/tiny.json"
    ]
    data.write_text(json.dumps({"rows": 1000, "s": 2.5}))  # the JSON changed its shape
    (problem,) = figures.check(tmp_path, tables)
    assert "figures:tiny cannot be made from results/tiny.json (KeyError" in problem
    data.unlink()
    (problem,) = figures.check(tmp_path, tables)
    assert "results/tiny.json not found: run `python make_tiny.py`" in problem


def test_the_readme_first_run_mapping_imports_a_single_csv(tmp_path):
    """The README's walkthrough mapping, as printed, brings a one-file CSV in as a flat export."""
    import re

    import yaml

    from readiness.raw.mapping import import_export

    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<<'YAML'\n(.*?)\nYAML\n", readme, re.S)
    assert block, "the README's first-run mapping block is gone"
    mapping = yaml.safe_load(block.group(1))
    mapping["source"] = str(tmp_path)
    (tmp_path / "mapping.yaml").write_text(yaml.safe_dump(mapping))
    (tmp_path / "leads.csv").write_text(
        "id,company,industry,employees,converted\n"
        "a,acme,retail,120,1\nb,acme,retail,120,0\nc,bolt,saas,40,0\n"
    )
    report = import_export(tmp_path / "mapping.yaml", tmp_path / "raw")
    assert report["flat_as_of"] == "2025-03-01"
    assert report["tables"]["leads"]["rows"] == 3 and report["tables"]["accounts"]["rows"] == 2
    assert report["tables"]["milestones"]["rows"] == 1  # one converted lead
    assert report["tables"]["attributes"]["rows"] == 6
