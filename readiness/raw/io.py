"""Reading raw tables from a folder (Parquet file, folder of Parquet parts, or CSV) in batches."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from readiness.domain import ladder_ranks
from readiness.errors import ReadinessError
from readiness.raw import attributes, flat
from readiness.raw.schemas import TABLES

# import's record of where each raw row came from: <table>.parquet with file, file_row (the
# export file's data row, 1 = the first after the header) in raw-table row order
ROW_ORIGINS = "_rows"
# import's record of the export's own ids: <table>.parquet (our_id, crm_id) for leads and
# accounts; ingest carries it to the validated folder, and the scores carry each crm_id
CRM_IDS = "_ids"
# milestones of accepted leads that were quarantined: the export says the lead reached them, but
# not usably when; its labels at those gates are unknown and it is not scored (lost_milestones)
LOST_MILESTONES = "_lost_milestones"
# what import (or the simulator) writes into paths.raw: a folder written before markers existed
# is recognised by it
RAW_NAMES = (
    *TABLES,
    *(f"{t}.parquet" for t in (*TABLES, attributes.TABLE)),
    attributes.DECLARATIONS,
    flat.FILE,
    "_keys",
    ROW_ORIGINS,
    CRM_IDS,
    "_import.json",
)


def crm_ids(folder: Path, table: str) -> pd.Series | None:
    """The export's own id of each lead or account (`table`), indexed by our id; None when
    `folder` holds none (simulated data, raw tables written by hand: our ids are theirs)."""
    path = folder / CRM_IDS / f"{table}.parquet"
    if not path.is_file():
        return None
    ids = pd.read_parquet(path)
    return pd.Series(ids["crm_id"].to_numpy(), index=ids["our_id"].to_numpy(), dtype="string")


def row_origins(source: Path, table: str) -> pd.DataFrame | None:
    """The export file and row of each row of raw table `table`, indexed by its 1-based row in
    the raw table (ingest's source_row); None when `source` was not imported from an export."""
    path = source / ROW_ORIGINS / f"{table}.parquet"
    if not path.is_file():
        return None
    origins = pd.read_parquet(path)
    origins.index = pd.RangeIndex(1, len(origins) + 1)
    return origins


def locate_table(source: Path, table: str) -> Path:
    """The file or folder holding `table` in `source`; a clear error when there is none."""
    candidates = [source / f"{table}.parquet", source / table, source / f"{table}.csv"]
    for c in candidates:
        if c.is_file() or (c.is_dir() and any(c.glob("*.parquet"))):
            return c
    raise ReadinessError(
        f"Raw table '{table}' not found in {source}: expected one of "
        f"{', '.join(str(c.name) for c in candidates)} (a folder must hold .parquet parts). "
        "Run `readiness simulate` for the built-in data, or export the table under that name."
    )


def _parquet_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.parquet")) if path.is_dir() else [path]


def source_columns(path: Path) -> list[str]:
    """Column names of a raw table without reading its rows."""
    if path.suffix == ".csv":
        try:
            header = pd.read_csv(path, nrows=0, encoding="utf-8", encoding_errors="surrogateescape")
        except pd.errors.EmptyDataError as exc:
            raise ReadinessError(f"{path} is empty: it needs at least a header row.") from exc
        except (pd.errors.ParserError, csv.Error, ValueError) as exc:
            raise _unreadable(path, exc, "CSV file") from exc
        return [str(c) for c in header.columns]
    names: list[str] | None = None
    for file in _parquet_files(path):  # every part: a corrupt footer anywhere stops here
        try:
            schema = pq.ParquetFile(file).schema_arrow
        except Exception as exc:  # pyarrow raises several types for a corrupt file
            raise _unreadable(file, exc, "Parquet file") from exc
        if names is None:
            names = list(schema.names)
    return names or []


def _unreadable(path: Path, exc: Exception, what: str) -> ReadinessError:
    detail = " ".join(str(exc).split())[:300]
    return ReadinessError(
        f"{path} is not a readable {what} ({type(exc).__name__}: {detail}). The file is damaged or "
        "truncated: export it again (for a folder of parts, the part named here), or remove it "
        "from the source folder."
    )


def _as_text(df: pd.DataFrame, schema: pa.Schema) -> pd.DataFrame:
    """Binary (BINARY without a UTF-8 annotation) columns as text; undecodable bytes survive as
    surrogates so that their rows are quarantined, not the table crashed."""
    for field in schema:
        if (pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type)) and (
            field.name in df.columns
        ):
            values = [
                v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v
                for v in df[field.name]
            ]
            df[field.name] = pd.Series(values, index=df.index, dtype=object)
    return df


