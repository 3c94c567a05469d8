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


def test_a_table_mapped_to_an_empty_list_of_blocks_is_absent_not_a_pandas_error(export):
    folder, write = export
    empty = {**mapping(), "tables": {**mapping()["tables"], "events": []}}
    report = import_export(write(empty), folder / "raw")
    assert "events" in report["absent_tables"]
    assert pd.read_parquet(folder / "raw" / "events.parquet").empty


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
    # and what the skipped row held in the column that mapped to nothing
    assert report["tables"]["milestones"]["from"][0]["skipped_values"] == {"stage": {"Lead": 1}}
    # acme's two contacts give the same account row: one dropped as identical, and counted
    assert report["tables"]["accounts"]["from"][0]["identical_rows_dropped"] == 1
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
    # named by the row of the user's file it came from, beside the raw table's row
    q = pd.read_parquet(folder / "quarantine" / "milestones")
    assert q[["source_row", "file", "file_row"]].values.tolist() == [[4, "deals.csv", 2]]
    # and by the export's own id, also for a lead the export's contacts lack
    assert q[["lead_id", "lead_crm_id"]].values.tolist() == [["4", "c9"]]
    assert any("amount 0" in w for w in ing["tables"]["opportunities"]["warnings"])
    # the export's own ids travel to the validated folder, for the scores to carry
    from readiness.raw.io import crm_ids

    # every id of the leads' namespace: also c9, which no contact row holds
    assert crm_ids(folder / "validated", "leads").to_dict() == {1: "c1", 2: "c2", 3: "c3", 4: "c9"}
    assert crm_ids(folder / "validated", "accounts").to_dict() == {1: "acme", 2: "beta"}
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


def test_a_block_without_a_column_every_row_needs_is_refused_at_load(export):
    """Trial 8: leads without created_at imported fine, then ingest quarantined every row."""
    folder, write = export
    m = mapping()
    del m["tables"]["leads"]["columns"]["created_at"]
    with pytest.raises(
        ReadinessError, match=r"tables\.leads\.columns lacks created_at, which every row"
    ):
        import_export(write(m), folder / "raw")


def test_accounts_without_a_creation_date_are_dated_by_their_first_lead(export):
    """HubSpot's companies file has no create date: an account exists by its first contact."""
    folder, write = export
    m = mapping()
    del m["tables"]["accounts"]["columns"]["created_at"]
    report = import_export(write(m), folder / "raw")
    accounts = pd.read_parquet(folder / "raw" / "accounts.parquet").set_index("account_id")
    # acme: contacts created 2024-01-05 and 2024-01-07; beta: 2024-02-01
    assert pd.to_datetime(accounts["created_at"]).tolist() == [
        pd.Timestamp("2024-01-05"),
        pd.Timestamp("2024-02-01"),
    ]
    assert report["accounts_dated_by_first_lead"] == 2
    assert any("dated by their first lead's creation" in n for n in report["notes"])
    ing = ingest_folder(folder / "raw", folder / "validated", folder / "quarantine", IngestParams())
    assert ing["tables"]["accounts"]["quarantined"] == 0


def test_a_column_written_two_ways_is_read_with_a_list_of_formats(export):
    folder, write = export
    (folder / "contacts.csv").write_text(CONTACTS.replace("c3,2024-02-01", "c3,02/01/2024"))
    one = mapping(**{"tables.leads.columns.created_at.date_format": "%Y-%m-%d"})
    report = import_export(write(one), folder / "raw")
    assert any("give date_format a list of the formats" in n for n in report["unparsed_dates"])
    both = mapping(**{"tables.leads.columns.created_at.date_format": ["%Y-%m-%d", "%m/%d/%Y"]})
    report = import_export(write(both), folder / "raw")
    leads = pd.read_parquet(folder / "raw" / "leads.parquet")
    assert pd.to_datetime(leads["created_at"]).iloc[2] == pd.Timestamp("2024-02-01")
    assert not [n for n in report["unparsed_dates"] if "tables.leads" in n]


