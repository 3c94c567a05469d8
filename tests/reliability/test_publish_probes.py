"""Publishing under hostile input: only the tables the run id names are published, run ids are
names and never paths, exports are complete or absent and safe to open in a spreadsheet,
databases and tracking servers that fail are one paragraph without their passwords."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from score_frames import LADDER, make_scores

from pipelines.publish import stage
from pipelines.publish.export import export_run, verify_export
from pipelines.publish.store import make_engine, publish_run
from readiness.errors import ReadinessError
from readiness.params import load_params
from readiness.scores import ScoreContractError, content_hash, validate_scores

SECRET = "hunter2secret"


def publish(project: dict) -> dict:
    return stage.run(load_params(project["params"]))


def test_a_clean_run_publishes_and_its_export_verifies(publish_project):
    project = publish_project()
    summary = publish(project)
    assert summary["action"] == "published" and summary["lead_rows"] == 40
    run = verify_export(project["exports"] / project["run"]["run_id"])
    assert run["rows"] == {"leads": 40, "accounts": 20, "handoffs": 6}


def test_an_edited_accounts_table_is_not_published(publish_project):
    """Issue 12 item 7: only the leads table's content was checked against the run id."""
    project = publish_project()
    accounts = project["accounts"].copy()
    accounts.loc[0, "p_max_qualified_conversation"] = 0.999  # same rows, one value changed
    accounts.to_parquet(project["scores"] / "accounts.parquet", index=False)
    with pytest.raises(ReadinessError, match="the accounts table is not the table run"):
        publish(project)
    assert (
        not project["db"].exists()
        or "readiness_runs"
        not in sa.inspect(sa.create_engine(f"sqlite:///{project['db']}")).get_table_names()
    )


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("scored_at", "2026-02-01T00:00:00", "are not those of run id"),
        ("model_version", "7", "are not those of run id"),
        ("leads", 39, "run.json counts"),
        ("run_id", None, "not a valid run id"),
    ],
)
def test_a_run_json_that_does_not_match_its_tables_is_refused(
    publish_project, field, value, fragment
):
    project = publish_project()
    run = {**project["run"], field: value}
    (project["scores"] / "run.json").write_text(json.dumps(run))
    with pytest.raises(ReadinessError, match=fragment):
        publish(project)


@pytest.mark.parametrize(
    "run_id",
    ["../../../escape", "/tmp/escape", "a/../../b", "..", "run id with spaces", "x" * 81, ""],
)
def test_a_run_id_that_is_not_a_safe_name_is_never_used_as_a_path(publish_project, run_id):
    """Issue 12 item 12: a run id read from run.json was a path (../../../tmp/x wrote outside)."""
    project = publish_project()
    tail = f"{content_hash(project['leads'])}{content_hash(project['accounts'])[:4]}"
    bad = f"{run_id}-{tail}" if run_id else ""
    (project["scores"] / "run.json").write_text(json.dumps({**project["run"], "run_id": bad}))
    before = {p for p in project["params"].parent.parent.rglob("*")}
    with pytest.raises(ReadinessError, match="is not a valid run id"):
        publish(project)
    with pytest.raises(ReadinessError, match="is not a valid run id"):
        export_run(project["exports"], {"run_id": bad}, project["leads"], project["accounts"])
    assert {p for p in project["params"].parent.parent.rglob("*")} == before


def test_rollback_to_a_run_id_that_is_not_a_name_is_refused(publish_project):
    project = publish_project()
    with pytest.raises(ReadinessError, match="--rollback: run id '../x' is not a valid run id"):
        stage.rollback(load_params(project["params"]), "../x")


