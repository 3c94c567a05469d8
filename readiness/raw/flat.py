"""Flat exports: one row per lead, an outcome flag, no dates.

A CRM lead list often carries no timeline: a lead's attributes and whether it converted, as of
the day the list was exported. The mapping declares such an export with `flat: {as_of: DATE}`;
the import then dates what the export does not: every lead, account, event and touch the day
before the as-of date (known before the snapshot), every milestone and deal on the as-of date
(the outcome). `flat.json` beside the raw tables records it; ingest carries it to the validated
tables, and every later stage reads it from there:

- features: one snapshot per lead, at the as-of date (no calendar of cutoffs);
- labels: a lead is positive for a gate when the export records the gate, never censored;
- train and evaluate: stratified cross-validation grouped by account instead of a time split,
  and every metric says so.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from readiness.errors import ReadinessError

FILE = "flat.json"
# the columns that hold an outcome: dated on the as-of date itself, never before it
OUTCOME_COLUMNS = {
    "milestones": ("occurred_at",),
    "opportunities": ("created_at", "closed_at"),
}


def write_flat(folder: Path, as_of: date) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / FILE).write_text(json.dumps({"flat": True, "as_of": str(as_of)}, indent=2) + "\n")


def read_flat(folder: Path) -> date | None:
    """The as-of date of a flat export whose tables are in `folder`; None for a dated export."""
    path = folder / FILE
    if not path.exists():
        return None
    try:
        return date.fromisoformat(json.loads(path.read_text(encoding="utf-8"))["as_of"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ReadinessError(
            f"{path} does not say {{'flat': true, 'as_of': 'YYYY-MM-DD'}}: {exc}"
        ) from exc