def test_a_semicolon_file_with_a_byte_order_mark_and_spaced_headers_reads_as_a_comma_one(export):
    """A trial's contacts file (';', a BOM, ' contact_id') beside a comma-separated deals file:
    one read_options for every file could not read both, and the BOM and the space were
    invisible in the error."""
    folder, write = export
    lines = CONTACTS.splitlines()
    header = " contact_id ; created;stage;channel;company"
    text = "\n".join([header, *(line.replace(",", ";") for line in lines[1:])]) + "\n"
    (folder / "contacts.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    import_export(write(mapping()), folder / "raw")
    plain = folder / "plain"
    (folder / "contacts.csv").write_text(CONTACTS)
    import_export(write(mapping()), plain)
    for table in ("leads", "milestones", "opportunities"):
        a = pd.read_parquet(folder / "raw" / f"{table}.parquet")
        b = pd.read_parquet(plain / f"{table}.parquet")
        pd.testing.assert_frame_equal(a, b)
    # a file's own read_options override the shared ones
    m = {**mapping(), "read_options": {"sep": ";", "deals": {"sep": ","}}}
    (folder / "contacts.csv").write_text(text)
    import_export(write(m), folder / "raw")
    # a name that is nearly right is suggested
    near = mapping(**{"tables.leads.columns.created_at": {"column": "Created"}})
    with pytest.raises(
        ReadinessError, match=r"lacks \(it has 5 column\(s\): .*did you mean 'created'\?"
    ):
        import_export(write(near), folder / "raw")


def test_a_reference_numbered_in_another_key_namespace_is_refused(export):
    """A deals file naming only the contact, mapped as account_id: {key: contact}, used to put
    deal of contact c3 (number 3) on whichever account got number 3: silently wrong."""
    folder, write = export
    wrong = mapping(
        **{"tables.opportunities.columns.account_id": {"key": "contact", "column": "contact_id"}}
    )
    with pytest.raises(
        ReadinessError,
        match=r"tables\.opportunities\.columns\.account_id refers to accounts with key namespace "
        r"'contact', but tables\.accounts\.columns\.account_id numbers them with key namespace "
        r"'company'.*leave opportunities\.account_id out",
    ):
        import_export(write(wrong), folder / "raw")


def test_a_deal_without_an_account_takes_its_primary_leads(export):
    folder, write = export
    m = mapping()
    opp = m["tables"]["opportunities"]["columns"]
    del opp["account_id"]
    opp["primary_lead_id"] = {"key": "contact", "column": "contact_id"}
    report = import_export(write(m), folder / "raw")
    deals = pd.read_parquet(folder / "raw" / "opportunities.parquet")
    leads = pd.read_parquet(folder / "raw" / "leads.parquet").set_index("lead_id")
    # d1 is c3's (lead 3, of beta: account 2); d2's contact c9 is no lead: no account, quarantined
    assert deals["account_id"].tolist()[0] == leads.loc[3, "account_id"] == 2
    assert pd.isna(deals["account_id"].tolist()[1])
    assert report["opportunity_accounts"] == {"from_primary_lead": 1, "differ_from_primary_lead": 0}
    # a deal mapped to an account other than its lead's is counted
    opp["account_id"] = {"value": 1}
    report = import_export(write(m), folder / "raw")
    assert report["opportunity_accounts"] == {"from_primary_lead": 0, "differ_from_primary_lead": 1}


def test_accounts_read_off_a_contacts_file_are_one_row_per_company_dated_by_its_earliest(export):
    """`distinct` by every column gave one account row per (company, contact date): every repeat
    was quarantined as a duplicate id, and the account dated by its first row, not its earliest."""
    folder, write = export
    (folder / "contacts.csv").write_text(CONTACTS.replace("c1,2024-01-05", "c1,2024-01-09"))
    m = mapping(
        **{
            "tables.accounts.columns.created_at": {"column": "created", "date_format": "%Y-%m-%d"},
            "tables.accounts.columns.industry": {
                "column": "stage",
                "values": {"*": None, "MQL": "software"},
            },
        }
    )
    report = import_export(write(m), folder / "raw")
    accounts = pd.read_parquet(folder / "raw" / "accounts.parquet")
    assert accounts["account_id"].tolist() == [1, 2]
    # acme: rows c1 (2024-01-09, no industry) and c2 (2024-01-07, software)
    assert accounts.loc[0, "created_at"] == pd.Timestamp("2024-01-07")
    assert accounts.loc[0, "industry"] == "software"  # the first filled value
    assert report["tables"]["accounts"]["from"][0]["rows_merged_per_id"] == 1
    assert "identical_rows_dropped" not in report["tables"]["accounts"]["from"][0]
    ing = ingest_folder(folder / "raw", folder / "validated", folder / "quarantine", IngestParams())
    assert (
        ing["tables"]["accounts"]["quarantined"] == 0 and ing["tables"]["leads"]["quarantined"] == 0
    )
    # a company whose first row's date does not parse keeps the earliest date that does: it is
    # not lost (with its leads) for one bad cell
    (folder / "contacts.csv").write_text(CONTACTS.replace("c1,2024-01-05", "c1,2024-02-31"))
    report = import_export(write(m), folder / "raw")
    assert len(report["unparsed_dates"]) >= 1
    accounts = pd.read_parquet(folder / "raw" / "accounts.parquet")
    assert pd.Timestamp(accounts.loc[0, "created_at"]).tz_localize(None) == pd.Timestamp(
        "2024-01-07"
    )
    ing = ingest_folder(folder / "raw", folder / "validated", folder / "quarantine", IngestParams())
    assert ing["tables"]["accounts"]["quarantined"] == 0
    assert ing["tables"]["leads"]["quarantined"] == 1  # c1 itself, its created_at named


def test_text_lead_ids_without_a_key_reach_ingest_not_a_pandas_error(export):
    """Lead ids used as written ('c1': no key) are ingest's to quarantine; looking up the deals'
    accounts must not fail on them first."""
    folder, write = export
    as_written = {"column": "contact_id"}
    m = mapping(
        **{
            "tables.leads.columns.lead_id": as_written,
            "tables.milestones.0.columns.lead_id": as_written,
            "tables.milestones.1.columns.lead_id": as_written,
        }
    )
    del m["tables"]["opportunities"]["columns"]["account_id"]
    m["tables"]["opportunities"]["columns"]["primary_lead_id"] = as_written
    report = import_export(write(m), folder / "raw")
    assert report["opportunity_accounts"] == {"from_primary_lead": 0, "differ_from_primary_lead": 0}
    ing = ingest_folder(folder / "raw", folder / "validated", folder / "quarantine", IngestParams())
    assert ing["reconciled"] and ing["tables"]["leads"]["quarantined"] == 3
    assert "lead_id: not a valid int64" in ing["tables"]["leads"]["quarantine_reasons"]


def test_a_date_written_as_iso_in_a_column_of_another_format_is_read_and_said(export):
    folder, write = export
    text = CONTACTS.replace("2024-01-05", "05.01.2024").replace("2024-01-07", "07.01.2024")
    (folder / "contacts.csv").write_text(text)  # c3 keeps 2024-02-01
    dotted = {"column": "created", "date_format": "%d.%m.%Y"}
    m = mapping(
        **{
            "tables.leads.columns.created_at": dotted,
            "tables.milestones.0.columns.occurred_at": dotted,
        }
    )
    report = import_export(write(m), folder / "raw")
    assert len(report["unparsed_dates"]) == 2
    assert "1 value(s) of column 'created'" in report["unparsed_dates"][0]
    assert "ISO 8601 dates, read as such (rows 3; e.g. '2024-02-01')" in report["unparsed_dates"][0]
    ing = ingest_folder(folder / "raw", folder / "validated", folder / "quarantine", IngestParams())
    leads = pd.read_parquet(folder / "validated" / "leads").set_index("lead_id")["created_at"]
    assert ing["tables"]["leads"]["quarantined"] == 0
    assert leads.to_dict() == {
        1: pd.Timestamp("2024-01-05"),
        2: pd.Timestamp("2024-01-07"),
        3: pd.Timestamp("2024-02-01"),
    }


def test_dates_across_a_daylight_saving_change_are_read_in_utc(export):
    """A German export writes +01:00 in winter and +02:00 in summer: the import stopped with
    pandas' 'Mixed timezones detected' and a traceback naming no file."""
    folder, write = export
    (folder / "contacts.csv").write_text(
        "contact_id,created,stage,channel,company\n"
        "c1,05.01.2024,Lead,web,acme\n"
        "c2,2024-01-07T10:00:00+01:00,MQL,fair,acme\n"
        "c3,2024-07-01 09:00:00+02:00,SQL,web,beta\n"
        "c4,06.01.2024,Lead,web,beta\n"
        "c5,08.01.2024,Lead,web,beta\n"
    )
    dotted = {"column": "created", "date_format": "%d.%m.%Y"}
    m = mapping(
        **{
            "tables.leads.columns.created_at": dotted,
            "tables.milestones.0.columns.occurred_at": dotted,
        }
    )
    report = import_export(write(m), folder / "raw")
    assert "2 value(s) of column 'created'" in report["unparsed_dates"][0]
    ingest_folder(folder / "raw", folder / "validated", folder / "quarantine", IngestParams())
    leads = pd.read_parquet(folder / "validated" / "leads").set_index("lead_id")["created_at"]
    assert leads[2] == pd.Timestamp("2024-01-07 09:00") and leads[3] == pd.Timestamp(
        "2024-07-01 07:00"
    )
    assert leads[1] == pd.Timestamp("2024-01-05")  # no offset: read as UTC, as ingest reads it


def test_a_repeated_milestone_is_kept_at_its_earliest_date_whatever_the_file_order(export):
    """Ingest keeps the first row of a repeated (lead, milestone): a later deal listed first used
    to date the label, and the earlier milestones then failed the ladder order."""
    folder, write = export
    (folder / "deals.csv").write_text(DEALS + "d3,c3,2024-02-20 10:00:00,100\n")
    report = import_export(write(mapping()), folder / "raw")
    assert report["tables"]["milestones"]["repeated_milestones_earliest_kept"] == 1
    ing = ingest_folder(folder / "raw", folder / "validated", folder / "quarantine", IngestParams())
    assert ing["reconciled"]
    ms = pd.read_parquet(folder / "validated" / "milestones")
    won = ms[(ms["lead_id"] == 3) & (ms["milestone"] == "closed_won")]
    assert won["occurred_at"].tolist() == [pd.Timestamp("2024-02-20 10:00:00")]
    q = pd.read_parquet(folder / "quarantine" / "milestones")
    later = q[q["reasons"].str.contains("duplicate lead_id+milestone", regex=False)]
    assert later[["file", "file_row"]].values.tolist() == [["deals.csv", 1]]
    # beside our numbering, the lead's own id in the export: the record a user can look up
    assert later[["lead_id", "lead_crm_id"]].values.tolist() == [["3", "c3"]]


def test_a_date_that_does_not_parse_is_noted_and_only_its_rows_are_quarantined(export):
    """One bad date used to stop the whole import; most dates not parsing still does (the format
    is wrong), but a few are their rows' problem, named with their value at ingest."""
    folder, write = export
    (folder / "contacts.csv").write_text(CONTACTS.replace("2024-02-01", "2024-02-31"))
    report = import_export(write(mapping()), folder / "raw")
    notes = report["unparsed_dates"]
    assert len(notes) == 2  # the lead's created_at and its milestone's occurred_at
    assert (
        "tables.leads.columns.created_at.date_format '%Y-%m-%d' does not parse 1 of 3" in notes[0]
    )
    assert "(rows 3; e.g. '2024-02-31')" in notes[0]
    ing = ingest_folder(folder / "raw", folder / "validated", folder / "quarantine", IngestParams())
    assert ing["reconciled"]
    leads = pd.read_parquet(folder / "validated" / "leads")
    assert sorted(leads["lead_id"]) == [1, 2]  # the other leads keep their parsed dates
    assert leads.set_index("lead_id").loc[2, "created_at"] == pd.Timestamp("2024-01-07")
    q = pd.concat(pd.read_parquet(p) for p in (folder / "quarantine" / "leads").glob("*.parquet"))
    assert q["reasons"].str.contains("created_at: .*'2024-02-31'").tolist() == [True]
    assert q[["file", "file_row"]].values.tolist() == [["contacts.csv", 3]]


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


def test_leads_numbered_by_row_get_a_key_map_to_their_rows(export):
    """A contact log without ids: leads numbered by row, and a key map says which file row each
    id is, so scores can be joined back."""
    folder, write = export
    m = mapping()
    m["tables"]["leads"]["columns"]["lead_id"] = {"row_number": True}
    del m["tables"]["milestones"]  # keyed by contact id: not this export
    import_export(write(m), folder / "raw")
    rows = pd.read_parquet(folder / "raw" / "_keys" / "leads_rows.parquet")
    assert rows.to_dict("list") == {
        "file": ["contacts.csv"] * 3,
        "row": [1, 2, 3],
        "our_id": [1, 2, 3],
    }
    leads = pd.read_parquet(folder / "raw" / "leads.parquet")
    assert leads["lead_id"].tolist() == [1, 2, 3]
    from readiness.raw.io import crm_ids

    assert crm_ids(folder / "raw", "leads").tolist() == [f"contacts.csv row {i}" for i in (1, 2, 3)]


VISITS = """contact_id,url,visited,kind
c1,https://x.io/blog/cost-of-doing-nothing,2024-01-06,blog
c1,https://x.io/case-studies/acme,2024-01-08,story
c2,https://x.io/pricing-guide,2024-01-09,guide
c2,https://x.io/about,2024-01-10,page
c3,https://x.io/about,2024-02-02,page
c3,https://x.io/webinars/roi,2024-02-03,Webinar
"""
PAGES = """page,name,category
https://x.io/pricing-guide,Pricing guide for CFOs,guide
https://x.io/about,About us,corporate
"""


def _content_mapping() -> dict:
    m = mapping()
    m["files"].update(visits="visits.csv", pages="pages.csv")
    m["tables"]["assets"] = {
        "from": "pages",
        "columns": {
            "asset_id": {"key": "page", "column": "page"},
            "title": {"column": "name"},
            "audience": {"value": "any"},  # set by the block: the rules leave it alone
        },
    }
    m["tables"]["events"] = {
        "from": "visits",
        "columns": {
            "event_id": {"row_number": True},
            "lead_id": {"key": "contact", "column": "contact_id"},
            "occurred_at": {"column": "visited", "date_format": "%Y-%m-%d"},
            "event_type": {"value": "page_view"},
            "asset_id": {"key": "page", "column": "url"},
        },
    }
    m["tagging"] = {
        "belief_stage": {
            "rules": [
                {"column": "title", "keywords": ["Cost of", "pricing"], "value": "urgency"},
                {"column": "url", "pattern": r"/case-stud(y|ies)/", "value": "capability"},
                {"column": "kind", "values": {"webinar": "category"}},
                {"column": "category", "values": {"corporate": "general"}},
            ],
            "default": "general",
        },
        "audience": {
            "rules": [{"column": "title", "keywords": ["CFO"], "value": "finance"}],
            "default": "any",
        },
    }
    return m


def test_tagging_rules_tag_assets_and_events_create_the_pages_they_name(export):
    folder, write = export
    (folder / "visits.csv").write_text(VISITS)
    (folder / "pages.csv").write_text(PAGES)
    report = import_export(write(_content_mapping()), folder / "raw")
    assets = pd.read_parquet(folder / "raw" / "assets.parquet").set_index("title")
    # the pages file's two assets, then the four pages only the events name, in order of visit
    assert list(assets.index) == [
        "Pricing guide for CFOs",
        "About us",
        "https://x.io/blog/cost-of-doing-nothing",
        "https://x.io/case-studies/acme",
        "https://x.io/webinars/roi",
    ]
    assert assets["belief_stage"].to_dict() == {
        "Pricing guide for CFOs": "urgency",  # title keyword, case-insensitive
        "About us": "general",  # the category value map
        "https://x.io/blog/cost-of-doing-nothing": "general",  # "cost-of" is not "cost of"
        "https://x.io/case-studies/acme": "capability",  # the URL pattern
        "https://x.io/webinars/roi": "category",  # a column of the events' file
    }
    # the block's own audience wins over the rules; created assets get the rules' audience
    assert assets.loc["Pricing guide for CFOs", "audience"] == "any"
    assert assets.loc["https://x.io/webinars/roi", "audience"] == "any"
    entry = report["tables"]["assets"]
    assert entry["rows"] == 5 and entry["created_from_events"] == 3
    assert entry["tagging"]["belief_stage"]["title contains Cost of / pricing -> urgency"] == 1
    assert entry["tagging"]["belief_stage"]["default -> general"] == 1
    # every event finds its asset; coverage counts events, not assets
    ing = ingest_folder(folder / "raw", folder / "validated", folder / "quarantine", IngestParams())
    assert ing["tables"]["events"]["quarantined"] == 0 and ing["tables"]["assets"]["accepted"] == 5
    cov = ing["content_coverage"]
    assert cov["consumed_events"] == 6 and cov["tagged_assets"] == 3
    assert cov["by_belief"] == {
        "urgency": 0.1667,
        "category": 0.1667,
        "capability": 0.1667,
        "alignment": 0.0,
    }
    assert cov["tagged_share"] == 0.5 and "alignment" in cov["reading"]


def test_untagged_content_is_general_and_coverage_says_what_to_do(export):
    folder, write = export
    (folder / "visits.csv").write_text(VISITS)
    (folder / "pages.csv").write_text(PAGES)
    m = _content_mapping()
    del m["tagging"]
    report = import_export(write(m), folder / "raw")
    assets = pd.read_parquet(folder / "raw" / "assets.parquet")
    assert set(assets["belief_stage"]) == {"general"} and set(assets["audience"]) == {"any"}
    assert report["tables"]["assets"]["tagging"]["belief_stage"] == {"untagged -> general": 5}
    ing = ingest_folder(folder / "raw", folder / "validated", folder / "quarantine", IngestParams())
    assert ing["content_coverage"]["tagged_share"] == 0.0
    assert "readiness assets --untagged" in ing["content_coverage"]["reading"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"default": "urgent"},
            "tagging.belief_stage.default: 'urgent' is not a belief_stage",
        ),
        (
            {"rules": [{"column": "title", "pattern": "([", "value": "urgency"}]},
            "is not a regular expression",
        ),
        (
            {"rules": [{"column": "topic", "keywords": ["roi"], "value": "urgency"}]},
            "tagging.belief_stage.rules[0] names column 'topic' that no asset.s source has",
        ),
        (
            {"rules": [{"column": "kind", "values": {"webinar": "webinars"}}]},
            "tagging.belief_stage.rules[0]: 'webinars' is not a belief_stage",
        ),
    ],
)
def test_tagging_mistakes_name_the_key(export, change, message):
    folder, write = export
    (folder / "visits.csv").write_text(VISITS)
    (folder / "pages.csv").write_text(PAGES)
    m = _content_mapping()
    m["tagging"]["belief_stage"].update(change)
    with pytest.raises(ReadinessError, match=message.replace("[", r"\[").replace("(", r"\(")):
        import_export(write(m), folder / "raw")


