"""Guarded entry of raw tables: every row is either accepted or quarantined with its reasons.

`validate_batch` is the pure core (a frame in, accepted and quarantined frames out);
`ingest_folder` streams each table through it in bounded batches, writes the validated tables and
quarantines as Parquet folders and reconciles read = accepted + quarantined per table.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from readiness.domain import MILESTONES
from readiness.errors import ReadinessError
from readiness.outputs import claim_output
from readiness.params import IngestParams
from readiness.raw import attributes, flat, io, tagging
from readiness.raw.schemas import (
    EARLIEST,
    KEYS,
    RAW_SCHEMAS,
    columns_of,
    timestamp_columns,
    utc_times,
)

log = logging.getLogger(__name__)

# tables are checked after the tables they refer to
INGEST_ORDER = (
    "accounts",
    "leads",
    "assets",
    "events",
    "opportunities",
    "milestones",
    "sales_touches",
)
# table -> (column, referenced table); the referenced table's accepted keys are the allowed values
REFERENCES = {
    "leads": [("account_id", "accounts")],
    "events": [("lead_id", "leads"), ("asset_id", "assets")],
    "opportunities": [("account_id", "accounts"), ("primary_lead_id", "leads")],
    "milestones": [("lead_id", "leads"), ("opportunity_id", "opportunities")],
    "sales_touches": [("lead_id", "leads")],
}
# tables that must not be empty: nothing can be scored without them
REQUIRED_NONEMPTY = ("accounts", "leads")
_MILESTONE_RANK = {m: min(i, 4) for i, m in enumerate(MILESTONES)}  # closed_won and closed_lost tie


@dataclass
class Context:
    """What a table's checks need beyond its own rows."""

    max_timestamp: pd.Timestamp
    accepted_keys: dict[str, pd.Index] = field(default_factory=dict)
    # the ids of a table's quarantined rows: a row naming one lost it by cascade, not by a
    # reference to nothing (the two reasons are told apart)
    quarantined_keys: dict[str, pd.Index] = field(default_factory=dict)
    lead_created: pd.Series | None = None  # accepted lead_id -> created_at
    duplicate_rows: pd.Index = field(default_factory=lambda: pd.Index([]))
    # milestones dated by day only on their lead's creation day, moved to the creation time
    dated_at_creation: int = 0


@dataclass
class BatchResult:
    accepted: pd.DataFrame
    quarantined: pd.DataFrame  # source_row, reasons, then the row's original values as text
    reasons: Counter  # reason (without the value) -> rows


def contract(table: str, ctx: Context) -> pa.DataFrameSchema:
    """The table's schema plus the checks that depend on other tables and on the run."""
    schema = RAW_SCHEMAS[table].to_schema()
    updates: dict[str, list[pa.Check]] = {}

    def add(column: str, check: pa.Check) -> None:
        updates.setdefault(column, list(schema.columns[column].checks)).append(check)

    key_col = KEYS[table][0]
    dup = ctx.duplicate_rows
    add(
        key_col,
        pa.Check(
            lambda s: pd.Series(~s.index.isin(dup), index=s.index),
            name="duplicate_key",
            error=f"duplicate {'+'.join(KEYS[table])}: an earlier row has the same key",
        ),
    )
    max_ts = ctx.max_timestamp
    for col in timestamp_columns(table):
        if col not in schema.columns:
            continue
        add(
            col,
            pa.Check(
                lambda s: s.isna() | (s <= max_ts),
                name="not_in_future",
                error=f"timestamp in the future (after {max_ts})",
            ),
        )
        add(
            col,
            pa.Check(
                lambda s: s.isna() | (s >= EARLIEST),
                name="not_too_old",
                error=f"timestamp before {EARLIEST.date()}",
            ),
        )
    for column, ref in REFERENCES.get(table, []):
        keys = ctx.accepted_keys.get(ref, pd.Index([]))
        lost = ctx.quarantined_keys.get(ref, pd.Index([]))
        add(
            column,
            pa.Check(
                lambda s, keys=keys, lost=lost: s.isna() | s.isin(keys) | s.isin(lost),
                name=f"known_{ref}",
                error=f"not among the {ref} of the export",
            ),
        )
        add(
            column,
            pa.Check(
                lambda s, lost=lost: ~s.isin(lost),
                name=f"{ref}_quarantined",
                error=f"its row of {ref} was quarantined (see that table's reasons)",
            ),
        )
    schema = schema.update_columns({c: {"checks": checks} for c, checks in updates.items()})
    if table == "milestones":
        created = (
            ctx.lead_created if ctx.lead_created is not None else pd.Series(dtype="datetime64[ns]")
        )
        # update_columns returned a fresh copy, so extending its checks leaves the model alone
        schema.checks = [
            *schema.checks,
            *[
                pa.Check(
                    lambda df: pd.Series(
                        ~(df["occurred_at"].to_numpy() < created.reindex(df["lead_id"]).to_numpy()),
                        index=df.index,
                    ),
                    name="after_lead_created",
                    error="milestone dated before its lead was created",
                ),
                pa.Check(
                    lambda df: _in_ladder_order(df, dup),
                    name="ladder_order",
                    error="milestone dated before an earlier milestone of the ladder",
                ),
            ],
        ]
    return schema


