"""Stage `report`: the leadership report as one self-contained HTML file.

Inputs: `paths.validated` (leads, accounts, milestones, opportunities, content events, assets),
`paths.features`/training (the test cohort, for drivers), `paths.models`/readiness (the trained
gate models), `paths.metrics`/evaluate.json, `paths.plots`/{calibration,lift}.csv,
`paths.evaluation`/data_sufficiency.csv, `paths.features`/catalog.json (unavailable families),
`paths.labels`/deal_size.json and, where present, `paths.scores`/leads.parquet and
`paths.metrics`/import.json. A missing optional input leaves its section with a note, never a
failure.
Outputs: `paths.reports`/readiness_report.html and `paths.metrics`/report.json.
Params: report, train (test cohort dates), ladder.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from features.catalog import Feature, build_catalog
from features.profile import catalog_from_meta
from models.bundle import ReadinessModel
from pipelines.common import write_json
from pipelines.report.build import ReportInputs, build_report
from readiness.domain import BELIEFS
from readiness.errors import ReadinessError
from readiness.params import ProjectParams, cohort_dates

log = logging.getLogger(__name__)


def _optional_csv(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.exists() else None


def _data_notes(imported: dict, ingested: dict) -> list[str]:
    """What the import and ingest set aside or read with a caveat, for the top of the report:
    rows quarantined per table with their commonest reason, and the import's notes."""
    notes = []
    quarantined = {
        table: t for table, t in ingested.get("tables", {}).items() if t.get("quarantined")
    }
    if quarantined:
        parts = []
        for table, t in quarantined.items():
            reason = next(iter(t.get("quarantine_reasons", {})), None)
            parts.append(
                f"{table} {t['quarantined']:,} of {t['read']:,}"
                + (f" (mostly '{reason}')" if reason else "")
            )
        notes.append(
            "Ingest set rows aside, each with its reasons (and, for an imported export, its file "
            f"and row) in the quarantine folder: {'; '.join(parts)}."
        )
    said = [*imported.get("unparsed_dates", []), *imported.get("notes", [])]
    said += imported.get("tables", {}).get("attributes", {}).get("warnings", [])
    if said:
        shown = "; ".join(said[:3]) + (f"; and {len(said) - 3} more" if len(said) > 3 else "")
        notes.append(f"The import read some values with a caveat ({len(said)} note(s)): {shown}.")
    return notes