def test_events_and_assets_in_different_key_namespaces_are_refused(export):
    folder, write = export
    (folder / "visits.csv").write_text(VISITS)
    (folder / "pages.csv").write_text(PAGES)
    m = _content_mapping()
    m["tables"]["assets"]["columns"]["asset_id"]["key"] = "asset"
    with pytest.raises(
        ReadinessError,
        match="key namespace 'page', but .*key namespace 'asset'.*Give it `key: asset`",
    ):
        import_export(write(m), folder / "raw")


def test_a_distinct_assets_block_keeps_one_row_per_asset_whatever_the_rules_read(export):
    """Tags are set after `distinct`: rows of one page that differ in a column a rule reads
    (here the visit's kind) still make one asset, tagged from its first row."""
    folder, write = export
    (folder / "visits.csv").write_text(
        VISITS.replace(
            "c3,https://x.io/about,2024-02-02,page", "c3,https://x.io/about,2024-02-02,Webinar"
        )
    )
    m = _content_mapping()
    m["files"].pop("pages")
    m["tagging"]["belief_stage"]["rules"].pop()  # the pages file's category rule
    m["tables"]["assets"] = {
        "from": "visits",
        "distinct": True,
        "columns": {
            "asset_id": {"key": "page", "column": "url"},
            "title": {"column": "url"},
        },
    }
    report = import_export(write(m), folder / "raw")
    assets = pd.read_parquet(folder / "raw" / "assets.parquet")
    assert assets["asset_id"].is_unique and len(assets) == 5
    assert assets.set_index("title").loc["https://x.io/about", "belief_stage"] == "general"
    assert sum(report["tables"]["assets"]["tagging"]["belief_stage"].values()) == 5


