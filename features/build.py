"""Build the feature tables: the scoring snapshot and the training snapshots, validated, as Parquet.

The scoring snapshot (one row per open lead at the as-of date) is one group-by over the row-level
measure streams. The training snapshots are built bucket by bucket (groups of whole accounts) from
day streams materialised as Parquet, so memory is bounded by the bucket, not the data.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from pathlib import Path

import ibis
import pandas as pd

from features import profile
from features.catalog import Feature, build_catalog, catalog_version
from features.engine import required_aggregates, snapshot_features
from features.schemas import features_schema
from features.snapshots import (
    calendar,
    dormant_share,
    dormant_snapshots,
    flat_snapshots,
    lead_states,
    scoring_snapshot,
    training_snapshots,
)
from features.sources import (
    Tables,
    data_end_day,
    data_start_day,
    day_stream,
    load_tables,
    measure_streams,
    static_attributes,
)
from readiness.domain import BELIEFS, STAKEHOLDER_AUDIENCES
from readiness.errors import ReadinessError
from readiness.outputs import Output, replacing
from readiness.params import FeaturesParams
from readiness.raw import attributes, flat

log = logging.getLogger(__name__)
EPOCH = pd.Timestamp("1970-01-01")


def day_number(d: date | pd.Timestamp) -> int:
    return int((pd.Timestamp(d) - EPOCH).days)


def day_date(n: int) -> str:
    return str((EPOCH + pd.Timedelta(days=n)).date())


def connect(p: FeaturesParams, work: Path) -> ibis.BaseBackend:
    """An in-process DuckDB with bounded threads and memory that spills to the work folder."""
    work.mkdir(parents=True, exist_ok=True)
    return ibis.duckdb.connect(
        threads=p.threads,
        memory_limit=p.memory_limit,
        temp_directory=str(work / "spill"),
        preserve_insertion_order=False,
    )


def _validated_frame(expr, schema, catalog, what: str) -> pd.DataFrame:
    df = expr.to_pandas().sort_values(["lead_id", "cutoff"]).reset_index(drop=True)
    df["cutoff"] = df["cutoff"].astype("datetime64[ns]")
    df = df[["lead_id", "account_id", "cutoff", *(f.name for f in catalog)]]
    try:
        return schema.validate(df, lazy=True)
    except Exception as exc:  # a contract failure here is a bug in a definition, say which
        raise ReadinessError(
            f"Features of {what} broke their contract (features/schemas.py): {str(exc)[:2000]}"
        ) from exc


def _profile(validated: Path, p: FeaturesParams) -> tuple[dict, tuple[Feature, ...], pd.DataFrame]:
    """The catalogue's `profile` section (attributes used, their vocabularies, those left out
    and why), the profile features and the validated attributes table they are computed from."""
    specs = attributes.read_declarations(validated)
    if not specs:
        return {}, (), attributes.empty_table()
    attrs = pd.read_parquet(validated / attributes.TABLE)
    used, excluded = profile.plan(specs, p.accept_at_export)
    for name, reason in excluded.items():
        log.warning("features: attribute %s is left out: %s", name, reason)
    meta = {
        "attributes": {n: s.model_dump() for n, s in used.items()},
        "vocabulary": profile.vocabularies(attrs, used),
        "excluded": excluded,
        "accepted_at_export": [n for n in used if used[n].known == "at_export"],
    }
    return meta, profile.profile_catalog(meta), attrs


def _add_profile(
    out: Path,
    parts: tuple[str, ...],
    attrs: pd.DataFrame,
    meta: dict,
    features: tuple[Feature, ...],
) -> dict:
    """Add the profile features to the snapshot files already written (scoring.parquet and each
    training part), point in time, and check them against their contract."""
    schema = profile.profile_schema(features)
    files = ([out / "scoring.parquet"] if "scoring" in parts else []) + (
        sorted((out / "training").glob("*.parquet")) + sorted((out / "dormant").glob("*.parquet"))
        if "training" in parts
        else []
    )
    for f in files:
        df = pd.read_parquet(f)
        values = profile.profile_values(df, attrs, meta)
        try:
            schema.validate(values, lazy=True)
        except Exception as exc:  # a contract failure here is a bug in the definitions
            raise ReadinessError(
                f"Profile features of {f} broke their contract: {str(exc)[:2000]}"
            ) from exc
        pd.concat([df, values], axis=1).to_parquet(f, index=False)
    return {"features": [f.name for f in features], "files": len(files)}


def family_availability(validated: Path) -> dict[str, str]:
    """Feature families the data cannot feed, with the reason (an export without engagement
    events, content without belief tags, ...). Their features are computed as 0 like any absent
    signal; the catalogue and the report say they are unavailable rather than low."""

    def read(table: str, columns: list[str]) -> pd.DataFrame:
        return pd.read_parquet(validated / table, columns=columns)

    events = read("events", ["event_type", "asset_id"])
    assets = read("assets", ["asset_id", "belief_stage", "audience"]).set_index("asset_id")
    out: dict[str, str] = {}
    if events.empty:
        for fam in (*BELIEFS, "intent", "engagement"):
            out[fam] = "the data has no engagement events"
        return out | _static_gaps(read)
    consumed = events["asset_id"].dropna().astype("int64")
    stages = consumed.map(assets["belief_stage"]).value_counts()
    audiences = consumed.map(assets["audience"])
    for b in BELIEFS:
        if stages.get(b, 0) == 0 and not (
            b == "alignment" and audiences.isin(STAKEHOLDER_AUDIENCES).any()
        ):
            out[b] = f"no consumed content is tagged with the {b} belief"
    if not events["event_type"].isin(["pricing_page_view", "demo_request", "form_submit"]).any():
        out["intent"] = "the data has no pricing views, demo requests or forms"
    return out | _static_gaps(read)


def _static_gaps(read) -> dict[str, str]:
    leads = read("leads", ["persona", "seniority", "source_channel", "email_domain_type"])
    accounts = read("accounts", ["industry", "employee_band", "region"])
    out = {}
    fit = [c for c in ("industry", "employee_band", "region") if accounts[c].isna().all()]
    fit += [c for c in ("persona", "seniority", "source_channel") if leads[c].isna().all()]
    if len(fit) == 6:
        out["fit"] = "no firmographic or role attribute is filled"
    if leads["email_domain_type"].isna().all() and accounts["employee_band"].isna().all():
        out["disqualifiers"] = (
            "neither email domain types nor company sizes (accounts.employee_band, which takes "
            "employee counts) are filled"
        )
    return out


_FEATURE_NAMES = ("scoring.parquet", "training", "dormant", "_work", "catalog.json")
_PART_NAMES = {"scoring": ("scoring.parquet",), "training": ("training", "dormant")}


def build_features(
    validated: Path,
    out: Path,
    p: FeaturesParams,
    ladder: tuple[str, ...],
    parts: tuple[str, ...] = ("scoring", "training"),
    on_calendar: Callable[[dict], object] | None = None,
) -> dict:
    """Write out/scoring.parquet and/or out/training/part-*.parquet, and out/catalog.json.

    `parts` chooses what to build: the scoring snapshot, the training snapshots or both.
    `on_calendar` sees the training cutoffs' calendar (catalog.json's `calendar`) before
    anything is built: the stage chooses the cohorts from it, or stops. Returns a summary
    with counts and timings.
    """
    # written into a fresh folder, in place only once the build succeeds (and only when the old
    # folder is this stage's: paths.features: . must not delete the project); the part not
    # rebuilt is carried over from the previous build
    keep = tuple(n for part, names in _PART_NAMES.items() if part not in parts for n in names)
    output = Output(out, "paths.features", _FEATURE_NAMES, keep=keep)
    # the calendar of the training snapshots kept, when only the scoring snapshot is rebuilt
    old = out / "catalog.json"
    kept = json.loads(old.read_text()).get("calendar") if keep and old.is_file() else None
    with replacing("features", output) as (written,):
        return _build_into(validated, written, p, ladder, parts, on_calendar, kept)


def _build_into(
    validated: Path,
    out: Path,
    p: FeaturesParams,
    ladder: tuple[str, ...],
    parts: tuple[str, ...],
    on_calendar: Callable[[dict], object] | None,
    kept_calendar: dict | None = None,
) -> dict:
    t_start = time.perf_counter()
    catalog = build_catalog(p.windows)
    schema = features_schema(catalog)
    work = out / "_work"
    con = connect(p, work)
    t = load_tables(con, validated).closing_with(ladder)
    end_day = data_end_day(t)
    flat_as_of = flat.read_flat(validated)
    if flat_as_of is not None:  # one snapshot per lead at the export's as-of date
        as_of_day = day_number(flat_as_of)
        cutoffs = [as_of_day]
        log.info("features: a flat export as of %s: one snapshot per lead", flat_as_of)
    else:
        as_of_day = day_number(p.as_of) if p.as_of else end_day
        last_day = min(day_number(p.last_cutoff), end_day) if p.last_cutoff else end_day
        cutoffs = calendar(_first_cutoff_day(t, p, end_day), last_day, p.cadence_days)
    if not cutoffs:
        raise ReadinessError(
            f"No training cutoffs: features.first_cutoff {p.first_cutoff or 'chosen from the data'} "
            f"is after the last cutoff {day_date(last_day)} (the end of the data or "
            "features.last_cutoff). Move first_cutoff earlier."
        )
    dates = {
        "first_cutoff": day_date(cutoffs[0]),
        "last_cutoff": day_date(cutoffs[-1]),
        "cadence_days": p.cadence_days,
        "end_of_data": day_date(end_day),
        "first_cutoff_chosen": p.first_cutoff is None and flat_as_of is None,
    }
    if "training" not in parts and kept_calendar:  # its snapshots are the old build's
        dates = kept_calendar
    if on_calendar is not None and flat_as_of is None:
        on_calendar(dates)
    stream_names = list(required_aggregates(catalog))
    static = con.create_table("static_attributes", static_attributes(t, p.out_of_profile_bands))
    streams = measure_streams(t, ladder)
    summary: dict = {}
    if "scoring" in parts:
        summary["scoring"] = _build_scoring(
            t,
            streams,
            static,
            catalog=catalog,
            schema=schema,
            p=p,
            as_of_day=as_of_day,
            out=out,
            flat_export=flat_as_of is not None,
        )
    if "training" in parts:
        summary["training"] = _build_training(
            con,
            t,
            streams,
            stream_names,
            static,
            catalog=catalog,
            schema=schema,
            p=p,
            cutoffs=cutoffs,
            work=work,
            out=out,
            flat_export=flat_as_of is not None,
        )
    con.disconnect()
    shutil.rmtree(work, ignore_errors=True)

    profile_meta, profile_features, attrs = _profile(validated, p)
    if profile_features:
        summary["profile"] = _add_profile(out, parts, attrs, profile_meta, profile_features)
    catalog = catalog + profile_features
    version = catalog_version(catalog)
    unavailable = family_availability(validated)
    for family, reason in unavailable.items():
        log.warning("features: family %s is unavailable: %s (its features are 0)", family, reason)
    (out / "catalog.json").write_text(
        json.dumps(
            {
                "version": version,
                "windows": list(p.windows),
                "unavailable_families": unavailable,
                "flat": {"as_of": str(flat_as_of)} if flat_as_of is not None else None,
                # the training cutoffs: train.* cohort dates left null are chosen from it
                "calendar": None if flat_as_of is not None else dates,
                "profile": profile_meta,
                "features": [asdict(f) for f in catalog],
            },
            indent=2,
        )
        + "\n"
    )
    return {
        "catalog_version": version,
        "unavailable_families": unavailable,
        "flat_as_of": str(flat_as_of) if flat_as_of is not None else None,
        "features": len(catalog),
        "end_of_data": day_date(end_day),
        **summary,
        "seconds": round(time.perf_counter() - t_start, 2),
    }


def _first_cutoff_day(t: Tables, p: FeaturesParams, end_day: int) -> int:
    """features.first_cutoff, or when null the data's first day (its first lead's creation)
    plus the longest window, at most a sixth of the data's span: leads have had time to act."""
    if p.first_cutoff is not None:
        return day_number(p.first_cutoff)
    start = data_start_day(t)
    return start + min(max(p.windows), (end_day - start) // 6)


def _build_scoring(
    t,
    streams,
    static,
    *,
    catalog,
    schema,
    p: FeaturesParams,
    as_of_day: int,
    out: Path,
    flat_export: bool,
) -> dict:
    """One row per open lead at the as-of date: one group-by per stream over its rows."""
    t0 = time.perf_counter()
    by_account = p.account_win_closes_leads
    snap = scoring_snapshot(t, as_of_day, closing_that_day=not flat_export, by_account=by_account)
    scoring = snapshot_features(streams, snap, static, catalog, p.recency_days, "join")
    df = _validated_frame(
        scoring, schema, catalog, f"the scoring snapshot at {day_date(as_of_day)}"
    )
    df.to_parquet(out / "scoring.parquet", index=False)
    seconds = round(time.perf_counter() - t0, 2)
    log.info(
        "features: scoring snapshot %s: %d open leads (%.1fs)",
        day_date(as_of_day),
        len(df),
        seconds,
    )
    states = lead_states(t, as_of_day, closing_that_day=not flat_export, by_account=by_account)
    if states["open"] != len(df):
        raise ReadinessError(
            f"The scoring snapshot at {day_date(as_of_day)} holds {len(df):,} leads, but "
            f"{states['open']:,} are open: leads were lost between the two. Please report this."
        )
    if states["closed_by_account"]:
        log.info(
            "features: %d lead(s) are not scored because their account won a deal (%s); on "
            "contact-level data, features.account_win_closes_leads: false keeps them open",
            states["closed_by_account"],
            states,
        )
    return {
        "as_of": day_date(as_of_day),
        "open_leads": len(df),
        "leads": states,
        "seconds": seconds,
    }


def _build_training(
    con,
    t,
    streams,
    stream_names,
    static,
    *,
    catalog,
    schema,
    p: FeaturesParams,
    cutoffs,
    work: Path,
    out: Path,
    flat_export: bool,
) -> dict:
    """Training snapshots bucket by bucket (groups of whole accounts) from materialised day streams."""
    t0 = time.perf_counter()
    (out / "training").mkdir(parents=True, exist_ok=True)
    n_events = int(t.events.count().execute())
    buckets = max(1, math.ceil(n_events / p.bucket_events))

    def by_bucket(expr):
        if "account_id" not in expr.columns:  # lead streams: buckets are groups of whole accounts
            expr = expr.join(t.leads.select("lead_id", "account_id"), "lead_id")
        return expr.mutate(bucket=(expr.account_id % buckets).cast("int32"))

    for name in stream_names:
        con.to_parquet(by_bucket(day_stream(streams[name])), work / name, partition_by="bucket")
    lead_days_all = con.read_parquet(str(work / "lead" / "*" / "*.parquet"), hive_partitioning=True)
    snapshots = (
        flat_snapshots(t, cutoffs[0])
        if flat_export
        else training_snapshots(
            t, lead_days_all, cutoffs, p.dormant_after_days, p.account_win_closes_leads
        )
    )
    con.to_parquet(
        by_bucket(snapshots),
        work / "snapshots",
        partition_by="bucket",
    )
    # a sample of the dormant (lead, cutoff) pairs the model does not learn from, on which the
    # train stage recalibrates dormant leads (models/dormant.py); a flat export has none
    sample_dormant = not flat_export and p.dormant_sample > 0
    share = p.dormant_sample
    if sample_dormant:
        (out / "dormant").mkdir(parents=True, exist_ok=True)
        active = con.read_parquet(str(work / "snapshots" / "*" / "*.parquet"))
        by_account = p.account_win_closes_leads
        share = dormant_share(
            t, active, cutoffs, p.dormant_sample, p.dormant_min_snapshots, by_account
        )
        con.to_parquet(
            by_bucket(dormant_snapshots(t, active, cutoffs, share, by_account)),
            work / "dormant_snapshots",
            partition_by="bucket",
        )
    streams_seconds = round(time.perf_counter() - t0, 2)

    def part(snapshots: str, b: int, days: dict, what: str) -> pd.DataFrame:
        """Bucket `b`'s features of the snapshots in work folder `snapshots`."""
        snaps_b = con.read_parquet(str(work / snapshots / f"bucket={b}" / "*.parquet"))
        expr = snapshot_features(
            days, snaps_b, static, catalog, p.recency_days, p.training_strategy
        )
        return _validated_frame(expr, schema, catalog, f"{what} {b + 1}/{buckets}")

    n_rows, n_leads, n_dormant = 0, 0, 0
    for b in range(buckets):
        folder = f"bucket={b}"
        days = {
            n: con.read_parquet(str(work / n / folder / "*.parquet"))
            if (work / n / folder).exists()
            else None
            for n in stream_names
        }
        if sample_dormant and (work / "dormant_snapshots" / folder).exists():
            df = part("dormant_snapshots", b, days, "dormant sample, bucket")
            df.to_parquet(out / "dormant" / f"part-{b:05d}.parquet", index=False)
            n_dormant += len(df)
        if not (work / "snapshots" / folder).exists():
            continue
        df = part("snapshots", b, days, "training bucket")
        df.to_parquet(out / "training" / f"part-{b:05d}.parquet", index=False)
        n_rows += len(df)
        n_leads += df["lead_id"].nunique()
        log.info(
            "features: training bucket %d/%d: %d snapshots (%d so far; %d dormant sampled)",
            b + 1,
            buckets,
            len(df),
            n_rows,
            n_dormant,
        )
    return {
        "snapshots": n_rows,
        "leads": n_leads,
        "cutoffs": len(cutoffs),
        "first_cutoff": day_date(cutoffs[0]),
        "last_cutoff": day_date(cutoffs[-1]),
        "buckets": buckets,
        "strategy": p.training_strategy,
        "streams_seconds": streams_seconds,
        # dormant (lead, cutoff) pairs built for their recalibration (models/dormant.py)
        "dormant_sample": {"share": round(share, 4), "snapshots": n_dormant}
        if sample_dormant
        else None,
        "seconds": round(time.perf_counter() - t0, 2),
    }
