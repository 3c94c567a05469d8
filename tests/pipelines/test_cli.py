"""The `readiness` command: stages run from params.yaml; user errors are one paragraph, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd


def readiness(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def test_help_lists_the_stages_in_plain_words():
    out = readiness("--help")
    assert out.returncode == 0
    for stage in ("simulate", "ingest", "truth"):
        assert stage in out.stdout
    assert "buying threshold" in out.stdout


def test_simulate_ingest_features_from_a_params_file(project_dir):
    params = str(project_dir / "params.yaml")
    sim = readiness("simulate", "--params", params)
    assert sim.returncode == 0, sim.stderr
    assert "simulate: 800 leads" in sim.stdout
    assert "lead_to_mql" in sim.stdout  # the realism figures are printed
    assert (project_dir / "data" / "raw" / "leads.parquet").exists()
    figures = json.loads((project_dir / "artifacts" / "metrics" / "simulate.json").read_text())
    assert figures["rows"]["leads"] == 800

    ing = readiness("ingest", "--params", params)
    assert ing.returncode == 0, ing.stderr
    assert "reconciled" in ing.stdout
    report = json.loads((project_dir / "artifacts" / "metrics" / "ingest.json").read_text())
    assert report["reconciled"] and report["totals"]["quarantined"] == 0
    assert len(pd.read_parquet(project_dir / "data" / "validated" / "leads")) == 800
    assert (
        "content coverage:" in ing.stdout
        and "of consumed events are on belief-tagged" in ing.stdout
    )

    listed = readiness("assets", "--params", params, "--limit", "5")
    assert listed.returncode == 0, listed.stderr
    rows = [ln.split() for ln in listed.stdout.splitlines()[3:8]]
    events = [int(r[1].replace(",", "")) for r in rows]
    assert len(rows) == 5 and events == sorted(events, reverse=True) and events[0] > 0
    # --untagged: only general assets, and the count agrees with the validated table
    assets = pd.read_parquet(project_dir / "data" / "validated" / "assets")
    untagged = readiness("assets", "--params", params, "--untagged", "--limit", "1000")
    assert untagged.returncode == 0, untagged.stderr
    n_general = int((assets["belief_stage"] == "general").sum())
    assert untagged.stdout.startswith(f"{n_general:,} untagged assets of {len(assets):,}")
    assert all(ln.split()[3] == "general" for ln in untagged.stdout.splitlines()[3:] if ln.strip())

    feats = readiness("features", "--params", params)
    assert feats.returncode == 0, feats.stderr
    assert "99 features; training" in feats.stdout  # 95 built-in + 4 CRM attributes
    summary = json.loads((project_dir / "artifacts" / "metrics" / "features.json").read_text())
    assert summary["training"]["snapshots"] == len(
        pd.read_parquet(project_dir / "data" / "features" / "training")
    )
    scoring_only = readiness("features", "--params", params, "--only", "scoring")
    assert scoring_only.returncode == 0 and "training" not in scoring_only.stdout.split(";", 1)[1]
    bad = readiness("features", "--params", params, "--only", "everything")
    assert bad.returncode == 2 and "--only takes" in bad.stderr


def test_a_missing_source_is_one_paragraph_not_a_traceback(project_dir, tmp_path):
    out = readiness(
        "ingest",
        "--params",
        str(project_dir / "params.yaml"),
        "--source",
        str(tmp_path / "nowhere"),
    )
    assert out.returncode == 2
    assert out.stderr.startswith("error: Raw table 'accounts' not found")
    assert "Traceback" not in out.stderr


def test_a_wrong_param_names_the_key(tmp_path):
    (tmp_path / "params.yaml").write_text("simulate:\n  n_leads: many\n")
    out = readiness("simulate", "--params", str(tmp_path / "params.yaml"))
    assert out.returncode == 2
    assert "simulate.n_leads" in out.stderr and "Traceback" not in out.stderr


def test_an_unknown_milestone_on_the_ladder_is_refused(tmp_path):
    (tmp_path / "params.yaml").write_text("ladder: [mql, signed_contract]\n")
    out = readiness("ingest", "--params", str(tmp_path / "params.yaml"))
    assert out.returncode == 2
    assert "signed_contract" in out.stderr


def test_truth_prints_true_probabilities(project_dir):
    params = str(project_dir / "params.yaml")
    assert readiness("simulate", "--params", params).returncode == 0
    out = readiness(
        "truth",
        "--params",
        params,
        "--lead",
        "3",
        "--lead",
        "4",
        "--cutoff",
        "2025-01-06",
        "--rollouts",
        "32",
    )
    assert out.returncode == 0, out.stderr
    assert "p_closed_won" in out.stdout
    bad = readiness("truth", "--params", params, "--lead", "3", "--cutoff", "soon")
    assert bad.returncode == 2 and "not a date" in bad.stderr
    # without --lead it is the stage; a cutoff alone says what it lacks
    lone = readiness("truth", "--params", params, "--cutoff", "2025-01-06")
    assert lone.returncode == 2 and "--cutoff need(s) --lead" in lone.stderr


def test_features_list_prints_the_catalogue(project_dir):
    from features.catalog import build_catalog

    out = readiness("features", "--list", "--params", str(project_dir / "params.yaml"))
    assert out.returncode == 0, out.stderr
    for f in build_catalog((7, 30, 90)):
        assert f.name in out.stdout
    assert (
        "Stakeholder assets (finance, technical, executive) consumed by anyone at the account in the last 30 days"
        in out.stdout
    )
    assert "catalogue version" in out.stdout