def _in_ladder_order(df: pd.DataFrame, duplicates: pd.Index | None = None) -> pd.Series:
    """False for a milestone dated before a milestone that comes earlier on the ladder. The
    rows quarantined as repeats of a (lead, milestone) (`duplicates`) are neither judged nor a
    measure: a lead's second lost deal, dated later, must not put its first closed_lost out of
    order."""
    repeat = df.index.isin(duplicates) if duplicates is not None else np.zeros(len(df), bool)
    rank = df["milestone"].map(_MILESTONE_RANK)
    frame = pd.DataFrame({"lead": df["lead_id"], "rank": rank, "t": df["occurred_at"]})
    kept = frame[~repeat]
    per_rank = kept.groupby(["lead", "rank"], sort=True)["t"].max().reset_index()
    per_rank["prior_max"] = (
        per_rank.groupby("lead")["t"].cummax().groupby(per_rank["lead"]).shift(1)
    )
    prior = frame.merge(per_rank[["lead", "rank", "prior_max"]], on=["lead", "rank"], how="left")[
        "prior_max"
    ]
    ok = prior.isna().to_numpy() | (frame["t"].to_numpy() >= prior.to_numpy()) | repeat
    return pd.Series(ok, index=df.index)


_BUILTIN_MESSAGES = [
    (re.compile(r"^coerce_dtype\('(.+)'\)$"), "not a valid {0}"),
    (re.compile(r"^isin\(\[?\(?(.*?)\)?\]?\)$"), "value not allowed (allowed: {0})"),
    (re.compile(r"^greater_than_or_equal_to\((.+)\)$"), "must be >= {0}"),
    (re.compile(r"^not_nullable$"), "missing value"),
]


def _describe(check: str) -> str | None:
    """A readable reason for a pandera check name; None for follow-on failures."""
    if check.startswith("dtype("):
        return None  # reported with the coercion failure that caused it
    for pattern, message in _BUILTIN_MESSAGES:
        m = pattern.match(check)
        if m:
            return message.format(*m.groups())
    return check


def _text(v: object) -> str | None:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    s = str(v)
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _has_bad_utf8(v: object) -> bool:
    return isinstance(v, str) and any(0xDC80 <= ord(ch) <= 0xDCFF for ch in v)


