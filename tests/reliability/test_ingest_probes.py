"""Hostile and careless raw tables: every bad row is quarantined alone with its reason, every
unreadable file is one paragraph naming it, and every table reconciles exactly (read = accepted +
quarantined, in the report and on disk)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from raw_export import tiny_tables, write

from readiness.errors import ReadinessError
from readiness.params import IngestParams
from readiness.raw.ingest import check_reconciled, ingest_folder

T = pd.Timestamp
TABLES = tuple(tiny_tables())
KEY = {
    "accounts": "account_id",
    "leads": "lead_id",
    "assets": "asset_id",
    "events": "event_id",
    "opportunities": "opportunity_id",
    "milestones": "lead_id",
    "sales_touches": "touch_id",
}
ENUM = {
    "accounts": ("industry", "space_mining"),
    "leads": ("persona", "wizard"),
    "assets": ("belief_stage", "curiosity"),
    "events": ("event_type", "tweet"),
    "opportunities": ("outcome", "maybe"),
    "milestones": ("milestone", "handshake"),
    "sales_touches": ("touch_type", "carrier_pigeon"),
}
TIMESTAMP = {
    "accounts": "created_at",
    "leads": "created_at",
    "events": "occurred_at",
    "opportunities": "created_at",
    "milestones": "occurred_at",
    "sales_touches": "occurred_at",
}
ORPHAN = [
    ("leads", "account_id", 99, "not among the accounts of the export"),
    ("events", "lead_id", 99, "not among the leads of the export"),
    ("events", "asset_id", 999, "not among the assets of the export"),
    ("opportunities", "account_id", 99, "not among the accounts of the export"),
    ("opportunities", "primary_lead_id", 99, "not among the leads of the export"),
    ("milestones", "lead_id", 99, "not among the leads of the export"),
    ("milestones", "opportunity_id", 999, "not among the opportunities of the export"),
    ("sales_touches", "lead_id", 99, "not among the leads of the export"),
]
TEXT = {  # a free-text column per table (for undecodable bytes)
    "accounts": "industry",
    "leads": "persona",
    "assets": "title",
    "events": "event_type",
    "opportunities": "outcome",
    "milestones": "milestone",
    "sales_touches": "owner_id",
}


def ingest(tmp_path: Path, tables: dict[str, pd.DataFrame], fmt: str = "parquet") -> dict:
    src = write(tables, tmp_path / "raw", fmt)
    return ingest_folder(src, tmp_path / "validated", tmp_path / "quarantine", IngestParams())


def rows_on_disk(folder: Path) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in folder.glob("*.parquet"))


def assert_reconciled(tmp_path: Path, report: dict) -> None:
    """Every table: read = accepted + quarantined, and the files hold exactly those rows."""
    assert report["reconciled"]
    for table, t in report["tables"].items():
        assert t["read"] == t["accepted"] + t["quarantined"], (table, t)
        assert rows_on_disk(tmp_path / "validated" / table) == t["accepted"], table
        assert rows_on_disk(tmp_path / "quarantine" / table) == t["quarantined"], table
    check_reconciled(report)


def quarantined(tmp_path: Path, table: str) -> pd.DataFrame:
    return pd.read_parquet(tmp_path / "quarantine" / table).set_index("source_row")


def as_text(tables: dict[str, pd.DataFrame], table: str, column: str) -> pd.DataFrame:
    df = tables[table]
    df[column] = df[column].astype(object)
    return df


def only_row_quarantined(tmp_path, report, table, row, fragment) -> None:
    q = quarantined(tmp_path, table)
    assert row in q.index, q
    assert fragment in q.loc[row, "reasons"], q.loc[row, "reasons"]
    assert report["tables"][table]["quarantined"] == 1, report["tables"][table]
    assert_reconciled(tmp_path, report)


@pytest.mark.parametrize("table", TABLES)
def test_a_missing_required_column_names_the_file_and_the_column(tmp_path, table):
    tables = tiny_tables()
    tables[table] = tables[table].drop(columns=[KEY[table]])
    with pytest.raises(
        ReadinessError, match=rf"{table}\.parquet: required column\(s\) {KEY[table]}"
    ):
        ingest(tmp_path, tables)


@pytest.mark.parametrize("table", TABLES)
def test_a_non_integer_id_in_one_csv_row_quarantines_that_row_only(tmp_path, table):
    """Issue 12 item 3: 'abc' in one id cell used to quarantine the whole table (and, by
    reference, everything after it)."""
    tables = tiny_tables()
    as_text(tables, table, KEY[table]).loc[0, KEY[table]] = "abc"
    report = ingest(tmp_path, tables, "csv")
    q = quarantined(tmp_path, table)
    assert f"{KEY[table]}: not a valid int64 (value 'abc')" in q.loc[1, "reasons"]
    assert report["tables"][table]["accepted"] == len(tables[table]) - 1
    assert_reconciled(tmp_path, report)


def test_a_bad_account_id_in_one_lead_row_leaves_the_other_leads_and_their_events(tmp_path):
    tables = tiny_tables()
    as_text(tables, "leads", "account_id").loc[1, "account_id"] = "abc"
    report = ingest(tmp_path, tables, "csv")
    assert report["tables"]["leads"]["accepted"] == 2
    assert report["tables"]["events"]["accepted"] == 3  # only lead 11's event follows it
    assert_reconciled(tmp_path, report)


@pytest.mark.parametrize("table", TABLES)
def test_a_duplicate_key_keeps_the_first_row(tmp_path, table):
    tables = tiny_tables()
    df = tables[table]
    tables[table] = pd.concat([df, df.iloc[[0]]], ignore_index=True)
    report = ingest(tmp_path, tables)
    only_row_quarantined(tmp_path, report, table, len(df) + 1, "duplicate")


@pytest.mark.parametrize("table", TABLES)
def test_an_unknown_enum_value_is_quarantined_with_the_value(tmp_path, table):
    column, value = ENUM[table]
    tables = tiny_tables()
    row = len(tables[table]) - 1  # the last row: nothing refers to it in most tables
    tables[table].loc[row, column] = value
    report = ingest(tmp_path, tables)
    q = quarantined(tmp_path, table)
    assert re.search(
        rf"{column}: value not allowed \(allowed: '[^)]+'\) \(value '{re.escape(value)}'\)",
        q.loc[row + 1, "reasons"],
    )
    assert_reconciled(tmp_path, report)


@pytest.mark.parametrize(
    "when, fragment",
    [
        ("2999-01-01", "timestamp in the future"),
        ("1980-06-01", "timestamp before 1990-01-01"),
        ("31st of February", "not an ISO 8601 timestamp (value '31st of February')"),
        ("2024-02-30", "not an ISO 8601 timestamp (value '2024-02-30')"),
    ],
)
@pytest.mark.parametrize("table", tuple(TIMESTAMP))
def test_future_ancient_and_unparseable_dates_are_quarantined(tmp_path, table, when, fragment):
    tables = tiny_tables()
    column = TIMESTAMP[table]
    row = len(tables[table]) - 1
    as_text(tables, table, column).loc[row, column] = when
    report = ingest(tmp_path, tables, "csv")
    q = quarantined(tmp_path, table)
    assert fragment in q.loc[row + 1, "reasons"], q.loc[row + 1, "reasons"]
    assert_reconciled(tmp_path, report)


@pytest.mark.parametrize("table, column, value, fragment", ORPHAN)
def test_orphans_are_quarantined_as_unknown_references(tmp_path, table, column, value, fragment):
    tables = tiny_tables()
    row = len(tables[table]) - 1
    tables[table].loc[row, column] = value
    report = ingest(tmp_path, tables)
    q = quarantined(tmp_path, table)
    assert f"{column}: {fragment} (value '{value}')" in q.loc[row + 1, "reasons"]
    assert_reconciled(tmp_path, report)


@pytest.mark.parametrize("table", TABLES)
def test_invalid_utf8_in_a_csv_cell_quarantines_that_row(tmp_path, table):
    tables = tiny_tables()
    row = len(tables[table]) - 1
    tables[table].loc[row, TEXT[table]] = "MARKER"
    src = write(tables, tmp_path / "raw", "csv")
    path = src / f"{table}.csv"
    path.write_bytes(path.read_bytes().replace(b"MARKER", b"caf\xe9 \xff"))
    report = ingest_folder(src, tmp_path / "validated", tmp_path / "quarantine", IngestParams())
    q = quarantined(tmp_path, table)
    assert f"{TEXT[table]}: not valid UTF-8 text" in q.loc[row + 1, "reasons"]
    assert_reconciled(tmp_path, report)


@pytest.mark.parametrize("table, column", [("assets", "title"), ("sales_touches", "owner_id")])
def test_invalid_utf8_in_parquet_binary_text_quarantines_that_row_and_reconciles(
    tmp_path, table, column
):
    """Issue 12 item 4: a BINARY column with one undecodable value was counted neither accepted
    nor quarantined ("NOT reconciled"), and the run still exited 0."""
    tables = tiny_tables()
    src = write(tables, tmp_path / "raw")
    df = tables[table]
    values = [str(v).encode() for v in df[column]]
    values[-1] = b"Cost of \xff delay"
    arrow = pa.Table.from_pandas(df.drop(columns=[column]), preserve_index=False)
    arrow = arrow.add_column(list(df.columns).index(column), column, pa.array(values, pa.binary()))
    pq.write_table(arrow, src / f"{table}.parquet")
    report = ingest_folder(src, tmp_path / "validated", tmp_path / "quarantine", IngestParams())
    only_row_quarantined(tmp_path, report, table, len(df), f"{column}: not valid UTF-8 text")
    kept = pd.read_parquet(tmp_path / "validated" / table)[column]
    assert kept.tolist() == [str(v) for v in df[column].iloc[:-1]]


@pytest.mark.parametrize(
    "amount, fragment",
    [
        (float("inf"), "amount: not a finite number"),
        (float("-inf"), "amount: not a finite number"),
        (-5.0, "amount: must be >= 0"),
    ],
)
def test_non_finite_and_negative_amounts_are_quarantined_with_their_reason(
    tmp_path, amount, fragment
):
    """Issue 12 item 5: +inf was accepted and became Infinity deal sizes downstream."""
    tables = tiny_tables()
    tables["opportunities"].loc[0, "amount"] = amount
    report = ingest(tmp_path, tables)
    only_row_quarantined(tmp_path, report, "opportunities", 1, fragment)


@pytest.mark.parametrize("text", ["inf", "-Infinity", "NaN", "1e999", "12,5"])
def test_amount_text_that_is_not_a_finite_number_is_quarantined(tmp_path, text):
    tables = tiny_tables()
    as_text(tables, "opportunities", "amount").loc[0, "amount"] = text
    report = ingest(tmp_path, tables, "csv")
    q = quarantined(tmp_path, "opportunities")
    assert "amount: not a" in q.loc[1, "reasons"] and text in q.loc[1, "reasons"]
    assert_reconciled(tmp_path, report)


def test_an_infinite_id_in_parquet_is_a_row_problem(tmp_path):
    tables = tiny_tables()
    tables["events"]["asset_id"] = np.array([100.0, np.nan, np.inf, np.nan])
    report = ingest(tmp_path, tables)
    only_row_quarantined(tmp_path, report, "events", 3, "asset_id: not a valid int64")


def test_an_empty_optional_table_is_allowed_and_an_empty_required_one_stops(tmp_path):
    tables = tiny_tables()
    tables["sales_touches"] = tables["sales_touches"].iloc[0:0]
    report = ingest(tmp_path / "a", tables)
    assert report["tables"]["sales_touches"]["read"] == 0
    assert "sales_touches is empty" in report["tables"]["sales_touches"]["warnings"]
    assert_reconciled(tmp_path / "a", report)
    from readiness.raw.ingest import check_required

    tables = tiny_tables()
    tables["accounts"] = tables["accounts"].iloc[0:0]
    with pytest.raises(ReadinessError, match="accounts.*has no usable rows: it is empty"):
        check_required(ingest(tmp_path / "b", tables))
    # every row quarantined: the message gives the commonest reason, not only the folder
    tables = tiny_tables()
    tables["accounts"]["created_at"] = None
    with pytest.raises(ReadinessError, match="the commonest reason: created_at: missing value"):
        check_required(ingest(tmp_path / "c", tables))


def test_a_header_only_csv_and_a_zero_byte_csv(tmp_path):
    tables = tiny_tables()
    src = write(tables, tmp_path / "raw", "csv")
    (src / "events.csv").write_text(",".join(tables["events"].columns) + "\n")
    report = ingest_folder(src, tmp_path / "validated", tmp_path / "quarantine", IngestParams())
    assert report["tables"]["events"]["read"] == 0
    assert_reconciled(tmp_path, report)
    (src / "events.csv").write_bytes(b"")
    with pytest.raises(ReadinessError, match=r"events\.csv is empty: it needs at least a header"):
        ingest_folder(src, tmp_path / "v2", tmp_path / "q2", IngestParams())


def test_a_csv_with_an_unbalanced_quote_is_one_paragraph_naming_the_file(tmp_path):
    tables = tiny_tables()
    src = write(tables, tmp_path / "raw", "csv")
    with (src / "assets.csv").open("a") as f:
        f.write('102,"An unclosed title,urgency,any,guide,\n103,Other,urgency,any,guide,\n')
    with pytest.raises(ReadinessError, match=r"assets\.csv is not a readable CSV file") as err:
        ingest_folder(src, tmp_path / "validated", tmp_path / "quarantine", IngestParams())
    assert "\n" not in str(err.value)


def test_a_truncated_parquet_file_is_one_paragraph_naming_the_file(tmp_path):
    src = write(tiny_tables(), tmp_path / "raw")
    data = (src / "leads.parquet").read_bytes()
    (src / "leads.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(ReadinessError, match=r"leads\.parquet is not a readable Parquet file"):
        ingest_folder(src, tmp_path / "validated", tmp_path / "quarantine", IngestParams())


def test_corrupt_parquet_data_pages_are_one_paragraph_naming_the_file(tmp_path):
    tables = tiny_tables()
    events = pd.concat([tables["events"]] * 500, ignore_index=True)
    events["event_id"] = np.arange(1, len(events) + 1)
    tables["events"] = events
    src = write(tables, tmp_path / "raw")
    data = bytearray((src / "events.parquet").read_bytes())
    for offset in range(200, 1500, 7):  # inside the first column's compressed pages
        data[offset] ^= 0xFF
    (src / "events.parquet").write_bytes(bytes(data))
    with pytest.raises(ReadinessError, match=r"events\.parquet is not a readable Parquet file"):
        ingest_folder(src, tmp_path / "validated", tmp_path / "quarantine", IngestParams())


def test_a_corrupt_part_in_a_table_folder_names_the_part(tmp_path):
    tables = tiny_tables()
    events = tables.pop("events")
    src = write(tables, tmp_path / "raw")
    (src / "events").mkdir()
    events.iloc[:2].to_parquet(src / "events" / "part-00000.parquet", index=False)
    events.iloc[2:].to_parquet(src / "events" / "part-00001.parquet", index=False)
    data = (src / "events" / "part-00001.parquet").read_bytes()
    (src / "events" / "part-00001.parquet").write_bytes(data[:-40])  # footer cut off
    with pytest.raises(ReadinessError, match=r"part-00001\.parquet is not a readable Parquet"):
        ingest_folder(src, tmp_path / "validated", tmp_path / "quarantine", IngestParams())


def test_a_table_that_does_not_reconcile_stops_the_stage():
    report = {
        "tables": {
            "assets": {
                "source": "raw/assets.parquet",
                "read": 126,
                "accepted": 0,
                "quarantined": 0,
                "reconciled": False,
            }
        }
    }
    with pytest.raises(ReadinessError, match="read 126, accepted 0, quarantined 0"):
        check_reconciled(report)


def test_form_answers_that_are_not_json_objects_are_quarantined(tmp_path):
    tables = tiny_tables()
    tables["events"].loc[1, "properties"] = "[1, 2]"
    report = ingest(tmp_path, tables)
    only_row_quarantined(tmp_path, report, "events", 2, "properties is not a JSON object")
