"""CSV and Parquet exports of a run in a layout CRM imports accept.

One folder per run with leads, accounts and handoffs (the sales_now leads) as CSV (UTF-8, comma,
header row, ISO 8601 UTC timestamps ending in Z, empty cells for missing values, no index) and as
Parquet, plus run.json (the run and the SHA-256 of every file). The first column of each file is
the record's external id, and column names are snake_case without spaces so an import mapping can
name them directly.

Safe to open and to trust: a text cell starting with =, +, -, @, tab or carriage return gets a
leading single quote (OWASP's CSV-injection rule), so a spreadsheet shows it as text instead of
running it as a formula; the folder is written under a temporary name and renamed into place, so
it is complete or absent, never half written.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd

from pipelines.common import sha256_of, write_json
from readiness.errors import ReadinessError
from readiness.scores import HANDOFF_RECORD, check_run_content, check_run_id

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_TABLES = ("leads", "accounts", "handoffs")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula, prefixed with a single quote."""
    out = frame.copy()
    for c in out.columns:
        col = out[c]
        if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
            risky = col.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_PREFIXES))
            if risky.any():
                out[c] = col.where(~risky.astype(bool), "'" + col.astype(str))
    return out


def _for_csv(frame: pd.DataFrame) -> pd.DataFrame:
    out = neutralise_formulas(frame)
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


def _remove_leftovers(folder: Path) -> None:
    """Folders of an export killed before its rename (never visible under a run id)."""
    for stale in [*folder.glob(".partial-*"), *folder.glob(".replaced-*")]:
        shutil.rmtree(stale, ignore_errors=True)


def export_run(
    folder: Path, run: dict, leads: pd.DataFrame, accounts: pd.DataFrame
) -> dict[str, int]:
    """Write the run's files to folder/<run_id>/ (replacing an earlier export of the same run),
    atomically: into a temporary folder first, renamed into place when complete."""
    run_id = check_run_id(run.get("run_id"))
    folder.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(folder)
    record = [c for c in HANDOFF_RECORD if c in leads.columns]  # older runs: no crm_id
    handoffs = leads.loc[leads["route"] == "sales_now", record].sort_values(["sla_due", "lead_id"])
    files = {"leads": leads, "accounts": accounts, "handoffs": handoffs}
    work = folder / f".partial-{run_id}-{os.getpid()}"
    work.mkdir()
    manifest = {}
    for name, frame in files.items():
        frame.to_parquet(work / f"{name}.parquet", index=False)
        _for_csv(frame).to_csv(work / f"{name}.csv", index=False, encoding="utf-8")
        for suffix in ("parquet", "csv"):
            manifest[f"{name}.{suffix}"] = sha256_of(work / f"{name}.{suffix}")
    write_json(
        work / "run.json", {**run, "rows": {n: len(f) for n, f in files.items()}, "files": manifest}
    )
    target = folder / run_id
    replaced = folder / f".replaced-{run_id}-{os.getpid()}"
    if target.exists():
        os.rename(target, replaced)
    os.rename(work, target)
    shutil.rmtree(replaced, ignore_errors=True)
    write_json(folder / "latest.json", {"run_id": run_id, "folder": target.name})
    return {name: len(frame) for name, frame in files.items()}


def verify_export(target: Path) -> dict:
    """Check an export folder against its run: run.json names the folder's run, every file has
    the SHA-256 run.json records, and the Parquet tables are the ones the run id was made from.
    Returns run.json; ReadinessError naming the first file that does not match."""
    try:
        run = json.loads((target / "run.json").read_text())
    except (OSError, ValueError) as exc:
        raise ReadinessError(f"{target}: run.json is missing or unreadable ({exc}).") from exc
    run_id = check_run_id(run.get("run_id"), str(target / "run.json"))
    if run_id != target.name:
        raise ReadinessError(f"{target}: run.json names run {run_id}, not the folder's run.")
    manifest = run.get("files") or {}
    expected = {f"{n}.{s}" for n in _TABLES for s in ("parquet", "csv")}
    if set(manifest) != expected:
        raise ReadinessError(
            f"{target}: run.json lists {sorted(manifest)}, not {sorted(expected)}."
        )
    for name, digest in manifest.items():
        if not (target / name).is_file() or sha256_of(target / name) != digest:
            raise ReadinessError(
                f"{target / name} is missing or differs from the run's file (SHA-256); publish "
                "again to rewrite the export."
            )
    check_run_content(
        run_id,
        pd.read_parquet(target / "leads.parquet"),
        pd.read_parquet(target / "accounts.parquet"),
        str(target),
    )
    return run