def _parse_timestamps(df: pd.DataFrame, columns: list[str], problems: dict) -> pd.DataFrame:
    """Timestamps as naive UTC; unparseable values are recorded as problems of their rows."""
    df = df.copy()
    for col in columns:
        if col not in df.columns:
            continue
        s = df[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            df[col] = s.dt.tz_convert("UTC").dt.tz_localize(None)
            continue
        if pd.api.types.is_datetime64_any_dtype(s):
            continue
        parsed = utc_times(s, "ISO8601")
        bad = parsed.isna() & s.notna()
        for idx in s.index[bad]:
            problems.setdefault(idx, []).append((f"{col}: not an ISO 8601 timestamp", s[idx]))
        df[col] = parsed
    return df


def _dated_at_creation(df: pd.DataFrame, created: pd.Series) -> tuple[pd.DataFrame, int]:
    """Milestones dated by day only (midnight) on their lead's creation day, before its creation
    time, moved to that time: an export's "MQL Date" of a lead that became an MQL the day it
    filled its first form is a day, and read as midnight it fell before the lead and was
    quarantined, leaving the lead "never an MQL". Returns the rows moved."""
    when = df["occurred_at"]
    if not pd.api.types.is_datetime64_any_dtype(when):
        return df, 0
    lead = pd.to_numeric(df["lead_id"], errors="coerce")
    born = pd.Series(created.reindex(lead).to_numpy(), index=df.index)
    early = when.notna() & born.notna() & (when == when.dt.normalize())
    early &= (when == born.dt.normalize()) & (when < born)
    if not early.any():
        return df, 0
    df = df.copy()
    df.loc[early, "occurred_at"] = born[early]
    return df, int(early.sum())


def _numeric_columns(table: str) -> tuple[list[str], list[str]]:
    """(integer columns, float columns) of a raw table's contract."""
    columns = RAW_SCHEMAS[table].to_schema().columns
    ints = [n for n, c in columns.items() if str(c.dtype) in ("int64", "Int64")]
    floats = [n for n, c in columns.items() if str(c.dtype).startswith("float")]
    return ints, floats


_INT64_LIMIT = 2.0**63


def _parse_numbers(table: str, df: pd.DataFrame, problems: dict) -> pd.DataFrame:
    """Ids as integers and amounts as finite floats, row by row: a value that is not one is a
    problem of its row only (never a failure of the whole column, which would take every row and,
    by reference, every dependent row with it)."""
    ints, floats = _numeric_columns(table)
    df = df.copy()
    for col in (c for c in [*ints, *floats] if c in df.columns):
        s = df[col]
        if col in ints and pd.api.types.is_integer_dtype(s.dtype):
            continue
        if pd.api.types.is_bool_dtype(s.dtype):
            num = pd.Series(np.nan, index=s.index)  # true/false is not a number
        else:
            num = pd.to_numeric(s, errors="coerce")
        values = num.astype(float).to_numpy()
        present = s.notna().to_numpy()  # text "nan" is present, and not a number
        unparsed = present & np.isnan(values)
        infinite = np.isinf(values)
        if col in ints:
            finite = np.isfinite(values)
            fractional = finite & (np.floor(np.where(finite, values, 0)) != values)
            too_big = finite & (np.abs(np.where(finite, values, 0)) >= _INT64_LIMIT)
            bad = unparsed | infinite | fractional | too_big
            label = f"{col}: not a valid int64"
        else:
            bad = unparsed | infinite
            label = None
        for idx, is_inf in zip(s.index[bad], infinite[bad], strict=True):
            reason = label or (f"{col}: not a finite number" if is_inf else f"{col}: not a number")
            problems.setdefault(idx, []).append((reason, s[idx]))
        parsed = num.where(~bad)
        df[col] = parsed.astype("Int64") if col in ints else parsed.astype(float)
    return df


def validate_batch(table: str, df: pd.DataFrame, ctx: Context) -> BatchResult:
    """Split a batch of a raw table into accepted rows and quarantined rows with their reasons.

    The frame's index must be the source row numbers; they are reported in the quarantine.
    """
    if table not in RAW_SCHEMAS:
        raise ReadinessError(f"Unknown raw table '{table}'; known: {list(RAW_SCHEMAS)}.")
    problems: dict[int, list[tuple[str, object]]] = {}
    original = df
    text_cols = [c for c in df.columns if df[c].dtype == object]
    for col in text_cols:
        bad = df[col].map(_has_bad_utf8).astype(bool)
        for idx in df.index[bad]:
            problems.setdefault(idx, []).append((f"{col}: not valid UTF-8 text", df.at[idx, col]))
    df = _parse_timestamps(df, timestamp_columns(table), problems)
    df = _parse_numbers(table, df, problems)
    if table == "milestones" and ctx.lead_created is not None and len(df):
        df, moved = _dated_at_creation(df, ctx.lead_created)
        ctx.dated_at_creation += moved
    remaining = df.drop(index=list(problems))
    schema = contract(table, ctx)
    accepted = None
    for _ in range(4):
        try:
            accepted = schema.validate(remaining, lazy=True)
            break
        except pa.errors.SchemaErrors as exc:
            fc = exc.failure_cases
            rowwise = fc[fc["index"].notna()]
            if rowwise.empty:
                raise ReadinessError(_schema_problem(table, fc)) from exc
            follow_on: dict[int, tuple[str, object]] = {}
            for _, f in rowwise.iterrows():
                reason = _describe(str(f["check"]))
                if reason is None:  # a wrong type: named only when nothing else names the row
                    follow_on.setdefault(int(f["index"]), (f"{f['column']}: wrong type", None))
                    continue
                if str(f["check"]).startswith("coerce_dtype") and pd.isna(f["failure_case"]):
                    # an empty cell that cannot be an integer: "missing value" names it
                    follow_on.setdefault(int(f["index"]), (f"{f['column']}: {reason}", None))
                    continue
                if f["schema_context"] == "Column":
                    label, value = f"{f['column']}: {reason}", f["failure_case"]
                else:  # a check across columns fails once per column: one reason, no value
                    label, value = reason, None
                problems.setdefault(f["index"], []).append((label, value))
            for idx, problem in follow_on.items():
                if idx not in problems:  # never drop a row without its reason
                    problems[idx] = [problem]
            remaining = remaining.drop(index=rowwise["index"].unique(), errors="ignore")
    if accepted is None:
        raise ReadinessError(
            f"Raw table '{table}': rows keep failing validation after four passes; please report this."
        )
    accepted = accepted.reset_index(drop=True)
    if "properties" in accepted.columns:
        accepted["properties"] = _canonical_json(accepted["properties"])
    return BatchResult(
        accepted,
        _quarantine_frame(original, problems),
        Counter(r for rs in problems.values() for r in {x[0] for x in rs}),
    )


def _canonical_json(s: pd.Series) -> pd.Series:
    """Compact JSON with sorted keys, so features can match answers as plain text on any engine."""
    out = s.map(
        lambda v: (
            json.dumps(json.loads(v), separators=(",", ":"), sort_keys=True)
            if isinstance(v, str)
            else None
        )
    )
    return out.astype("str").where(out.notna(), None)


def _quarantine_frame(original: pd.DataFrame, problems: dict) -> pd.DataFrame:
    rows = sorted(problems)
    out = pd.DataFrame(
        {
            "source_row": np.asarray(rows, dtype=np.int64),
            "reasons": [
                "; ".join(
                    dict.fromkeys(
                        f"{label} (value {_text(v)!r})" if _text(v) is not None else label
                        for label, v in problems[r]
                    )
                )
                for r in rows
            ],
        }
    )
    for col in original.columns:
        out[col] = (
            pd.Series([_text(v) for v in original.loc[rows, col]], dtype="str")
            if rows
            else pd.Series([], dtype="str")
        )
    return out


def _own_ids(source: Path) -> dict[str, pd.Series | None]:
    """The export's own ids of leads and accounts (io.crm_ids), by the key column naming them,
    read once per ingest."""
    return {"lead_id": io.crm_ids(source, "leads"), "account_id": io.crm_ids(source, "accounts")}


def _with_origins(
    quarantined: pd.DataFrame, origins: pd.DataFrame, own_ids: dict[str, pd.Series | None]
) -> pd.DataFrame:
    """Quarantined rows of an imported table with the export file and data row each came from
    (after source_row, the raw table's row), and beside lead_id and account_id (our numbering)
    the export's own ids (`own_ids`, _own_ids): the row and the record a user can find in their
    own file."""
    where = origins.reindex(quarantined["source_row"].to_numpy())
    out = quarantined.copy()
    at = list(out.columns).index("source_row") + 1
    out.insert(
        at, "file", where["file"].astype("str").where(where["file"].notna(), None).to_numpy()
    )
    out.insert(at + 1, "file_row", where["file_row"].astype("Int64").to_numpy())
    for key, own in own_ids.items():
        if key not in out.columns or own is None:
            continue
        theirs = pd.to_numeric(out[key], errors="coerce").map(own)
        out.insert(
            list(out.columns).index(key) + 1,
            f"{key.removesuffix('_id')}_crm_id",
            theirs.astype("str").where(theirs.notna(), None).to_numpy(),
        )
    return out


def _schema_problem(table: str, fc: pd.DataFrame) -> str:
    first = fc.iloc[0]
    return (
        f"Raw table '{table}' does not fit its contract: column {first['column']!r} failed "
        f"{first['check']!r} ({first['failure_case']!r}). Fix the export or the import mapping."
    )


def check_columns(table: str, path: Path) -> list[str]:
    """Raise when a required column is missing; return the columns that will be ignored."""
    present = io.source_columns(path)
    expected = columns_of(table)
    missing = [c for c, required in expected.items() if required and c not in present]
    if missing:
        raise ReadinessError(
            f"{path}: required column(s) {', '.join(missing)} missing from table '{table}'. "
            f"Expected columns: {', '.join(expected)}; found: {', '.join(present) or 'none'}."
        )
    return [c for c in present if c not in expected]


# what ingest writes into paths.validated and paths.quarantine
INGEST_NAMES = (
    *RAW_SCHEMAS,
    attributes.TABLE,
    attributes.DECLARATIONS,
    flat.FILE,
    io.CRM_IDS,
    f"{io.LOST_MILESTONES}.parquet",
)


def _lost_milestones(quarantined: pd.DataFrame, leads: pd.Index, repeats: pd.Index) -> pd.DataFrame:
    """The quarantined milestone rows of accepted leads (lead_id, milestone, reasons), but repeats
    of a (lead, milestone) an earlier row already gives (`repeats`: the duplicate rows, by their
    source row, whatever else is wrong with them)."""
    lead = pd.to_numeric(quarantined["lead_id"], errors="coerce")
    keep = lead.isin(leads) & ~quarantined["source_row"].isin(repeats)
    return pd.DataFrame(
        {
            "lead_id": lead[keep].astype("int64").to_numpy(),
            "milestone": quarantined.loc[keep, "milestone"].astype(str).to_numpy(),
            "reasons": quarantined.loc[keep, "reasons"].astype(str).to_numpy(),
        }
    )


def ingest_folder(source: Path, validated: Path, quarantine: Path, params: IngestParams) -> dict:
    """Validate every raw table of `source`; write accepted and quarantined rows; return the report."""
    max_ts = (
        pd.Timestamp(params.max_timestamp) + pd.Timedelta(days=1)
        if params.max_timestamp
        else pd.Timestamp(datetime.now())
    )
    paths = {t: io.locate_table(source, t) for t in INGEST_ORDER}
    dropped = {t: check_columns(t, paths[t]) for t in INGEST_ORDER}
    ctx = Context(max_timestamp=max_ts)
    own_ids = _own_ids(source)  # the export's ids, beside ours in the quarantine
    report: dict = {"source": str(source), "max_timestamp": str(max_ts), "tables": {}}
    for folder, setting in ((validated, "paths.validated"), (quarantine, "paths.quarantine")):
        claim_output(folder, "ingest", setting=setting, owned_names=INGEST_NAMES)
    for table in INGEST_ORDER:
        path = paths[table]
        out_dir, q_dir = validated / table, quarantine / table
        for d in (out_dir, q_dir):  # inside the folders claimed above
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True)
        keys = list(KEYS[table])
        key_frame = io.read_columns(path, keys, params.batch_rows)
        ctx.duplicate_rows = key_frame.index[key_frame.duplicated(keys, keep="first")]
        read = accepted = quarantined = 0
        reasons: Counter = Counter()
        accepted_keys: list[pd.Series] = []
        lead_created: list[pd.Series] = []
        lost: list[pd.DataFrame] = []
        lost_keys: list[pd.Series] = []
        part = 0
        origins = io.row_origins(source, table)
        for batch in io.iter_batches(path, params.batch_rows):
            res = validate_batch(table, batch, ctx)
            if origins is not None and len(res.quarantined):
                res.quarantined = _with_origins(res.quarantined, origins, own_ids)
            read += len(batch)
            accepted += len(res.accepted)
            quarantined += len(res.quarantined)
            reasons.update(res.reasons)
            res.accepted.to_parquet(out_dir / f"part-{part:05d}.parquet", index=False)
            if len(res.quarantined):
                res.quarantined.to_parquet(q_dir / f"part-{part:05d}.parquet", index=False)
            if len(keys) == 1:
                accepted_keys.append(res.accepted[keys[0]])
                if keys[0] in res.quarantined:
                    lost_keys.append(pd.to_numeric(res.quarantined[keys[0]], errors="coerce"))
            if table == "leads":
                lead_created.append(res.accepted.set_index("lead_id")["created_at"])
            if table == "milestones" and len(res.quarantined):
                lost.append(
                    _lost_milestones(
                        res.quarantined, ctx.accepted_keys["leads"], ctx.duplicate_rows
                    )
                )
            part += 1
            log.info("ingest: %s batch %d: %d rows read so far", table, part, read)
        if part == 0:  # an empty table still gets an (empty) validated part with its columns
            res = validate_batch(
                table, pd.DataFrame({c: pd.Series(dtype=object) for c in columns_of(table)}), ctx
            )
            res.accepted.to_parquet(out_dir / "part-00000.parquet", index=False)
        if len(keys) == 1:
            ctx.accepted_keys[table] = pd.Index(pd.concat(accepted_keys) if accepted_keys else [])
            lost_ids = pd.concat(lost_keys) if lost_keys else pd.Series([], dtype=float)
            # only whole ids in int64's range (a key that is no valid id is its row's own
            # problem), and only ids no accepted row has (a duplicate's first row is accepted)
            whole = lost_ids[
                np.isfinite(lost_ids) & (lost_ids.abs() < _INT64_LIMIT) & (lost_ids % 1 == 0)
            ]
            ctx.quarantined_keys[table] = pd.Index(
                whole[~whole.isin(ctx.accepted_keys[table])].astype("int64").unique()
            )
        if table == "leads":
            ctx.lead_created = (
                pd.concat(lead_created) if lead_created else pd.Series(dtype="datetime64[ns]")
            )
        warnings = []
        if read == 0:
            warnings.append(f"{table} is empty")
        if dropped[table]:
            warnings.append(f"ignored unknown column(s): {', '.join(dropped[table])}")
        if read and quarantined * 2 > read:
            commonest = reasons.most_common(1)[0][0] if reasons else "?"
            warnings.append(
                f"{quarantined:,} of its {read:,} rows were quarantined ({quarantined / read:.0%}; "
                f"the commonest reason: {commonest}): check the mapping of {table}"
            )
        if table == "opportunities" and accepted:
            opp = pd.read_parquet(out_dir, columns=["outcome", "amount"])
            zero = int(((opp["outcome"] == "won") & (opp["amount"] == 0)).sum())
            if zero:
                warnings.append(
                    f"{zero} won opportunit{'y has' if zero == 1 else 'ies have'} amount 0 "
                    "(kept; they count in the deal-size means)"
                )
            blank = int(opp["amount"].isna().sum())
            if blank:
                warnings.append(
                    f"{blank} opportunit{'y has' if blank == 1 else 'ies have'} no amount "
                    "(kept with the amount unknown: left out of the deal-size means)"
                )
        if table == "milestones":
            lost_rows = pd.concat(lost) if lost else io.no_lost_milestones()
            lost_rows.to_parquet(validated / f"{io.LOST_MILESTONES}.parquet", index=False)
            if len(lost_rows):
                commonest = io.without_values(lost_rows["reasons"]).mode().iloc[0]
                warnings.append(
                    f"{len(lost_rows):,} quarantined milestone(s) belong to "
                    f"{lost_rows['lead_id'].nunique():,} accepted lead(s) (the commonest reason: "
                    f"{commonest}): the export says those leads reached them, but not usably "
                    "when, so their labels at those gates (and the gates before) are left "
                    "unknown in training, and a lead whose recorded stage is then in doubt is "
                    "not scored; fix the rows (see the quarantine) and run again"
                )
        if table == "milestones" and ctx.dated_at_creation:
            warnings.append(
                f"{ctx.dated_at_creation:,} milestone(s) dated by day only on their lead's "
                "creation day, which read as midnight fell before the lead was created, are "
                "dated at its creation"
            )
        report["tables"][table] = {
            "source": str(path),
            "read": read,
            "accepted": accepted,
            "quarantined": quarantined,
            "reconciled": read == accepted + quarantined,
            "quarantine_reasons": _by_count(reasons),
            "warnings": warnings,
            **(
                {"lost_by_accepted_leads": int(lost_rows["lead_id"].nunique())}
                if table == "milestones"
                else {}
            ),
            **(
                {"dated_at_lead_creation": ctx.dated_at_creation}
                if table == "milestones" and ctx.dated_at_creation
                else {}
            ),
        }
        log.info(
            "ingest: %s: %d read, %d accepted, %d quarantined", table, read, accepted, quarantined
        )
    report["content_coverage"] = tagging.coverage(
        pd.read_parquet(validated / "assets", columns=["asset_id", "belief_stage"]),
        pd.read_parquet(validated / "events", columns=["asset_id"])["asset_id"],
    )
    attrs = _ingest_attributes(source, validated, quarantine, max_ts)
    if attrs is not None:
        report["tables"][attributes.TABLE] = attrs
    # the export's own ids of leads and accounts travel with the tables (the scores carry them)
    shutil.rmtree(validated / io.CRM_IDS, ignore_errors=True)  # inside the folder claimed above
    if (source / io.CRM_IDS).is_dir():
        shutil.copytree(source / io.CRM_IDS, validated / io.CRM_IDS)
    as_of = flat.read_flat(source)  # a flat export's as-of date travels with its tables
    (validated / flat.FILE).unlink(missing_ok=True)  # inside the folder claimed above
    if as_of is not None:
        flat.write_flat(validated, as_of)
        report["flat_as_of"] = str(as_of)
    totals = {
        k: sum(t[k] for t in report["tables"].values()) for k in ("read", "accepted", "quarantined")
    }
    report["totals"] = totals
    report["reconciled"] = all(t["reconciled"] for t in report["tables"].values())
    return report


