"""Stage `labels`: for every training snapshot and gate, did the lead cross the gate in time?

Inputs: `paths.features`/training (the snapshot keys) and catalog.json, `paths.validated`
(milestones, opportunities, and the end of the data).
Outputs: `paths.labels`/labels.parquet (snapshot keys + a nullable 0/1 label per gate, with its
settings in the file's metadata), `paths.labels`/dormant.parquet (the same for the features'
dormant sample, models/dormant.py, when there is one), `paths.labels`/settings.json, `paths.labels`/deal_size.json (expected deal size by employee band), and `paths.metrics`/labels.json
(labelled snapshots and positives per gate and cohort).
Params: labels, ladder, train (cohort dates, for the counts).
"""

from __future__ import annotations

import json
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.build import day_date
from features.sources import data_end_day, load_tables
from models.cohorts import is_flat, training_cohorts
from models.labels import (
    LabelSettings,
    censor_lost,
    deal_sizes,
    labels_schema,
    make_labels,
    sufficiency,
)
from pipelines.common import write_json
from readiness.domain import ladder_ranks
from readiness.errors import ReadinessError
from readiness.outputs import replace_output
from readiness.params import COHORT_DATES, ProjectParams, cohort_dates
from readiness.raw.io import lost_milestones


def run(project: ProjectParams) -> dict:
    params = project.params
    features_dir = project.resolve(params.paths.features)
    validated = project.resolve(params.paths.validated)
    catalog_file = features_dir / "catalog.json"
    if not catalog_file.exists():
        raise ReadinessError(
            f"{catalog_file} not found: run `readiness features` before `readiness labels`."
        )
    catalog = json.loads(catalog_file.read_text())
    snapshots = pd.read_parquet(
        features_dir / "training", columns=["lead_id", "account_id", "cutoff"]
    )
    con = ibis.duckdb.connect(threads=params.features.threads)
    end = day_date(data_end_day(load_tables(con, validated)))
    settings = LabelSettings(
        ladder=params.ladder,
        horizon_days=params.labels.horizon_days,
        revenue_anchored=params.labels.revenue_anchored,
        follow_through_days=params.labels.follow_through_days,
        end_of_data=end,
        feature_windows=tuple(catalog["windows"]),
        catalog_version=catalog["version"],
        flat=is_flat(catalog),
    )
    milestones = pd.read_parquet(validated / "milestones")
    labels = make_labels(
        snapshots.sort_values(["lead_id", "cutoff"]),
        milestones,
        pd.read_parquet(validated / "opportunities"),
        settings,
    )
    # a lead whose milestone was quarantined: unknown at that gate, never a non-converter
    lost_rows = lost_milestones(validated)
    labels, lost = censor_lost(labels, lost_rows, params.ladder)
    recorded = set(milestones["milestone"].astype(str))
    ranks = ladder_ranks(params.ladder)
    warnings = [
        f"gate {gate}: the data records no '{gate}' milestone ({validated / 'milestones'}): a "
        "lead counts as crossing it only by reaching a later milestone"
        + (
            f" ({', '.join(later)}), so its model learns theirs. Map the milestone in the "
            "mapping if the export has it"
            if (later := sorted(m for m in recorded if ranks.get(m, 0) >= k))
            else ", and none is recorded either: every label is 0 and it cannot be learnt. Map "
            "the milestone in the mapping, or take the gate out of the params' ladder"
        )
        + "."
        for k, gate in enumerate(params.ladder, start=1)
        if gate not in recorded
    ]
    if lost:
        warnings.append(
            "labels left unknown because the lead's milestone there (or later) was quarantined "
            f"at ingest (see artifacts/metrics/ingest.json): {', '.join(f'{g} {n:,}' for g, n in lost.items())} "
            "snapshot(s); the export says those leads crossed, but not usably when"
        )
    labels = labels_schema(params.ladder).validate(labels)
    # the dormant sample (models/dormant.py): labelled the same way, kept apart
    dormant_dir = features_dir / "dormant"
    dormant = None
    if any(dormant_dir.glob("*.parquet")):
        idle = pd.read_parquet(dormant_dir, columns=["lead_id", "account_id", "cutoff"])
        dormant = labels_schema(params.ladder).validate(
            censor_lost(
                make_labels(
                    idle.sort_values(["lead_id", "cutoff"]),
                    milestones,
                    pd.read_parquet(validated / "opportunities"),
                    settings,
                ),
                lost_rows,
                params.ladder,
            )[0]
        )
    # expected revenue = P(closed_won) x deal size: fitted on deals closed before the test cohort
    deals = deal_sizes(
        pd.read_parquet(validated / "opportunities"),
        pd.read_parquet(validated / "accounts"),
        # a flat export has no test cohort: every deal it records
        pd.Timestamp(end) + pd.Timedelta(days=1)
        if is_flat(catalog)
        else pd.Timestamp(cohort_dates(params.train).test_start),
    )
    table = pa.Table.from_pandas(labels, preserve_index=False)
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), b"readiness.label_settings": settings.to_json().encode()}
    )

    def write(folder: Path) -> None:
        pq.write_table(table, folder / "labels.parquet")
        if dormant is not None:
            dormant.to_parquet(folder / "dormant.parquet", index=False)
        (folder / "settings.json").write_text(settings.to_json() + "\n")
        write_json(folder / "deal_size.json", deals)

    replace_output(
        project.resolve(params.paths.labels),
        "labels",
        write,
        setting="paths.labels",
        owned_names=("labels.parquet", "dormant.parquet", "settings.json", "deal_size.json"),
    )
    cohorts = training_cohorts(labels, labels, catalog, params.train, params.ladder)
    suff = sufficiency(labels, params.ladder, cohorts.fillna("outside"))
    summary = {
        "snapshots": len(labels),
        "end_of_data": end,  # the day after the last record (exclusive)
        "flat_as_of": catalog["flat"]["as_of"] if is_flat(catalog) else None,
        "deal_size": deals,
        "dormant_snapshots": 0 if dormant is None else len(dormant),
        # per gate, labelled snapshots left unknown: their lead's milestone was quarantined
        "unknown_lost_milestone": lost,
        # the time split (none on a flat export); chosen from the data when train.* dates are null
        "cohorts": None
        if is_flat(catalog)
        else {
            **{k: str(getattr(params.train, k)) for k in COHORT_DATES},
            "chosen_from_data": project.cohorts_chosen,
        },
        "gates": {
            gate: {
                row.cohort: {"labelled": row.labelled_snapshots, "positives": row.positives}
                for row in g.itertuples()
                if row.cohort != "outside"
            }
            for gate, g in suff.groupby("gate", sort=False)
        },
        "warnings": warnings,
    }
    metrics = project.resolve(params.paths.metrics)
    metrics.mkdir(parents=True, exist_ok=True)
    write_json(metrics / "labels.json", summary)
    return summary