def test_a_page_is_one_asset_whatever_campaign_led_to_it_and_keeps_its_page_title(export):
    folder, write = export
    (folder / "visits.csv").write_text(
        "contact_id,url,visited,kind,Page Title\n"
        "c1,https://x.io/blog/cost-of-doing-nothing?utm_source=li&utm_campaign=q1,2024-01-06,"
        "blog,The Cost of doing nothing\n"
        "c2,https://X.io/blog/cost-of-doing-nothing/?gclid=abc#top,2024-01-09,blog,"
        "The Cost of doing nothing\n"
        "c3,https://x.io/product?id=7&utm_medium=email,2024-02-02,page,Product tour\n"
        "c3,https://x.io/product?id=8,2024-02-03,page,Another product\n"
    )
    (folder / "pages.csv").write_text(PAGES)
    report = import_export(write(_content_mapping()), folder / "raw")
    assets = pd.read_parquet(folder / "raw" / "assets.parquet").set_index("title")
    # the two variants of the blog post are one asset; ?id= still tells two products apart
    assert report["tables"]["assets"]["created_from_events"] == 3
    assert list(assets.index[2:]) == [
        "The Cost of doing nothing",
        "Product tour",
        "Another product",
    ]
    assert assets.loc["The Cost of doing nothing", "belief_stage"] == "urgency"  # title rule
    pages = pd.read_parquet(folder / "raw" / "_keys" / "page.parquet")["their_id"].tolist()
    assert "https://x.io/product?id=7" in pages
    assert "https://x.io/blog/cost-of-doing-nothing" in pages and len(pages) == 5
    events = pd.read_parquet(folder / "raw" / "events.parquet")
    assert events["asset_id"].tolist()[:2] == [events["asset_id"].iloc[0]] * 2
    ing = ingest_folder(folder / "raw", folder / "validated", folder / "quarantine", IngestParams())
    assert ing["tables"]["events"]["quarantined"] == 0