@pytest.mark.parametrize(
    "column, value",
    [
        ("expected_revenue", np.inf),
        ("p_next_gate", np.nan),
        ("p_closed_won", np.inf),
    ],
)
def test_the_score_contract_rejects_non_finite_numbers(column, value):
    """Issue 12 item 5, downstream: an inf expected revenue passed the contract and was published."""
    _, leads, _ = make_scores(12)
    leads[column] = leads[column].astype(float)
    leads.loc[3, column] = value
    with pytest.raises(ScoreContractError, match=rf"on column {column}"):
        validate_scores(leads, LADDER, 3, leads["lead_id"])


def test_an_unknown_expected_revenue_is_missing_not_zero():
    """No won deal to size by: expected revenue is missing (unknown), which the contract accepts;
    an infinity never is."""
    _, leads, _ = make_scores(12)
    leads["expected_revenue"] = np.nan
    validate_scores(leads, LADDER, 3, leads["lead_id"])


def test_a_runs_table_of_the_first_layout_gains_the_status_columns(publish_project):
    """A database published before runs carried a status is migrated, not refused."""
    import sqlalchemy as sa

    project = publish_project()
    db = project["params"].parent / "data" / "warehouse" / "readiness.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE readiness_runs (run_id VARCHAR(80) PRIMARY KEY, scored_at DATETIME "
            "NOT NULL, as_of VARCHAR(10) NOT NULL, model_name TEXT NOT NULL, model_version TEXT "
            "NOT NULL, catalog_version TEXT NOT NULL, params_hash TEXT NOT NULL, lead_rows "
            "BIGINT NOT NULL, account_rows BIGINT NOT NULL, published_at DATETIME NOT NULL)"
        )
    engine.dispose()
    summary = publish(project)
    runs, _ = stage.runs(load_params(project["params"]))
    assert runs.loc[runs["run_id"] == summary["run_id"], "status"].item() == "final"


def test_an_infinite_number_in_the_accounts_table_is_not_published(publish_project, tmp_path):
    project = publish_project()
    accounts = project["accounts"].copy()
    accounts.loc[0, "p_max_qualified_conversation"] = np.inf
    # a run id made for this table: only the infinity is wrong
    run = {
        **project["run"],
        "run_id": f"20260101-v1-{content_hash(project['leads'])}{content_hash(accounts)[:4]}",
    }
    accounts.to_parquet(project["scores"] / "accounts.parquet", index=False)
    (project["scores"] / "run.json").write_text(json.dumps(run))
    with pytest.raises(ReadinessError, match="accounts.parquet holds an infinite number"):
        publish(project)


def _cells(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as f:
        return [cell for row in csv.reader(f) for cell in row]


def test_csv_exports_neutralise_formulas_and_parquet_keeps_the_values(tmp_path):
    """Issue 12 item 10: an asset title =HYPERLINK(...) landed as-is in leads.csv."""
    run, leads, accounts = make_scores(14)
    hostile = {
        "next_asset": '=HYPERLINK("http://evil.example","click")',
        "opener": "+1 call me",
        "owner": "@SUM(A1:A9)",
        "trigger": "-2+3",
        "problem_hypothesis": "\tcmd",
    }
    sales = leads.index[leads["route"] == "sales_now"][0]
    for column, value in hostile.items():
        leads[column] = leads[column].astype(object)
        leads.loc[sales, column] = value
    export_run(tmp_path, run, leads, accounts)
    folder = tmp_path / run["run_id"]
    for name in ("leads", "accounts", "handoffs"):
        risky = [c for c in _cells(folder / f"{name}.csv") if c[:1] in ("=", "+", "-", "@", "\t")]
        assert not risky, (name, risky)
    csv_leads = pd.read_csv(folder / "leads.csv", dtype=str, keep_default_na=False)
    assert csv_leads.loc[sales, "next_asset"] == "'" + hostile["next_asset"]
    assert csv_leads.loc[sales, "driver_1"].startswith("'+ ")
    parquet = pd.read_parquet(folder / "leads.parquet")
    assert parquet.loc[sales, "next_asset"] == hostile["next_asset"]


def test_an_export_that_fails_midway_leaves_the_previous_export_whole(tmp_path, monkeypatch):
    """Issue 12 item 11: exports were written in place (a kill left a truncated leads.csv)."""
    run, leads, accounts = make_scores(14)
    export_run(tmp_path, run, leads, accounts)
    before = {p.name: p.read_bytes() for p in (tmp_path / run["run_id"]).iterdir()}
    calls = []

    def dying_to_csv(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return original(self, *args, **kwargs)

    original = pd.DataFrame.to_csv
    monkeypatch.setattr(pd.DataFrame, "to_csv", dying_to_csv)
    with pytest.raises(OSError, match="disk full"):
        export_run(tmp_path, run, leads.assign(p_mql=leads["p_mql"]), accounts)
    monkeypatch.undo()
    after = {p.name: p.read_bytes() for p in (tmp_path / run["run_id"]).iterdir()}
    assert after == before
    # the abandoned temporary folder is never a run folder, and the next export removes it
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".partial-")]
    export_run(tmp_path, run, leads, accounts)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_first_export_that_fails_midway_leaves_no_run_folder(tmp_path, monkeypatch):
    run, leads, accounts = make_scores(14)
    monkeypatch.setattr(pd.DataFrame, "to_parquet", lambda *a, **k: (_ for _ in ()).throw(OSError))
    with pytest.raises(OSError):
        export_run(tmp_path, run, leads, accounts)
    assert not (tmp_path / run["run_id"]).exists() and not (tmp_path / "latest.json").exists()


