"""Reading raw tables from a folder (Parquet file, folder of Parquet parts, or CSV) in batches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from readiness.errors import ReadinessError


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
        return [str(c) for c in header.columns]
    try:
        return list(pq.ParquetFile(_parquet_files(path)[0]).schema_arrow.names)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise ReadinessError(f"{path} is not a readable Parquet file: {exc}") from exc


def iter_batches(
    path: Path, batch_rows: int, columns: list[str] | None = None
) -> Iterator[pd.DataFrame]:
    """The table in batches; the index is the 1-based row number in the source (for messages)."""
    row = 1
    if path.suffix == ".csv":
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
        for chunk in reader:
            chunk.index = pd.RangeIndex(row, row + len(chunk))
            row += len(chunk)
            yield chunk
        return
    for file in _parquet_files(path):
        pf = pq.ParquetFile(file)
        if pf.metadata.num_rows == 0:
            continue
        for batch in pf.iter_batches(batch_size=batch_rows, columns=columns):
            df = batch.to_pandas()
            df.index = pd.RangeIndex(row, row + len(df))
            row += len(df)
            yield df


def read_columns(path: Path, columns: list[str], batch_rows: int) -> pd.DataFrame:
    """Some columns of the whole table (for checks across batches, such as duplicate keys)."""
    parts = list(iter_batches(path, batch_rows, columns))
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts)