def test_lost_deals_that_leave_their_lead_open_are_counted(export):
    folder, write = export
    m = mapping()
    deals = m["tables"]["opportunities"]["columns"]
    deals["outcome"] = {"value": "lost"}
    deals["primary_lead_id"] = {"key": "contact", "column": "contact_id"}
    m["tables"]["milestones"] = m["tables"]["milestones"][:1]  # no closed milestone mapped
    report = import_export(write(m), folder / "raw")
    assert report["lost_deals_without_closed_lost"] == 2
    m["tables"]["milestones"].append(
        {
            "from": "deals",
            "columns": {
                "lead_id": {"key": "contact", "column": "contact_id"},
                "milestone": {"value": "closed_lost"},
                "occurred_at": {"column": "closed", "date_format": "%Y-%m-%d %H:%M:%S"},
            },
        }
    )
    assert import_export(write(m), folder / "raw")["lost_deals_without_closed_lost"] == 0


def test_a_value_map_matches_up_to_case_and_spacing_but_never_guesses_between_entries(export):
    folder, write = export
    (folder / "contacts.csv").write_text(
        "contact_id,created,stage,channel,company\n"
        "c1,2024-01-05,Lead, Web,acme\n"
        "c2,2024-01-07,MQL,FAIR  ,acme\n"
        "c3,2024-02-01,SQL,web,beta\n"
    )
    import_export(write(mapping()), folder / "raw")
    leads = pd.read_parquet(folder / "raw" / "leads.parquet")
    assert leads["source_channel"].tolist() == ["organic_search", "events", "organic_search"]
    # two entries that fold together onto different values: only exact spellings match
    m = mapping()
    m["tables"]["leads"]["columns"]["source_channel"]["values"] = {
        "web": "organic_search",
        "WEB": "paid_search",
        "fair": "events",
    }
    with pytest.raises(ReadinessError, match=r"does not cover 1 value\(s\).*' Web'"):
        import_export(write(m), folder / "raw")


def _contacts_with_emails(first: str, second: str) -> str:
    """CONTACTS with an email column: c1 and c2 hold `first` and `second`, c3 cy@beta.io."""
    return (
        CONTACTS.replace("company\n", "company,email\n")
        .replace("acme\nc2", f"acme,{first}\nc2")
        .replace("fair,acme\n", f"fair,acme,{second}\n")
        .replace("web,beta\n", "web,beta,cy@beta.io\n")
    )


def _email_events(lead_id: dict, event_type: dict) -> dict:
    """An events block from email.csv (Recipient, Created): one row per e-mail event."""
    return {
        "from": "email",
        "columns": {
            "event_id": {"row_number": True},
            "lead_id": lead_id,
            "occurred_at": {"column": "Created", "date_format": "%Y-%m-%d"},
            "event_type": event_type,
        },
    }


def _lookup_by_email() -> dict:
    """Events' lead_id: the Recipient's address read through contacts.csv to its contact_id."""
    return {
        "key": "contact",
        "column": "Recipient",
        "lookup": {"file": "contacts", "match": "email", "take": "contact_id"},
    }


def test_a_list_of_ids_gives_its_first_and_a_lookup_reads_an_email_as_its_contacts_id(export):
    """HubSpot: a deal lists its contacts ("c3;c1"), email events name the contact by address
    (in another case), and a column of other identifiers is an error, not every row lost."""
    folder, write = export
    (folder / "deals.csv").write_text(
        "deal,contact_id,closed,value\nd1,c3;c1,2024-03-01 10:00:00,5000\n"
        "d2,c2 ; c3,2024-03-02 11:00:00,0\n"
    )
    (folder / "contacts.csv").write_text(_contacts_with_emails("Ann@Acme.com", "bo@acme.com"))
    (folder / "email.csv").write_text(
        "Recipient,Created,Type\nann@acme.com,2024-01-06,OPEN\n BO@ACME.COM,2024-01-08,CLICK\n"
        "zed@nowhere.org,2024-01-09,OPEN\n"
    )
    m = mapping()
    m["files"]["email"] = "email.csv"
    m["tables"]["milestones"][1]["columns"]["lead_id"]["split"] = ";"
    m["tables"]["events"] = _email_events(
        _lookup_by_email(),
        {"column": "Type", "values": {"OPEN": "email_open", "CLICK": "email_click"}},
    )
    report = import_export(write(m), folder / "raw")
    ms = pd.read_parquet(folder / "raw" / "milestones.parquet")
    # the first contact of each deal: c3 (lead 3) and c2 (lead 2), spaces aside
    assert ms.loc[ms["milestone"] == "closed_won", "lead_id"].tolist() == [3, 2]
    events = pd.read_parquet(folder / "raw" / "events.parquet")
    assert events["lead_id"].tolist()[:2] == [1, 2]  # by address, whatever its case
    assert pd.isna(events["lead_id"].tolist()[2])  # an address no contact has: left empty
    notes = " ".join(report["notes"])
    assert "2 cell(s) of column 'contact_id'" in notes and "the first of each is taken" in notes
    assert "1 of 3 value(s) of column 'Recipient'" in notes and "'zed@nowhere.org'" in notes
    # most values in no row of the match column: the wrong column, said so
    m["tables"]["events"]["columns"]["lead_id"]["lookup"]["match"] = "company"
    with pytest.raises(ReadinessError, match=r"lookup: 3 of 3 value\(s\).*is 'company' the column"):
        import_export(write(m), folder / "raw")


def test_a_reference_column_of_other_identifiers_is_refused_and_a_few_unknown_ids_are_noted(export):
    folder, write = export
    report = import_export(write(mapping()), folder / "raw")
    # d2's contact c9 is no lead: its closed_won milestone is noted (ingest quarantines it)
    assert report["unmatched_references"] == {"milestones.lead_id": 1}
    assert any(
        "name a lead that leads lacks (key 'contact', e.g. 'c9'; leads' own ids read e.g. 'c1', "
        "'c2')" in n
        for n in report["notes"]
    )
    # a column holding e-mails keyed as contacts: every id unknown, refused before ingest
    rows = "".join(f"x{i}@mail.com,2024-01-06,OPEN\n" for i in range(12))
    (folder / "email.csv").write_text("Recipient,Created,Type\n" + rows)
    m = mapping()
    m["files"]["email"] = "email.csv"
    m["tables"]["events"] = _email_events(
        {"key": "contact", "column": "Recipient"}, {"value": "email_open"}
    )
    with pytest.raises(
        ReadinessError, match=r"12 of 12 row\(s\) name a lead that leads lacks.*lookup"
    ):
        import_export(write(m), folder / "raw")
    # an empty id with a fill is numbered like the others (no longer silently left empty)
    (folder / "contacts.csv").write_text(CONTACTS.replace("web,beta", "web,"))
    m = mapping()
    m["tables"]["leads"]["columns"]["account_id"]["fill"] = "acme"
    import_export(write(m), folder / "raw")
    assert pd.read_parquet(folder / "raw" / "leads.parquet")["account_id"].tolist() == [1, 1, 1]


