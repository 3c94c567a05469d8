"""score -> publish on the small simulation: every open lead scored, routed and explained from the
past only; the run published to SQLite and PostgreSQL; a broken table refused; the SQL of
docs/publishing.md runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from postgres import POSTGRES_URL, drop_schema, postgres_or_skip
from small_project import write_params

from readiness.errors import ReadinessError
from readiness.scores import ScoreContractError

ROOT = Path(__file__).parents[2]


def frames(scored):
    f = scored["folder"]
    return (
        pd.read_parquet(f / "data" / "scores" / "leads.parquet"),
        pd.read_parquet(f / "data" / "scores" / "accounts.parquet"),
        pd.read_parquet(f / "data" / "features" / "scoring.parquet"),
    )


def test_every_open_lead_is_scored_routed_and_explained(scored):
    leads, accounts, snapshot = frames(scored)
    assert sorted(leads["lead_id"]) == sorted(snapshot["lead_id"])
    # simulated data: our ids are the CRM's
    assert (leads["crm_id"] == leads["lead_id"].astype(str)).all()
    p = leads[[f"p_{g}" for g in scored["project"].params.ladder]].to_numpy()
    assert ((p[:, 1:] <= p[:, :-1] + 1e-9).all()) and p.min() >= 0 and p.max() <= 1
    assert leads["driver_1"].notna().mean() > 0.95
    assert leads["driver_1"].dropna().str.match(r"^[+-] .+: .+").all()
    sales = leads[leads["route"] == "sales_now"]
    assert (
        len(sales) > 0
        and sales["owner"].notna().all()
        and (sales["sla_due"] > sales["scored_at"]).all()
    )
    nurture = leads[leads["route"].str.startswith("nurture_")]
    named = nurture["weakest_belief"] != "unknown"
    assert (nurture.loc[named, "route"] == "nurture_" + nurture.loc[named, "weakest_belief"]).all()
    assert (nurture.loc[~named, "route"] == "nurture_general").all()
    assert nurture.loc[named, "next_asset"].notna().mean() > 0.95
    assert accounts["account_id"].is_unique and set(accounts["account_id"]) == set(
        leads["account_id"]
    )
    assert accounts["open_leads"].sum() == len(leads)
    # the next gate's timing in words agrees with its days: a blank days_<gate> is said to be
    # unlikely (or unknown), never left to be read
    days = leads.apply(lambda r: r[f"days_{r['next_gate']}"], axis=1)
    when = leads["next_gate_when"]
    assert when.notna().all()
    assert (when[days.notna() & (days > 0)].str.match(r"^likely in about \d+ days$")).all()
    assert (when[days.isna()].str.match(r"^(unlikely within \d+ days \(\d+%\)|unknown: .+)$")).all()
    s = scored["summary"]
    assert set(s["drivers_vs_exact_shap"]) <= set(scored["project"].params.ladder)
    for gate, c in s["ladder_capped"].items():  # counted among the leads short of the gate
        assert (
            0 < c["leads"] <= len(leads)
            and c["median_cut"] >= 0.01
            and c["shown_at"] != f"p_{gate}"
        )
    wb = s["weakest_belief_vs_truth"]
    assert wb["leads"] > 0 and 0 <= wb["model_accuracy"] <= 1 and 0 <= wb["naive_accuracy"] <= 1


def test_routing_context_comes_from_before_the_scoring_time(scored):
    leads, _, _ = frames(scored)
    validated = scored["sim"]["validated"]
    events = pd.read_parquet(validated / "events", columns=["lead_id", "occurred_at", "asset_id"])
    scored_at = leads["scored_at"].iloc[0]
    sales = leads[leads["route"] == "sales_now"]
    dates = sales["last_touches"].str.findall(r"(\d{4}-\d{2}-\d{2}):").explode().dropna()
    assert len(dates) and (pd.to_datetime(dates) < scored_at).all()
    before = events[events["occurred_at"] < scored_at].dropna(subset=["asset_id"])
    consumed = set(zip(before["lead_id"], before["asset_id"].astype(int), strict=True))
    nurture = leads.dropna(subset=["next_asset_id"])
    assert not any(
        (a, int(b)) in consumed
        for a, b in zip(nurture["lead_id"], nurture["next_asset_id"], strict=True)
    )


def test_scoring_without_the_named_model_says_how_to_get_one(scored, small_validated):
    from pipelines.score import stage as score

    folder = scored["folder"]
    project = write_params(folder, small_validated, extra={"score": {"model": "gold"}})
    try:
        with pytest.raises(ReadinessError, match="no 'gold' version"):
            score.run(project)
    finally:
        write_params(folder, small_validated)


def docs_sql() -> list[str]:
    text = (ROOT / "docs" / "publishing.md").read_text()
    return re.findall(r"```sql\n(.*?)```", text, flags=re.S)


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, scored, small_validated):
    """The scored project publishing to SQLite (its own file) or to a fresh PostgreSQL schema."""
    folder = scored["folder"]
    mp = pytest.MonkeyPatch()
    schema = None
    if request.param == "postgresql":
        postgres_or_skip()
        schema = f"readiness_test_{uuid.uuid4().hex[:10]}"
        mp.setenv("READINESS_DATABASE_URL", POSTGRES_URL)
        url = POSTGRES_URL
    else:
        db = folder / f"warehouse-{uuid.uuid4().hex[:6]}.db"
        url = f"sqlite:///{db}"
    publish = {
        "schema": schema,
        "sqlite_path": str(url.removeprefix("sqlite:///")) if schema is None else "unused.db",
    }
    project = write_params(folder, small_validated, extra={"publish": publish})
    engine = sa.create_engine(url)
    yield {"project": project, "engine": engine, "schema": schema, "folder": folder}
    engine.dispose()
    mp.undo()
    write_params(folder, small_validated)
    if schema:
        drop_schema(schema)


def test_publish_makes_the_run_current_and_the_docs_sql_answers(target):
    from pipelines.publish import stage as publish

    s = publish.run(target["project"])
    assert s["action"] == "published" and s["lead_rows"] > 0
    assert publish.run(target["project"])["action"] == "unchanged"
    queries = docs_sql()
    assert len(queries) >= 3
    with target["engine"].connect() as conn:
        if target["schema"]:
            conn.exec_driver_sql(f'SET search_path TO "{target["schema"]}"')
        for sql in queries:
            got = pd.read_sql(sa.text(sql), conn)
            assert len(got) > 0, sql
    exported = target["folder"] / "data" / "exports" / s["run_id"]
    assert len(pd.read_csv(exported / "leads.csv")) == s["lead_rows"]


def test_a_broken_score_table_is_not_published_and_the_current_run_stays(target):
    from pipelines.publish import stage as publish

    first = publish.run(target["project"])
    path = target["folder"] / "data" / "scores" / "leads.parquet"
    good = pd.read_parquet(path)
    broken = good.copy()
    broken.loc[broken.index[:3], "p_mql"] = 1.5
    broken.to_parquet(path, index=False)
    try:
        with pytest.raises(
            ScoreContractError, match=r"in_range\(0.0, 1.0\) on column p_mql: 3 failure"
        ):
            publish.run(target["project"])
    finally:
        good.to_parquet(path, index=False)
    runs, _ = publish.runs(target["project"])
    assert runs["run_id"].tolist() == [first["run_id"]] and runs["current"].tolist() == ["*"]


def test_a_table_changed_after_scoring_is_not_published_under_the_runs_id(scored):
    from pipelines.publish import stage as publish

    path = scored["folder"] / "data" / "scores" / "leads.parquet"
    good = pd.read_parquet(path)
    changed = good.assign(driver_1=good["driver_1"].where(good.index != 0, "+ edited by hand: 1"))
    changed.to_parquet(path, index=False)
    try:
        with pytest.raises(ReadinessError, match="is not the table run .* was scored as"):
            publish.run(scored["project"])
    finally:
        good.to_parquet(path, index=False)


def test_the_database_password_is_never_printed(scored, tmp_path):
    postgres_or_skip()
    secret = "s3cret-do-not-print"
    user = sa.engine.make_url(POSTGRES_URL).username
    schema = f"readiness_test_{uuid.uuid4().hex[:10]}"
    url = f"postgresql://{user}:{secret}@127.0.0.1:5432/test"
    params = scored["folder"] / "params.yaml"
    text = params.read_text() + f"publish:\n  schema: {schema}\n  sqlite_path: unused.db\n"
    alt = scored["folder"] / "params_pg.yaml"
    alt.write_text(text)
    env = {**os.environ, "READINESS_DATABASE_URL": url}
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "publish", "--params", str(alt)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        assert "published and made current in the postgresql database" in out.stdout
        metrics = (scored["folder"] / "artifacts" / "metrics" / "publish.json").read_text()
        assert secret not in out.stdout + out.stderr + metrics
    finally:
        drop_schema(schema)
