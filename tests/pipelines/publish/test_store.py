"""Publishing against SQLite and the real PostgreSQL: atomic, idempotent, every run kept,
rollback in one call, a killed publish leaves nothing, a concurrent reader never sees a mix."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from score_frames import make_scores

from pipelines.publish.store import current_run_id, list_runs, make_current, publish_run
from readiness.errors import ReadinessError

PREFIX = "readiness_"


def q(db, name: str) -> str:
    return f'"{db["schema"]}"."{PREFIX}{name}"' if db["schema"] else f'"{PREFIX}{name}"'


def read(db, sql: str) -> pd.DataFrame:
    with db["reader"].connect() as conn:
        return pd.read_sql(sa.text(sql), conn)


def publish(db, run, leads, accounts, **kw):
    return publish_run(db["engine"], run, leads, accounts, PREFIX, db["schema"], **kw)


def test_a_published_run_is_what_the_current_views_show(db):
    run, leads, accounts = make_scores(14)
    out = publish(db, run, leads, accounts)
    assert (out.action, out.lead_rows, out.previous_run_id) == ("published", 14, None)
    got = read(db, f"SELECT * FROM {q(db, 'current_leads')} ORDER BY lead_id")
    assert got["run_id"].unique().tolist() == [run["run_id"]]
    assert got["lead_id"].tolist() == leads["lead_id"].tolist()
    pd.testing.assert_series_equal(got["p_mql"], leads["p_mql"], check_names=False, rtol=1e-12)
    assert got["owner"].isna().tolist() == leads["owner"].isna().tolist()
    sales = got[got["route"] == "sales_now"]
    assert (pd.to_datetime(sales["sla_due"]) == pd.Timestamp("2026-01-02 13:00")).all()
    handoffs = read(db, f"SELECT lead_id, owner FROM {q(db, 'current_handoffs')}")
    assert sorted(handoffs["lead_id"]) == sorted(
        leads.loc[leads["route"] == "sales_now", "lead_id"]
    )
    assert read(db, f"SELECT COUNT(*) AS n FROM {q(db, 'current_accounts')}")["n"][0] == len(
        accounts
    )
    runs = list_runs(db["engine"], PREFIX, db["schema"])
    assert runs[["run_id", "lead_rows", "params_hash", "current"]].values.tolist() == [
        [run["run_id"], 14, "hash0", "*"]
    ]


def test_publishing_the_same_run_twice_changes_nothing(db):
    run, leads, accounts = make_scores(10)
    publish(db, run, leads, accounts)
    before = read(db, f"SELECT * FROM {q(db, 'current_log')}")
    again = publish(db, run, leads, accounts)
    assert again.action == "unchanged"
    assert read(db, f"SELECT * FROM {q(db, 'current_log')}").equals(before)
    assert read(db, f"SELECT COUNT(*) AS n FROM {q(db, 'leads')}")["n"][0] == 10


def test_every_run_is_kept_and_an_earlier_one_is_made_current_in_one_call(db):
    a, b = make_scores(10, seed=1), make_scores(12, seed=2)
    publish(db, *a)
    out = publish(db, *b)
    assert out.previous_run_id == a[0]["run_id"]
    assert current_run_id(db["engine"], PREFIX, db["schema"]) == b[0]["run_id"]
    assert make_current(db["engine"], a[0]["run_id"], PREFIX, db["schema"]) == b[0]["run_id"]
    got = read(db, f"SELECT run_id, COUNT(*) AS n FROM {q(db, 'current_leads')} GROUP BY run_id")
    assert got.values.tolist() == [[a[0]["run_id"], 10]]
    make_current(db["engine"], "previous", PREFIX, db["schema"])  # back to b
    assert current_run_id(db["engine"], PREFIX, db["schema"]) == b[0]["run_id"]
    assert read(db, f"SELECT COUNT(*) AS n FROM {q(db, 'leads')}")["n"][0] == 22
    assert publish(db, *a).action == "made_current"  # republishing a stored run restores it
    with pytest.raises(ReadinessError, match="No published run 'nope'"):
        make_current(db["engine"], "nope", PREFIX, db["schema"])


def test_a_table_of_another_layout_is_refused_and_nothing_changes(db):
    run, leads, accounts = make_scores(10, seed=1)
    publish(db, run, leads, accounts)
    run2, leads2, accounts2 = make_scores(10, seed=2)
    with pytest.raises(ReadinessError, match="exists with other columns"):
        publish(db, run2, leads2.drop(columns=["driver_3"]), accounts2)
    assert current_run_id(db["engine"], PREFIX, db["schema"]) == run["run_id"]
    assert len(list_runs(db["engine"], PREFIX, db["schema"])) == 1


def test_a_concurrent_reader_sees_one_complete_run_at_a_time(db):
    old = make_scores(300, seed=1)
    new = make_scores(6000, seed=2)
    publish(db, *old)
    sizes = {old[0]["run_id"]: 300, new[0]["run_id"]: 6000}
    seen, done, errors = [], threading.Event(), []

    def reader():
        while not done.is_set():
            try:
                got = read(
                    db,
                    f"SELECT run_id, COUNT(*) AS n FROM {q(db, 'current_leads')} GROUP BY run_id",
                )
                seen.append([tuple(r) for r in got.values.tolist()])
            except Exception as exc:  # a reader must never fail either
                errors.append(exc)
            time.sleep(0.005)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        publish(db, *new, chunk_rows=500, on_chunk=lambda *_: time.sleep(0.03))
        time.sleep(0.05)
    finally:
        done.set()
        thread.join()
    assert not errors
    assert all(
        len(s) == 1 and s[0][1] == sizes[s[0][0]] for s in seen
    )  # never a mix, never partial
    runs_seen = [s[0][0] for s in seen]
    assert runs_seen[0] == old[0]["run_id"] and runs_seen[-1] == new[0]["run_id"]
    assert runs_seen.count(old[0]["run_id"]) > 3  # the reader did read while the publish ran


KILLED_PUBLISH = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[4])
    from score_frames import make_scores
    from pipelines.publish.store import make_engine, publish_run

    url, schema, marker = sys.argv[1], (sys.argv[2] or None), Path(sys.argv[3])

    def stall(table, done, total):
        marker.write_text(f"{table} {done}/{total}")
        time.sleep(120)  # killed here, in the middle of the transaction

    publish_run(make_engine(url), *make_scores(5000, seed=9), "readiness_", schema, 1000, stall)
    """
)


