"""The report's top notes say what import and ingest set aside or read with a caveat."""

from __future__ import annotations

from pipelines.report.stage import _data_notes


def test_quarantines_and_import_caveats_are_named_at_the_top_of_the_report():
    ingested = {
        "tables": {
            "leads": {
                "read": 5100,
                "quarantined": 112,
                "quarantine_reasons": {"lead_id: duplicate lead_id": 100, "created_at: x": 12},
            },
            "events": {"read": 69001, "quarantined": 0, "quarantine_reasons": {}},
        }
    }
    imported = {
        "unparsed_dates": ["tables.leads.columns.created_at.date_format ... ('TBD')"],
        "notes": ["461 open deal(s) have a close date, read as the expected close"],
        "tables": {"attributes": {"warnings": ["a", "b", "c"]}},
    }
    notes = _data_notes(imported, ingested)
    assert len(notes) == 2
    assert "leads 112 of 5,100 (mostly 'lead_id: duplicate lead_id')" in notes[0]
    assert "events" not in notes[0]  # nothing set aside there
    assert "(5 note(s))" in notes[1] and "'TBD'" in notes[1] and "and 2 more" in notes[1]
    assert "461 open deal(s)" in notes[1]  # the import's own notes (splits, lookups, deals)
    assert _data_notes({}, {}) == []  # a clean export, or metrics not written: nothing to say
