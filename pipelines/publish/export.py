"""CSV and Parquet exports of a run in a layout CRM imports accept.

One folder per run with leads, accounts and handoffs (the sales_now leads) as CSV (UTF-8, comma,
header row, ISO 8601 UTC timestamps ending in Z, empty cells for missing values, no index) and as
Parquet, plus run.json. The first column of each file is the record's external id, and column
names are snake_case without spaces so an import mapping can name them directly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from readiness.scores import HANDOFF_RECORD


def _for_csv(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


def export_run(
    folder: Path, run: dict, leads: pd.DataFrame, accounts: pd.DataFrame
) -> dict[str, int]:
    """Write the run's files to folder/<run_id>/ (replacing an earlier export of the same run)."""
    target = folder / run["run_id"]
    target.mkdir(parents=True, exist_ok=True)
    handoffs = leads.loc[leads["route"] == "sales_now", list(HANDOFF_RECORD)].sort_values(
        ["sla_due", "lead_id"]
    )
    files = {"leads": leads, "accounts": accounts, "handoffs": handoffs}
    for name, frame in files.items():
        frame.to_parquet(target / f"{name}.parquet", index=False)
        _for_csv(frame).to_csv(target / f"{name}.csv", index=False, encoding="utf-8")
    (target / "run.json").write_text(json.dumps(run, indent=2, default=str) + "\n")
    (folder / "latest.json").write_text(
        json.dumps({"run_id": run["run_id"], "folder": str(target.name)}) + "\n"
    )
    return {name: len(frame) for name, frame in files.items()}
