"""The mapping-driven import: a small inline export, the errors a user can make, and the real
Olist export (skipped with the reason when ../shared is absent)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from raw_export import CONTACTS, DEALS, mapping

from readiness.errors import ReadinessError
from readiness.params import IngestParams
from readiness.raw.ingest import ingest_folder
from readiness.raw.mapping import import_export

ROOT = Path(__file__).parents[3]
OLIST = ROOT.parent / "shared" / "data" / "olist_marketing_funnel"


@pytest.fixture
def export(tmp_path):
    (tmp_path / "contacts.csv").write_text(CONTACTS)
    (tmp_path / "deals.csv").write_text(DEALS)

    def write(m: dict) -> Path:
        path = tmp_path / "mapping.yaml"
        path.write_text(yaml.safe_dump(m, sort_keys=False))
        return path

    return tmp_path, write


def test_a_small_export_becomes_the_raw_tables(export):
    folder, write = export
    report = import_export(write(mapping()), folder / "raw")
    leads = pd.read_parquet(folder / "raw" / "leads.parquet")
    assert leads["lead_id"].tolist() == [1, 2, 3] and leads["account_id"].tolist() == [1, 1, 2]
    assert leads["source_channel"].tolist() == ["organic_search", "events", "organic_search"]
    ms = pd.read_parquet(folder / "raw" / "milestones.parquet")
    # the "Lead" stage maps to nothing and its row is skipped; c9 (unknown contact) gets its own id
    assert ms[["lead_id", "milestone"]].values.tolist() == [
        [2, "mql"],
        [3, "sales_accepted"],
        [3, "closed_won"],
        [4, "closed_won"],
    ]
    assert report["tables"]["milestones"]["from"][0]["skipped_rows_without_values"] == 1
    assert set(report["absent_tables"]) == {"assets", "events", "sales_touches"}
    assert pd.read_parquet(folder / "raw" / "events.parquet").empty
    assert report["zero_amount_opportunities"] == 1
    keys = pd.read_parquet(folder / "raw" / "_keys" / "contact.parquet")
    assert dict(zip(keys["their_id"], keys["our_id"], strict=True)) == {
        "c1": 1,
        "c2": 2,
        "c3": 3,
        "c9": 4,
    }
    # ingest takes the raw tables as they are and reports what is wrong with them
    ing = ingest_folder(folder / "raw", folder / "validated", folder / "quarantine", IngestParams())
    assert ing["reconciled"]
    assert ing["tables"]["milestones"]["quarantined"] == 1  # c9 is no known lead
    assert any("amount 0" in w for w in ing["tables"]["opportunities"]["warnings"])
    # the families the export cannot feed are named, with the reason
    from features.build import family_availability

    missing = family_availability(folder / "validated")
    assert missing["urgency"] == "the data has no engagement events" and "intent" in missing


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {
                "tables.leads.columns.created_at": {
                    "column": "created_on",
                    "date_format": "%Y-%m-%d",
                }
            },
            r"tables\.leads\.columns\.created_at\.column names column 'created_on' that .*contacts\.csv lacks",
        ),
        (
            {
                "tables.leads.columns.source_channel": {
                    "column": "channel",
                    "values": {"web": "organic_search"},
                }
            },
            r"tables\.leads\.columns\.source_channel\.values does not cover 1 value\(s\) of column 'channel' in .*contacts\.csv: 'fair' \(1 rows: 2\)",
        ),
        (
            {"tables.leads.columns.created_at": {"column": "created", "date_format": "%d/%m/%Y"}},
            r"tables\.leads\.columns\.created_at\.date_format '%d/%m/%Y' does not parse 3 value\(s\) of column 'created' in .*contacts\.csv \(rows 1, 2, 3",
        ),
        (
            {"tables.leads.from": "people"},
            r"tables\.leads\.from names file 'people', which is not under files",
        ),
        (
            {"tables.leads.columns.colour": {"value": "red"}},
            r"tables\.leads\.columns names \['colour'\], not columns of raw table 'leads'",
        ),
        (
            {"tables.leads.columns.lead_id": {"value": 1, "column": "contact_id"}},
            r"tables\.leads\.columns\.lead_id: Value error, give exactly one of",
        ),
    ],
)
def test_mapping_errors_name_the_key_the_file_and_the_rows(export, change, message):
    folder, write = export
    with pytest.raises(ReadinessError, match=message):
        import_export(write(mapping(**change)), folder / "raw")


def test_a_date_that_does_not_parse_names_its_row(export):
    folder, write = export
    (folder / "contacts.csv").write_text(CONTACTS.replace("2024-02-01", "2024-02-31"))
    with pytest.raises(
        ReadinessError, match=r"does not parse 1 value\(s\) .*\(rows 3; e.g. '2024-02-31'\)"
    ):
        import_export(write(mapping()), folder / "raw")


@pytest.mark.skipif(
    not OLIST.exists(), reason=f"the real Olist export is not at {OLIST} (it lives in ../shared)"
)
def test_the_real_olist_export_imports_and_every_row_reconciles(tmp_path):
    report = import_export(ROOT / "examples" / "olist" / "mapping.yaml", tmp_path / "raw", OLIST)
    assert report["files"]["mqls"]["rows"] == 8000 and report["files"]["deals"]["rows"] == 842
    assert (
        report["tables"]["leads"]["rows"] == 8000
        and report["tables"]["opportunities"]["rows"] == 842
    )
    assert report["absent_tables"] == ["sales_touches"]
    assert report["zero_amount_opportunities"] == 797  # declared_monthly_revenue is 0 for 797 deals
    assert {"has_company", "has_gtin", "average_stock", "declared_product_catalog_size"} <= set(
        report["files"]["deals"]["empty_columns"]
    )
    ing = ingest_folder(
        tmp_path / "raw", tmp_path / "validated", tmp_path / "quarantine", IngestParams()
    )
    assert (
        ing["reconciled"]
        and ing["totals"]["read"] == ing["totals"]["accepted"] + ing["totals"]["quarantined"]
    )
    ms = ing["tables"]["milestones"]
    # the deal dated two days before its lead's first contact is reported, not a crash
    assert (
        ms["quarantined"] == 1
        and "milestone dated before its lead was created" in ms["quarantine_reasons"]
    )
    assert any(
        "797 won opportunities have amount 0" in w
        for w in ing["tables"]["opportunities"]["warnings"]
    )
    won = pd.read_parquet(tmp_path / "validated" / "milestones").query("milestone == 'closed_won'")
    assert len(won) == 841


def test_row_numbers_run_on_across_the_blocks_of_a_table(export):
    """Two files feeding events with row_number ids: the ids never collide (they used to restart
    at 1 in each block, and ingest quarantined the second block as duplicates)."""
    folder, write = export
    m = mapping()
    event = {
        "event_id": {"row_number": True},
        "lead_id": {"key": "contact", "column": "contact_id"},
        "event_type": {"value": "page_view"},
    }
    m["tables"]["events"] = [
        {
            "from": "contacts",
            "columns": {**event, "occurred_at": {"column": "created", "date_format": "%Y-%m-%d"}},
        },
        {
            "from": "deals",
            "columns": {
                **event,
                "occurred_at": {"column": "closed", "date_format": "%Y-%m-%d %H:%M:%S"},
            },
        },
    ]
    import_export(write(m), folder / "raw")
    events = pd.read_parquet(folder / "raw" / "events.parquet")
    assert events["event_id"].tolist() == [1, 2, 3, 4, 5]