def test_an_open_deals_close_date_is_its_expected_close_and_left_empty(export):
    folder, write = export
    (folder / "deals.csv").write_text(
        "deal,contact_id,closed,value,stage\nd1,c3,2024-03-01 10:00:00,5000,closedwon\n"
        "d2,c2,2024-09-30 00:00:00,0,contractsent\n"
    )
    m = mapping()
    m["tables"]["opportunities"]["columns"]["outcome"] = {
        "column": "stage",
        "values": {"closedwon": "won", "*": "open"},
    }
    report = import_export(write(m), folder / "raw")
    deals = pd.read_parquet(folder / "raw" / "opportunities.parquet")
    assert deals["outcome"].tolist() == ["won", "open"]
    assert deals["closed_at"].notna().tolist() == [True, False]
    assert report["open_deals_close_dates_dropped"] == 1
    assert any("read as the expected close" in n for n in report["notes"])
    ingest_folder(folder / "raw", folder / "validated", folder / "quarantine", IngestParams())
    assert len(pd.read_parquet(folder / "validated" / "opportunities")) == 2


def test_ids_saved_through_excel_match_the_same_ids_written_plainly(export):
    """Excel writes a Salesforce id as '00Q5g...: the contacts file had the marker, the deals
    file not, and every reference was refused."""
    folder, write = export
    (folder / "contacts.csv").write_text(CONTACTS.replace("\nc", "\n'c"))
    report = import_export(write(mapping()), folder / "raw")
    assert report["unmatched_references"] == {"milestones.lead_id": 1}  # c9 only, as without
    keys = pd.read_parquet(folder / "raw" / "_keys" / "contact.parquet")
    assert sorted(keys["their_id"]) == ["c1", "c2", "c3", "c9"]  # no marker in the crm ids
    # an id that matches nothing names the table's own ids beside it
    (folder / "deals.csv").write_text(
        "deal,contact_id,closed,value\n"
        + "".join(f"d{i},x{i},2024-03-01 10:00:00,5\n" for i in range(12))
    )
    with pytest.raises(ReadinessError, match=r"e\.g\. 'x0'.*leads' own ids read e\.g\. 'c1', 'c2'"):
        import_export(write(mapping()), folder / "raw")
    # a lookup matches through the marker too: the contacts file saved through Excel, the
    # e-mail log not
    (folder / "deals.csv").write_text(DEALS)
    (folder / "contacts.csv").write_text(_contacts_with_emails("'ann@acme.com", "'bo@acme.com"))
    (folder / "email.csv").write_text("Recipient,Created\nbo@acme.com,2024-01-08\n")
    m = mapping()
    m["files"]["email"] = "email.csv"
    m["tables"]["events"] = _email_events(_lookup_by_email(), {"value": "email_open"})
    import_export(write(m), folder / "raw")
    events = pd.read_parquet(folder / "raw" / "events.parquet")
    keys = pd.read_parquet(folder / "raw" / "_keys" / "contact.parquet")
    assert events["lead_id"].map(
        dict(zip(keys["our_id"], keys["their_id"], strict=True))
    ).tolist() == ["c2"]


def test_deal_amounts_written_as_a_crm_formats_them_are_read(export):
    """A German CRM's deal values ('€ 1.200.000,50') were quarantined as not numbers."""
    folder, write = export
    (folder / "deals.csv").write_text(
        'deal,contact_id,closed,value\nd1,c3,2024-03-01 10:00:00,"€ 1.200.000,50"\n'
        "d2,c2,2024-03-02 11:00:00,'12.500\nd3,c1,2024-03-03 11:00:00,ask\n"
    )
    report = import_export(write(mapping()), folder / "raw")
    deals = pd.read_parquet(folder / "raw" / "opportunities.parquet")
    # '12.500' could be either: the column's other value writes decimal commas, so 12500
    assert deals["amount"].tolist()[:2] == ["1200000.50", "12500"]
    assert report["opportunity_amounts"]["numbers_unformatted"] == 2
    assert any("the deals' amount" in n and "decimal commas" in n for n in report["notes"])
    ing = ingest_folder(folder / "raw", folder / "validated", folder / "quarantine", IngestParams())
    assert ing["reconciled"] and ing["tables"]["opportunities"]["quarantined"] == 1  # 'ask'
    validated = pd.read_parquet(folder / "validated" / "opportunities")
    assert sorted(validated["amount"]) == [12500.0, 1200000.5]


def test_an_unsplit_list_of_ids_and_an_ambiguous_lookup_are_said(export):
    folder, write = export
    (folder / "deals.csv").write_text(
        "deal,contact_id,closed,value\nd1,c3;c1,2024-03-01 10:00:00,5000\n"
        "d2,c2,2024-03-02 11:00:00,0\n"
    )
    report = import_export(write(mapping()), folder / "raw")
    said = " ".join(report["notes"])
    # the deals block (milestones[1]) is named with the other one keying the column, and split
    # is suggested
    assert "tables.milestones[0].columns.lead_id / tables.milestones[1].columns.lead_id" in said
    assert "`split: ';'` takes the first" in said
    # two contacts holding one address: the first is taken, and said
    (folder / "contacts.csv").write_text(_contacts_with_emails("ann@acme.com", "ANN@acme.com"))
    (folder / "email.csv").write_text("Recipient,Created\nann@acme.com,2024-01-06\n")
    m = mapping()
    m["files"]["email"] = "email.csv"
    m["tables"]["events"] = _email_events(_lookup_by_email(), {"value": "email_open"})
    report = import_export(write(m), folder / "raw")
    assert pd.read_parquet(folder / "raw" / "events.parquet")["lead_id"].tolist() == [1]
    assert any(
        "1 value(s) of 'email' in file 'contacts' belong to rows with different 'contact_id'" in n
        for n in report["notes"]
    )


def test_company_sizes_written_as_counts_or_ranges_are_put_in_their_bands(export):
    from readiness.raw.mapping import _employee_bands

    sizes = pd.Series(
        ["51-200", "1,200", "1.001-5.000", "10.000+", "<10", "0", "lots", None, "7"]
        + ["5,000+", "1000+", "201 - 1000"]
    )
    report: dict = {}
    notes: list[str] = []
    banded = _employee_bands(sizes, report, notes)
    assert banded.tolist() == [
        "51-200",  # one of ours: kept
        "1001-5000",
        "1001-5000",  # ours, with German thousands separators
        "5000+",
        "1-50",
        None,  # no employees: unknown, said
        None,  # no size: unknown, said, the account kept
        None,
        "1-50",
        "5000+",  # ours, with a thousands separator
        "1001-5000",  # more than 1000: the band above the bound
        "201-1000",  # ours, with spaces
    ]
    assert report["employee_bands_from_counts"] == 5
    assert "1 of no employees left empty" in notes[-1]
    # through the import: the export's count reaches the account's band
    folder, write = export
    (folder / "contacts.csv").write_text(
        CONTACTS.replace("company\n", "company,size\n")
        .replace("acme\n", 'acme,"1,200"\n')
        .replace("beta\n", "beta,51 - 100\n")
    )
    m = mapping()
    m["tables"]["accounts"]["columns"]["employee_band"] = {"column": "size"}
    import_export(write(m), folder / "raw")
    accounts = pd.read_parquet(folder / "raw" / "accounts.parquet")
    assert accounts["employee_band"].tolist() == ["1001-5000", "51-200"]