def _optional_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def load_inputs(project: ProjectParams) -> ReportInputs:
    params = project.params
    paths = params.paths
    validated = project.resolve(paths.validated)
    if not (validated / "leads").exists():
        raise ReadinessError(f"No validated tables in {validated}: run `readiness ingest` first.")

    def table(name: str, **kw) -> pd.DataFrame:
        return pd.read_parquet(validated / name, **kw)

    events = table("events", columns=["lead_id", "occurred_at", "event_type", "asset_id"])
    events = events[events["asset_id"].notna()]  # content events only
    model_dir = project.resolve(paths.models) / "readiness"
    model = ReadinessModel.load(model_dir) if (model_dir / "meta.json").exists() else None
    run = _optional_json(project.resolve(paths.models) / "run.json") or {}
    training = project.resolve(paths.features) / "training"
    catalog_meta = _optional_json(project.resolve(paths.features) / "catalog.json") or {}
    test_features = None
    if training.exists():
        t = params.train if catalog_meta.get("flat") else cohort_dates(params.train)
        # a flat export has no test cohort: its drivers are read on every lead
        test_features = pd.read_parquet(
            training,
            filters=None
            if catalog_meta.get("flat")
            else [
                ("cutoff", ">=", pd.Timestamp(t.test_start)),
                ("cutoff", "<=", pd.Timestamp(t.test_end)),
            ],
        )
    scores_path = project.resolve(paths.scores) / "leads.parquet"
    metrics = project.resolve(paths.metrics)
    unavailable = catalog_meta.get("unavailable_families", {})
    notes = [
        f"Feature family '{family}' is unavailable in this data ({reason}): its "
        + (
            "content features are 0 for every lead, so the model cannot use them; the account's "
            f"buying-committee features filed under it are measured, and shown as "
            f"'{ACCOUNT_COMMITTEE}', not as a belief"
            if family == "alignment" and reason.startswith("no consumed content is tagged")
            else "features are 0 for every lead, so the model cannot use it"
        )
        + "; missing is not the same as low."
        for family, reason in unavailable.items()
    ]
    risky = catalog_meta.get("profile", {}).get("accepted_at_export", [])
    if risky:
        notes.append(
            f"The model was trained on attribute(s) known only at export ({', '.join(risky)}), "
            "accepted in params (features.accept_at_export): their current values may reflect "
            "the outcome, so the test metrics and drivers may be better than the model really is."
        )
    deal_size = _optional_json(project.resolve(paths.labels) / "deal_size.json") or {}
    scored_run = _optional_json(project.resolve(paths.scores) / "run.json") or {}
    if scored_run.get("status") == "provisional":
        notes.insert(
            0,
            "PROVISIONAL scores: no model has passed the promotion gate yet, so these scores come "
            "from a model that failed it ("
            + "; ".join(scored_run.get("status_reasons", []))
            + "). "
            "Use them with care; the first passing model replaces them.",
        )
    if deal_size.get("unknown"):
        notes.append(f"Expected revenue is unknown: {deal_size['unknown']}.")
    elif deal_size and not deal_size.get("overall_mean"):
        notes.append(
            f"The {deal_size.get('won_deals', 0):,} won deals used for deal sizes all have amount 0, so expected "
            "revenue reads 0: the export does not say what deals were worth."
        )
    imported = _optional_json(metrics / "import.json")
    if imported and imported.get("absent_tables"):
        notes.append(
            f"The export has no {', '.join(imported['absent_tables'])}: those tables are empty, and "
            "nothing built on them is shown as if it were measured."
        )
    notes += _data_notes(imported or {}, _optional_json(metrics / "ingest.json") or {})
    states = ((_optional_json(metrics / "features.json") or {}).get("scoring") or {}).get("leads")
    if states and states.get("closed_by_account"):
        notes.append(
            f"{states['closed_by_account']:,} of {states['leads']:,} leads are not scored because "
            "their account won a deal (a colleague's); a later crossing of theirs is no label."
        )
    for u in scored_run.get("not_scored", []):
        notes.append(
            f"{u['leads']:,} open leads are not scored: {u['reason']} (the commonest reason: "
            f"{u['commonest_quarantine_reason']}; e.g. {', '.join(u['lead_ids'][:5])})."
        )
    return ReportInputs(
        ladder=params.ladder,
        leads=table("leads"),
        accounts=table("accounts"),
        milestones=table("milestones"),
        opportunities=table("opportunities"),
        events=events,
        assets=table("assets"),
        catalog=as_measured(
            catalog_from_meta(catalog_meta)
            if catalog_meta
            else build_catalog(params.features.windows),
            unavailable,
        ),
        model=model,
        model_version=str(run.get("model_version")) if run.get("model_version") else None,
        test_features=test_features,
        evaluation=_optional_json(metrics / "evaluate.json"),
        calibration=_optional_csv(project.resolve(paths.plots) / "calibration.csv"),
        lift=_optional_csv(project.resolve(paths.plots) / "lift.csv"),
        sufficiency=_optional_csv(project.resolve(paths.evaluation) / "data_sufficiency.csv"),
        leakage_screen=_optional_json(project.resolve(paths.models) / "leakage_screen.json"),
        monitor=_optional_json(metrics / "monitor.json"),
        scores=pd.read_parquet(scores_path) if scores_path.exists() else None,
        belief_unknown=scored_run.get("weakest_belief_unknown") or {},
        sales_gate=params.score.routing.sales_gate,
        flat_as_of=(catalog_meta.get("flat") or {}).get("as_of"),
        notes=notes,
        driver_rows=params.report.driver_rows,
        shap_rows=params.report.shap_rows,
        seed=params.report.seed,
    )


# what the account-level features of an unavailable belief family read as: with no
# belief-tagged content they measure how many people and roles of the account engage, which is
# the buying committee's breadth, not evidence of a belief
ACCOUNT_COMMITTEE = "account_committee"


def as_measured(catalog: tuple[Feature, ...], unavailable: dict[str, str]) -> tuple:
    """The catalogue as the report reads it: an account feature of a belief family the data
    cannot feed (no tagged content) is filed under ACCOUNT_COMMITTEE, so the drivers never
    credit a belief the data does not show."""
    return tuple(
        replace(f, family=ACCOUNT_COMMITTEE)
        if f.family in unavailable and f.family in BELIEFS and f.name.startswith("account_")
        else f
        for f in catalog
    )


def run(project: ProjectParams) -> dict:
    params = project.params
    t0 = time.perf_counter()
    inputs = load_inputs(project)
    html, summary = build_report(inputs)
    out = project.resolve(params.paths.reports)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "readiness_report.html"
    partial = out / ".readiness_report.html.partial"  # in place only once fully written
    partial.write_text(html, encoding="utf-8")
    os.replace(partial, target)
    summary["file"] = str(target)
    summary["bytes"] = len(html.encode())
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    metrics = project.resolve(params.paths.metrics)
    metrics.mkdir(parents=True, exist_ok=True)
    write_json(metrics / "report.json", summary)
    log.info("report: %s (%.1f MB) in %.1fs", target, summary["bytes"] / 1e6, summary["seconds"])
    return summary