@pytest.mark.parametrize("victim", ["leads.csv", "handoffs.parquet", "run.json", "accounts.csv"])
def test_a_tampered_or_truncated_export_file_fails_verification(publish_project, victim):
    project = publish_project()
    publish(project)
    folder = project["exports"] / project["run"]["run_id"]
    path = folder / victim
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(ReadinessError, match=r"(differs from the run's file|run.json is missing)"):
        verify_export(folder)
    publish(project)  # publishing again rewrites the export whole
    verify_export(folder)


def test_chunk_rows_below_one_never_publishes_an_empty_run(tmp_path):
    """Issue 12 item 2: chunk_rows -1 made a run with 0 rows current while runs said 2,841."""
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    run, leads, accounts = make_scores(30)
    with pytest.raises(ReadinessError, match="chunk_rows is -1"):
        publish_run(engine, run, leads, accounts, chunk_rows=-1)
    assert "readiness_runs" not in sa.inspect(engine).get_table_names()


def test_a_stored_run_missing_its_rows_is_never_kept_current(tmp_path):
    """A run recorded in runs without its rows (as chunk_rows -1 left it) is refused, not
    answered with "already the current run; nothing changed"."""
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    run, leads, accounts = make_scores(30)
    publish_run(engine, run, leads, accounts)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM readiness_leads")
    with pytest.raises(ReadinessError, match="has 0 leads rows .* but 30"):
        publish_run(engine, run, leads, accounts)
    engine.dispose()


@pytest.mark.parametrize(
    "url, fragment",
    [
        (f"postgresql://bob:{SECRET}@127.0.0.1:1/marketing", "could not be used"),
        (f"postgresql://bob:{SECRET}@127.0.0.1:notaport/marketing", "not a usable SQLAlchemy URL"),
        (f"nosuchdb://bob:{SECRET}@somewhere/x", "not a usable SQLAlchemy URL"),
    ],
)
def test_a_database_that_fails_is_one_paragraph_without_its_password(
    publish_project, cli, url, fragment
):
    """Issue 12 item 9: a database URL that failed to connect was a traceback."""
    project = publish_project()
    out = cli("publish", "--params", str(project["params"]), env={"READINESS_DATABASE_URL": url})
    assert out.returncode == 2, out.stderr
    assert fragment in out.stderr
    assert SECRET not in out.stderr + out.stdout and "Traceback" not in out.stderr