def test_a_field_of_ours_written_in_their_words_keeps_its_rows_and_reaches_the_model(export):
    """An Industry column mapped onto accounts.industry as it is: a value ours up to case is
    read as ours; the others are left empty there (their accounts, leads and events kept, where
    ingest quarantined them all) and the column is kept whole as the user's own attribute. An
    email address in email_domain_type is read as its domain's type."""
    folder, write = export
    (folder / "contacts.csv").write_text(
        "contact_id,created,stage,channel,company,sector,email\n"
        "c1,2024-01-05,Lead,web,acme,Software,ann@GMAIL.com\n"
        "c2,2024-01-07,MQL,fair,acme,Software,bob@acme.com\n"
        "c3,2024-02-01,SQL,web,beta,Government,cy@beta.io\n"
    )
    m = mapping()
    m["tables"]["accounts"]["columns"]["industry"] = {"column": "sector"}
    m["tables"]["leads"]["columns"]["email_domain_type"] = {"column": "email"}
    report = import_export(write(m), folder / "raw")
    accounts = pd.read_parquet(folder / "raw" / "accounts.parquet")
    assert accounts["industry"].fillna("(empty)").tolist() == ["software", "(empty)"]
    assert report["tables"]["accounts"]["from"][0]["values_not_ours_left_empty"] == {"industry": 1}
    said = [n for n in report["notes"] if "are not among ours" in n]
    assert len(said) == 1 and "'Government'" in said[0] and "attribute 'industry'" in said[0]
    attrs = pd.read_parquet(folder / "raw" / "attributes.parquet")
    assert attrs[["entity", "entity_id", "attribute", "value"]].values.tolist() == [
        ["account", 1, "industry", "Software"],
        ["account", 2, "industry", "Government"],
    ]
    leads = pd.read_parquet(folder / "raw" / "leads.parquet")
    assert leads["email_domain_type"].tolist() == ["free", "business", "business"]
    ing = ingest_folder(folder / "raw", folder / "validated", folder / "quarantine", IngestParams())
    assert (
        ing["tables"]["accounts"]["quarantined"] == 0 and ing["tables"]["leads"]["quarantined"] == 0
    )
    assert not [n for n in report["notes"] if "on more than one lead" in n]
    # one address on two lead rows (trial 8: 67 addresses on 137 contacts): said, not merged
    (folder / "contacts.csv").write_text(
        (folder / "contacts.csv").read_text().replace("cy@beta.io", " Ann@gmail.com")
    )
    report = import_export(write(m), folder / "raw")
    said = [n for n in report["notes"] if "on more than one lead" in n]
    assert len(said) == 1 and "1 email address(es)" in said[0] and "rows 1, 3" in said[0]
    assert len(pd.read_parquet(folder / "raw" / "leads.parquet")) == 3


def test_a_job_title_column_gives_seniority_and_persona_by_its_words(export):
    """A trial's Job Title mapped onto seniority and persona left all 5,500 leads empty: titles
    are read by their words (a vice president is no president; champions and end users depend on
    the product and stay empty), the rest left empty and the column kept as an attribute."""
    folder, write = export
    (folder / "contacts.csv").write_text(
        "contact_id,created,stage,channel,company,title\n"
        "c1,2024-01-05,Lead,web,acme,VP Marketing\n"
        "c2,2024-01-07,MQL,fair,acme,Sr. Data Engineer\n"
        "c3,2024-02-01,SQL,web,beta,Co-Founder & CFO\n"
        "c4,2024-02-03,Lead,web,beta,Vice-President Finance\n"
        "c5,2024-02-04,Lead,web,beta,Head of IT\n"
        "c6,2024-02-05,Lead,web,beta,Student\n"
        "c7,2024-02-06,Lead,web,beta,manager\n"
    )
    m = mapping()
    m["tables"]["leads"]["columns"]["seniority"] = {"column": "title"}
    m["tables"]["leads"]["columns"]["persona"] = {"column": "title"}
    report = import_export(write(m), folder / "raw")
    leads = pd.read_parquet(folder / "raw" / "leads.parquet").fillna("-")
    assert leads["seniority"].tolist() == [
        "vp",
        "individual_contributor",
        "c_level",
        "vp",
        "director",
        "-",  # a student says no seniority
        "manager",  # ours as written
    ]
    assert leads["persona"].tolist() == [
        "-",
        "technical",
        "finance",
        "finance",
        "technical",
        "-",
        "-",
    ]
    said = [n for n in report["notes"] if "read as job titles" in n]
    assert len(said) == 2 and "'VP Marketing' as vp" in " ".join(said)
    empty = report["tables"]["leads"]["from"][0]["values_not_ours_left_empty"]
    assert empty == {"seniority": 1, "persona": 3}
    # the titles themselves stay the user's own attribute, once (named after a field of theirs)
    attrs = pd.read_parquet(folder / "raw" / "attributes.parquet")
    assert len(set(attrs["attribute"])) == 1 and len(attrs) == 7
    assert "Student" in attrs["value"].tolist()


def test_a_country_column_gives_the_accounts_region(export):
    """Two trials wrote 20-line value maps for US/USA/United States/DE/deutschland: a Country
    column mapped onto region is read by the country's name or ISO code."""
    folder, write = export
    (folder / "contacts.csv").write_text(
        "contact_id,created,stage,channel,company,country\n"
        "c1,2024-01-05,Lead,web,acme,U.S.A.\n"
        "c2,2024-01-07,MQL,fair,beta,deutschland\n"
        "c3,2024-02-01,SQL,web,gamma,Österreich\n"
        "c4,2024-02-03,Lead,web,delta,JP\n"
        "c5,2024-02-04,Lead,web,eps,Brasil\n"
        "c6,2024-02-05,Lead,web,zeta,Atlantis\n"
        "c7,2024-02-06,Lead,web,eta,EMEA\n"
    )
    m = mapping()
    m["tables"]["accounts"]["columns"]["region"] = {"column": "country"}
    report = import_export(write(m), folder / "raw")
    accounts = pd.read_parquet(folder / "raw" / "accounts.parquet").fillna("-")
    assert accounts["region"].tolist() == [
        "north_america",
        "emea",
        "emea",
        "apac",
        "latam",
        "-",  # no country the table knows: unknown, and said
        "emea",  # ours as written
    ]
    said = [n for n in report["notes"] if "read as countries" in n]
    assert len(said) == 1 and "5 value(s)" in said[0]
    assert report["tables"]["accounts"]["from"][0]["values_not_ours_left_empty"] == {"region": 1}