def _ingest_attributes(
    source: Path, validated: Path, quarantine: Path, max_ts: pd.Timestamp
) -> dict | None:
    """The optional attributes table (the user's own columns) and its declarations; None when
    the source has neither."""
    specs = attributes.read_declarations(source)
    try:
        path: Path | None = io.locate_table(source, attributes.TABLE)
    except ReadinessError:
        path = None
    if path is None and not specs:
        return None
    if path is None:
        raise ReadinessError(
            f"{source / attributes.DECLARATIONS} declares attributes ({', '.join(specs)}) but "
            f"{source} has no '{attributes.TABLE}' table of their values."
        )
    raw = io.read_columns(path, list(attributes.COLUMNS), 10**9)
    created = {
        "lead": pd.read_parquet(validated / "leads", columns=["lead_id", "created_at"]).set_index(
            "lead_id"
        )["created_at"],
        "account": pd.read_parquet(
            validated / "accounts", columns=["account_id", "created_at"]
        ).set_index("account_id")["created_at"],
    }
    accepted, quarantined = attributes.validate_attributes(
        raw, specs, created=created, max_timestamp=max_ts
    )
    out_dir, q_dir = validated / attributes.TABLE, quarantine / attributes.TABLE
    for d in (out_dir, q_dir):  # inside the folders claimed by ingest_folder
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    accepted.to_parquet(out_dir / "part-00000.parquet", index=False)
    origins = io.row_origins(source, attributes.TABLE)
    if origins is not None and len(quarantined):
        quarantined = _with_origins(quarantined, origins, _own_ids(source))
    if len(quarantined):
        quarantined.to_parquet(q_dir / "part-00000.parquet", index=False)
    attributes.write_declarations(validated, specs)
    reasons: Counter = Counter()
    for text in quarantined.get("reasons", pd.Series(dtype=str)):
        reasons.update(r.split(" (value")[0] for r in text.split("; "))
    log.info(
        "ingest: attributes: %d read, %d accepted, %d quarantined",
        len(raw),
        len(accepted),
        len(quarantined),
    )
    return {
        "source": str(path),
        "read": len(raw),
        "accepted": len(accepted),
        "quarantined": len(quarantined),
        "reconciled": len(raw) == len(accepted) + len(quarantined),
        "quarantine_reasons": _by_count(reasons),
        "warnings": [] if len(raw) else ["attributes is empty"],
        "declared": {n: s.model_dump() for n, s in specs.items()},
    }