def iter_batches(
    path: Path, batch_rows: int, columns: list[str] | None = None
) -> Iterator[pd.DataFrame]:
    """The table in batches; the index is the 1-based row number in the source (for messages).

    A file that cannot be read (an unbalanced quote, corrupt Parquet pages, a truncated part) is a
    ReadinessError naming the file."""
    if path.suffix == ".csv":
        try:
            yield from _csv_batches(path, batch_rows, columns)
        except (pd.errors.ParserError, csv.Error, ValueError) as exc:
            raise _unreadable(path, exc, "CSV file") from exc
        return
    yield from _parquet_batches(path, batch_rows, columns)


def _csv_batches(path: Path, batch_rows: int, columns: list[str] | None) -> Iterator[pd.DataFrame]:
    # everything as text: types are coerced (and failures quarantined) by the contract;
    # undecodable bytes survive as surrogates so the rows can be quarantined, not crash
    reader = pd.read_csv(
        path,
        dtype=object,
        keep_default_na=False,
        na_values=[""],
        encoding="utf-8",
        encoding_errors="surrogateescape",
        chunksize=batch_rows,
        usecols=columns,
    )
    row = 1
    for chunk in reader:
        chunk.index = pd.RangeIndex(row, row + len(chunk))
        row += len(chunk)
        yield chunk


def _parquet_batches(
    path: Path, batch_rows: int, columns: list[str] | None
) -> Iterator[pd.DataFrame]:
    row = 1
    for file in _parquet_files(path):
        try:
            pf = pq.ParquetFile(file)
            if pf.metadata.num_rows == 0:
                continue
            batches = pf.iter_batches(batch_size=batch_rows, columns=columns)
            while True:
                try:
                    batch = next(batches)
                except StopIteration:
                    break
                df = _as_text(batch.to_pandas(), batch.schema)
                df.index = pd.RangeIndex(row, row + len(df))
                row += len(df)
                yield df
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise _unreadable(file, exc, "Parquet file") from exc


def read_columns(path: Path, columns: list[str], batch_rows: int) -> pd.DataFrame:
    """Some columns of the whole table (for checks across batches, such as duplicate keys)."""
    parts = list(iter_batches(path, batch_rows, columns))
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts)


def no_lost_milestones() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead_id": pd.Series(dtype="int64"),
            "milestone": pd.Series(dtype="str"),
            "reasons": pd.Series(dtype="str"),
        }
    )


def lost_milestones(validated: Path) -> pd.DataFrame:
    """What ingest wrote of LOST_MILESTONES (none for a folder ingested before it did)."""
    path = validated / f"{LOST_MILESTONES}.parquet"
    return pd.read_parquet(path) if path.exists() else no_lost_milestones()


def lost_reach(lost: pd.DataFrame, ladder: tuple[str, ...], closing: bool = False) -> pd.Series:
    """Per lead with lost milestones (`lost_milestones`), the furthest ladder rank they reach
    (1 = the ladder's first gate); `closing`: a lost closed_lost, which closes the lead, reaches
    past every gate. A milestone the ladder does not reach (one before its first gate, an empty
    one) counts for nothing."""
    ranks = ladder_ranks(ladder)
    if closing:
        ranks = {**ranks, "closed_lost": len(ladder) + 1}
    reach = lost["milestone"].map(ranks)
    known = reach.notna()
    return (
        pd.Series(reach[known].to_numpy(), index=lost.loc[known, "lead_id"].to_numpy())
        .groupby(level=0)
        .max()
    )


def without_values(reasons: pd.Series) -> pd.Series:
    """Quarantine reasons without the values they quote ("... (value '03/05/2024')"), so alike
    reasons count together."""
    return reasons.astype(str).str.replace(r" \(value .*?\)", "", regex=True)