@pytest.mark.parametrize(
    "title, seniority, persona",
    [
        ("Assistant to the CEO", "individual_contributor", None),
        ("CEO Assistant", "individual_contributor", None),
        ("Product Owner", None, None),
        ("Business Owner", "c_level", "executive"),
        ("Partner Manager", "manager", None),
        ("Managing Partner", "c_level", "executive"),
        ("Head Chef", None, None),
        ("Department Head", "director", None),
        ("Executive", None, None),
        ("Account Executive", "individual_contributor", None),
        ("Software Sales Rep", "individual_contributor", None),
        ("Technical Recruiter", "individual_contributor", None),
        ("Data Entry Clerk", "individual_contributor", None),
        ("IT Manager", "manager", "technical"),
        ("Director of Procurement", "director", "finance"),
        ("Co-Founder & CTO", "c_level", "technical"),
    ],
)
def test_titles_that_look_alike_are_read_apart(title, seniority, persona):
    """The review's cases: an assistant to a chief, a product owner, a partner manager, a head
    chef and a software sales rep are not what their words first suggest."""
    from readiness.raw.vocabulary import from_titles as _from_titles

    t = pd.Series([title])
    for field, expected in (("seniority", seniority), ("persona", persona)):
        read = _from_titles(t, field).iloc[0]
        assert (None if pd.isna(read) else read) == expected, field


def test_a_url_written_without_its_scheme_is_one_page_whatever_campaign_led_to_it():
    from readiness.raw.mapping import canonical_url

    plain = canonical_url("www.Acme-Soft.com/pricing/")
    assert plain == "www.acme-soft.com/pricing"
    assert canonical_url("www.acme-soft.com/pricing?utm_source=li&gclid=x#top") == plain
    assert canonical_url("acme.com/product?id=7&utm_medium=email") == "acme.com/product?id=7"
    # text that is no URL stays as it is
    assert canonical_url("report.pdf") == "report.pdf"
    assert canonical_url("Cost of delay benchmark") == "Cost of delay benchmark"
    assert canonical_url("HTTPS://X.io/a/?utm_source=z") == "https://x.io/a"
    # a site's own path, as web analytics write pages (trial 8: 456 assets for 37 pages)
    assert canonical_url("/blog/x?utm_source=news&utm_campaign=c30") == "/blog/x"
    assert canonical_url("/p/?id=3&gclid=9#top") == "/p?id=3"
    assert canonical_url("/") == "/" and canonical_url("//cdn.x.io/a") == "//cdn.x.io/a"


def test_a_salesforce_id_in_its_15_and_18_character_forms_is_one_record():
    """Trial 9: campaign members named leads by the 15-character id, the lead file by the
    18-character one (Salesforce's documented pair: 001A0000006Vm9r and 001A0000006Vm9rIAC)."""
    from readiness.raw.mapping import _Keys, _salesforce_twin

    assert _salesforce_twin("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    assert _salesforce_twin("001A0000006Vm9rIAC") == "001A0000006Vm9r"
    # an 18-character value whose suffix does not check, or any other id, has no twin
    assert _salesforce_twin("001A0000006Vm9rXYZ") is None and _salesforce_twin("c-17") is None
    keys = _Keys()
    leads = keys.number("lead", pd.Series(["001A0000006Vm9rIAC", "00Q5g0000cN2bB5EAJ"]))
    members = keys.number("lead", pd.Series(["001A0000006Vm9r", "001a0000006vm9r"]))
    assert members.iloc[0] == leads.iloc[0]
    assert members.iloc[1] not in leads.tolist()  # 15-character ids are case-sensitive


def test_pages_numbered_as_keys_are_one_asset_whatever_campaign_or_scheme():
    from readiness.raw.mapping import _Keys

    keys = _Keys()
    pages = pd.Series(
        ["/pricing?utm_source=a", "/pricing/", "www.x.io/a?gclid=1", "www.x.io/a", "C-1"]
    )
    ids = keys.number("page", pages).tolist()
    assert ids[0] == ids[1] and ids[2] == ids[3] and len(set(ids)) == 3


def test_a_field_kept_as_an_attribute_reads_what_the_field_reads(export, tmp_path):
    """Review of c8337a7: an id through a lookup works; a field through a lookup, or an email
    column, is never kept as an attribute (it would read a company name, or every address); a
    third block's attribute gets a name of its own; a true/false column takes an empty cell."""
    from readiness.raw.mapping import _our_vocabulary, load_mapping

    folder, write = export
    (folder / "contacts.csv").write_text(
        "contact_id,created,stage,channel,company,sector,email\n"
        "c1,2024-01-05,Lead,web,acme,Software,n/a\n"
        "c2,2024-01-07,MQL,fair,acme,Software,bob@acme.com\n"
        "c3,2024-02-01,SQL,web,beta,Government,cy@beta.io\n"
    )
    (folder / "people.csv").write_text("person,email\np1,bob@acme.com\np2,cy@beta.io\n")
    (folder / "companies.csv").write_text("name,Industry\nacme,Software\nbeta,Charity\n")
    m = mapping()
    m["files"] |= {"companies": "companies.csv"}
    m["tables"]["accounts"]["columns"]["industry"] = {
        "column": "company",
        "lookup": {"file": "companies", "match": "name", "take": "Industry"},
    }
    m["tables"]["leads"]["columns"]["email_domain_type"] = {"column": "email"}
    m["tables"]["leads"]["columns"]["persona"] = {"column": "sector"}
    report = import_export(write(m), folder / "raw")
    declared = set(pd.read_parquet(folder / "raw" / "attributes.parquet")["attribute"])
    assert declared == {"persona"}  # not the looked-up industry, not the email column
    notes = " ".join(report["notes"])
    assert "'Charity'" in notes and "'n/a'" in notes
    # three blocks of one table: each kept column gets its own name
    mp = load_mapping(write(mapping()))
    built = pd.DataFrame({"lead_id": [1, 2], "persona": ["Wizard", "Bard"]})
    block = mp.tables["leads"]
    names = []
    for i in range(3):  # the same column of three files
        b = block.model_copy(update={"from_": f"file{i}"})
        b = b.model_copy(
            update={
                "columns": {
                    **block.columns,
                    "persona": block.columns["source_channel"].model_copy(update={"values": None}),
                }
            }
        )
        _our_vocabulary("leads", built.copy(), b, "tables.leads", "f.csv", mp, names)
    assert list(mp.attributes) == ["persona", "persona_as_written", "persona_as_written_2"]
    flags = pd.DataFrame({"email_domain_type": [True, False]})
    eb = block.model_copy(
        update={"columns": {**block.columns, "email_domain_type": block.columns["source_channel"]}}
    )
    _our_vocabulary("leads", flags, eb, "tables.leads", "f.csv", mp, [], email=True)
    assert flags["email_domain_type"].isna().all()