def _by_count(reasons: Counter) -> dict[str, int]:
    """Reasons, most frequent first, ties in alphabetical order (the report is stable run to run)."""
    return dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))


def check_reconciled(report: dict) -> None:
    """Stop when a table's rows do not add up: read must be accepted + quarantined exactly."""
    off = {t: v for t, v in report["tables"].items() if not v["reconciled"]}
    if off:
        detail = "; ".join(
            f"{t} ({v['source']}): read {v['read']}, accepted {v['accepted']}, "
            f"quarantined {v['quarantined']}"
            for t, v in off.items()
        )
        raise ReadinessError(
            f"Ingest lost track of rows: {detail}. Nothing downstream may trust these tables; "
            "please report this with the file."
        )


def check_losses(report: dict, max_share: float) -> None:
    """Stop when a table lost more than `max_share` of its rows to quarantine: the counts
    reconcile, but a run that goes on with a sliver of the data (in a trial, 98.8 % of the
    accounts, with their leads and events, over one mapped column) only looks like a result.
    The ingest stage checks it once this run's quarantine and ingest.json are in place, to see
    why (the validated tables then hold only what was accepted)."""
    over = {
        t: v
        for t, v in report["tables"].items()
        if v.get("read") and v["quarantined"] > max_share * v["read"]
    }
    if not over:
        return
    detail = "; ".join(
        f"{t}: {v['quarantined']:,} of {v['read']:,} rows ({v['quarantined'] / v['read']:.0%}; "
        + ", ".join(f"{r} x{n:,}" for r, n in list(v.get("quarantine_reasons", {}).items())[:3])
        + ")"
        for t, v in over.items()
    )
    raise ReadinessError(
        f"Ingest quarantined more than ingest.max_quarantined_share ({max_share:.0%}) of a table's "
        f"rows: {detail}. This is usually a mapping problem: see data/quarantine/<table>/ and "
        "artifacts/metrics/ingest.json for every row and reason; the validated tables hold only "
        "what was accepted. To go on with it, raise ingest.max_quarantined_share."
    )


def check_required(report: dict) -> None:
    """Stop when a table the pipeline cannot do without has no accepted rows."""
    for table in REQUIRED_NONEMPTY:
        t = report["tables"][table]
        if t["accepted"] == 0:
            reasons = t.get("quarantine_reasons") or {}
            commonest = f"the commonest reason: {next(iter(reasons))}; " if reasons else ""
            reason = (
                "it is empty"
                if t["read"] == 0
                else f"all {t['read']} rows would be quarantined ({commonest}every reason is in "
                "artifacts/metrics/ingest.json; the previous validated tables and quarantine "
                "are kept)"
            )
            raise ReadinessError(
                f"Raw table '{table}' ({t['source']}) has no usable rows: {reason}. Nothing can be scored without it."
            )
