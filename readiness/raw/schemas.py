"""Contracts of the raw tables (DESIGN.md section 3).

Each `*Schema` is what ingest accepts (coercing types, dropping unknown columns); the same
contract made strict and without coercion (`VALIDATED_SCHEMAS`) is what ingest writes and what
later stages may rely on. Checks that need other tables or the time of ingest (references, future
timestamps, duplicate keys, milestone order) are added by `contract()` at validation time.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from readiness.domain import (
    AUDIENCES,
    BELIEF_STAGES,
    EMAIL_DOMAIN_TYPES,
    EMPLOYEE_BANDS,
    EVENT_TYPES,
    INDUSTRIES,
    MILESTONES,
    OPPORTUNITY_OUTCOMES,
    PERSONAS,
    REGIONS,
    SENIORITIES,
    SOURCE_CHANNELS,
    TOUCH_TYPES,
)

EARLIEST = pd.Timestamp("1990-01-01")


class AccountsSchema(pa.DataFrameModel):
    account_id: Series[int] = pa.Field(ge=1)
    industry: Series[str] = pa.Field(isin=INDUSTRIES, nullable=True)
    employee_band: Series[str] = pa.Field(isin=EMPLOYEE_BANDS, nullable=True)
    region: Series[str] = pa.Field(isin=REGIONS, nullable=True)
    created_at: Series[pd.Timestamp] = pa.Field()

    class Config:
        coerce = True
        strict = "filter"  # unknown columns are dropped (and listed in the ingest report)


class LeadsSchema(pa.DataFrameModel):
    lead_id: Series[int] = pa.Field(ge=1)
    account_id: Series[int] = pa.Field(ge=1)
    created_at: Series[pd.Timestamp] = pa.Field()
    source_channel: Series[str] = pa.Field(isin=SOURCE_CHANNELS, nullable=True)
    persona: Series[str] = pa.Field(isin=PERSONAS, nullable=True)
    seniority: Series[str] = pa.Field(isin=SENIORITIES, nullable=True)
    email_domain_type: Series[str] = pa.Field(isin=EMAIL_DOMAIN_TYPES, nullable=True)

    class Config:
        coerce = True
        strict = "filter"  # unknown columns are dropped (and listed in the ingest report)


class AssetsSchema(pa.DataFrameModel):
    asset_id: Series[int] = pa.Field(ge=1)
    title: Series[str] = pa.Field()
    belief_stage: Series[str] = pa.Field(isin=BELIEF_STAGES)
    audience: Series[str] = pa.Field(isin=AUDIENCES)
    format: Series[str] = pa.Field(nullable=True)
    industry: Series[str] = pa.Field(isin=INDUSTRIES, nullable=True)
    published_at: Series[pd.Timestamp] | None = pa.Field(nullable=True)

    class Config:
        coerce = True
        strict = "filter"  # unknown columns are dropped (and listed in the ingest report)


def _json_object_or_null(s: pd.Series) -> pd.Series:
    def ok(v: object) -> bool:
        if v is None or (isinstance(v, float) and pd.isna(v)):
            return True
        try:
            return isinstance(json.loads(v), dict)  # type: ignore[arg-type]  # TypeError = not text
        except (TypeError, ValueError):
            return False

    return s.map(ok).astype(bool)


class EventsSchema(pa.DataFrameModel):
    event_id: Series[int] = pa.Field(ge=1)
    lead_id: Series[int] = pa.Field(ge=1)
    occurred_at: Series[pd.Timestamp] = pa.Field()
    event_type: Series[str] = pa.Field(isin=EVENT_TYPES)
    asset_id: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    properties: Series[str] = pa.Field(nullable=True)

    class Config:
        coerce = True
        strict = "filter"  # unknown columns are dropped (and listed in the ingest report)

    @pa.check("properties", name="json_object", error="properties is not a JSON object")
    def _properties_json(cls, s: Series[str]) -> Series[bool]:
        return _json_object_or_null(s)


class MilestonesSchema(pa.DataFrameModel):
    lead_id: Series[int] = pa.Field(ge=1)
    milestone: Series[str] = pa.Field(isin=MILESTONES)
    occurred_at: Series[pd.Timestamp] = pa.Field()
    opportunity_id: Series[pd.Int64Dtype] = pa.Field(nullable=True)

    class Config:
        coerce = True
        strict = "filter"  # unknown columns are dropped (and listed in the ingest report)


class OpportunitiesSchema(pa.DataFrameModel):
    opportunity_id: Series[int] = pa.Field(ge=1)
    account_id: Series[int] = pa.Field(ge=1)
    primary_lead_id: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    created_at: Series[pd.Timestamp] = pa.Field()
    closed_at: Series[pd.Timestamp] = pa.Field(nullable=True)
    outcome: Series[str] = pa.Field(isin=OPPORTUNITY_OUTCOMES)
    # a deal without an amount is still a deal: its milestones are the labels (unknown amount,
    # left out of the deal-size means)
    amount: Series[float] = pa.Field(ge=0, nullable=True)

    class Config:
        coerce = True
        strict = "filter"  # unknown columns are dropped (and listed in the ingest report)

    @pa.check("amount", name="finite", error="not a finite number")
    def _amount_finite(cls, s: Series[float]) -> Series[bool]:
        return s.isna() | pd.Series(np.isfinite(s.to_numpy(dtype=float)), index=s.index)

    @pa.dataframe_check(name="closed_after_created", error="closed_at is before created_at")
    def _closed_after_created(cls, df: pd.DataFrame) -> Series[bool]:
        return df["closed_at"].isna() | (df["closed_at"] >= df["created_at"])

    @pa.dataframe_check(
        name="outcome_matches_close",
        error="open opportunities have no closed_at; won/lost ones have one",
    )
    def _outcome_matches_close(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["outcome"] == "open") == df["closed_at"].isna()


class SalesTouchesSchema(pa.DataFrameModel):
    touch_id: Series[int] = pa.Field(ge=1)
    lead_id: Series[int] = pa.Field(ge=1)
    occurred_at: Series[pd.Timestamp] = pa.Field()
    touch_type: Series[str] = pa.Field(isin=TOUCH_TYPES)
    # the rep who made it (routing's account owner); an export that does not say leaves it empty
    owner_id: Series[str] = pa.Field(nullable=True)

    class Config:
        coerce = True
        strict = "filter"  # unknown columns are dropped (and listed in the ingest report)


RAW_SCHEMAS: dict[str, type[pa.DataFrameModel]] = {
    "accounts": AccountsSchema,
    "leads": LeadsSchema,
    "assets": AssetsSchema,
    "events": EventsSchema,
    "milestones": MilestonesSchema,
    "opportunities": OpportunitiesSchema,
    "sales_touches": SalesTouchesSchema,
}


def _validated(model: type[pa.DataFrameModel]) -> pa.DataFrameSchema:
    """What ingest writes: the raw contract, strict (no other columns) and without coercion."""
    schema = copy.deepcopy(model.to_schema())
    schema.strict, schema.coerce = True, False
    return schema


VALIDATED_SCHEMAS: dict[str, pa.DataFrameSchema] = {
    table: _validated(model) for table, model in RAW_SCHEMAS.items()
}
# ingest order: a table is checked after the tables it refers to
TABLES = tuple(RAW_SCHEMAS)
KEYS = {
    "accounts": ("account_id",),
    "leads": ("lead_id",),
    "assets": ("asset_id",),
    "events": ("event_id",),
    "milestones": ("lead_id", "milestone"),
    "opportunities": ("opportunity_id",),
    "sales_touches": ("touch_id",),
}


def columns_of(table: str) -> dict[str, bool]:
    """Column name -> required, for a raw table."""
    schema = RAW_SCHEMAS[table].to_schema()
    return {name: col.required for name, col in schema.columns.items()}


def optional_vocabularies(table: str) -> dict[str, tuple[str, ...]]:
    """The optional columns of a raw table that take a fixed vocabulary (an account's industry,
    a lead's persona, ...), with their allowed values, read off the contract."""
    schema = RAW_SCHEMAS[table].to_schema()
    out = {}
    for name, col in schema.columns.items():
        for check in col.checks if col.nullable else ():
            allowed = (check.statistics or {}).get("allowed_values")
            if allowed is not None:
                out[name] = tuple(allowed)
    return out


def utc_times(s: pd.Series, date_format: str | None = None) -> pd.Series:
    """Dates and times (written in `date_format`, or as pandas infers them) as the raw tables
    hold them, UTC without a time zone: a value with an offset (2025-03-30 14:03+02:00)
    converted to UTC, one without taken as UTC; a column mixing offsets (a German export across
    a daylight-saving change) is no error. What does not parse is NaT."""
    return pd.to_datetime(s, format=date_format, errors="coerce", utc=True).dt.tz_localize(None)


def timestamp_columns(table: str) -> list[str]:
    schema = RAW_SCHEMAS[table].to_schema()
    return [n for n, c in schema.columns.items() if str(c.dtype).startswith("datetime64")]