def test_a_publish_killed_midway_leaves_the_previous_run_current_and_nothing_behind(db, tmp_path):
    old = make_scores(20, seed=1)
    publish(db, *old)
    marker = tmp_path / "marker"
    helpers = str(Path(__file__).parents[2] / "helpers")
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_PUBLISH, db["url"], db["schema"] or "", str(marker), helpers],
        env={**os.environ},
    )
    try:
        for _ in range(600):
            if marker.exists() or child.poll() is not None:
                break
            time.sleep(0.05)
        assert marker.exists(), "the publishing process never reached its first chunk"
        assert "1000/5000" in marker.read_text()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    killed = make_scores(5000, seed=9)[0]["run_id"]
    assert current_run_id(db["engine"], PREFIX, db["schema"]) == old[0]["run_id"]
    assert (
        read(db, f"SELECT COUNT(*) AS n FROM {q(db, 'leads')} WHERE run_id = '{killed}'")["n"][0]
        == 0
    )
    assert killed not in list_runs(db["engine"], PREFIX, db["schema"])["run_id"].tolist()
    # nothing is left locked: the same run publishes cleanly afterwards
    assert publish(db, *make_scores(5000, seed=9), chunk_rows=1000).action == "published"
    assert current_run_id(db["engine"], PREFIX, db["schema"]) == killed


def test_exports_are_crm_ready_csv_and_parquet(tmp_path):
    from pipelines.publish.export import export_run

    run, leads, accounts = make_scores(14)
    counts = export_run(tmp_path, run, leads, accounts)
    folder = tmp_path / run["run_id"]
    csv = pd.read_csv(folder / "leads.csv")
    assert csv.columns[0] == "lead_id" and len(csv) == counts["leads"] == 14
    assert csv["scored_at"].iloc[0] == "2026-01-01T00:00:00Z"
    handoffs = pd.read_csv(folder / "handoffs.csv")
    assert (
        len(handoffs) == (leads["route"] == "sales_now").sum() and handoffs["owner"].notna().all()
    )
    assert pd.read_parquet(folder / "accounts.parquet").shape == accounts.shape
    assert json.loads((tmp_path / "latest.json").read_text())["run_id"] == run["run_id"]


def test_a_leads_table_from_before_trends_gets_the_trend_columns(db):
    from readiness.scores import score_trends

    old_run, old_leads, old_accounts = make_scores(10, seed=1)
    publish(db, old_run, old_leads, old_accounts)  # a table without trend columns
    run, leads, accounts = make_scores(10, seed=2)
    leads = score_trends(
        leads, old_leads, tuple(c[2:] for c in leads if c.startswith("p_") and c != "p_next_gate")
    )
    out = publish(db, run, leads, accounts)
    assert out.action == "published"
    got = read(
        db, f"SELECT run_id, trend, change_p_mql FROM {q(db, 'leads')} ORDER BY run_id, lead_id"
    )
    new = got[got["run_id"] == run["run_id"]]
    assert new["trend"].tolist() == leads["trend"].tolist()
    assert got.loc[got["run_id"] == old_run["run_id"], "trend"].isna().all()  # its old runs: empty
    # and a run scored before trends still fits the table that has them
    older_run, older, older_accounts = make_scores(8, seed=3)
    assert publish(db, older_run, older, older_accounts).action == "published"
    # a run with the export's own ids: the column is added, the older runs' cells empty
    from readiness.scores import with_crm_ids

    newest_run, newest, newest_accounts = make_scores(6, seed=4)
    newest = with_crm_ids(
        newest, pd.Series(["C-1"], index=[int(newest["lead_id"].iloc[0])]), "lead_id"
    )
    first_account = int(newest_accounts["account_id"].iloc[0])
    newest_accounts = with_crm_ids(
        newest_accounts, pd.Series(["ACME-7"], index=[first_account]), "account_id"
    )
    assert publish(db, newest_run, newest, newest_accounts).action == "published"
    got = read(db, f"SELECT run_id, lead_id, crm_id FROM {q(db, 'leads')} ORDER BY run_id, lead_id")
    mine = got[got["run_id"] == newest_run["run_id"]].set_index("lead_id")["crm_id"]
    assert mine.loc[int(newest["lead_id"].iloc[0])] == "C-1"
    assert got.loc[got["run_id"] != newest_run["run_id"], "crm_id"].isna().all()
    # the accounts too: their own ids in the newest run, empty for the older ones
    got = read(db, f"SELECT run_id, account_id, crm_id FROM {q(db, 'accounts')}")
    mine = got[got["run_id"] == newest_run["run_id"]].set_index("account_id")["crm_id"]
    assert mine.loc[first_account] == "ACME-7"
    assert got.loc[got["run_id"] != newest_run["run_id"], "crm_id"].isna().all()
    # and the views show them (PostgreSQL fixes a view's * when it is made: made again)
    view = read(db, f"SELECT account_id, crm_id FROM {q(db, 'current_accounts')}")
    assert view.set_index("account_id").loc[first_account, "crm_id"] == "ACME-7"
    view = read(db, f"SELECT lead_id, crm_id FROM {q(db, 'current_leads')}")
    assert view.set_index("lead_id").loc[int(newest["lead_id"].iloc[0]), "crm_id"] == "C-1"
