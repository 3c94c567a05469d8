"""The score table's contract: what a published run promises its consumers.

One row per open lead of the scoring snapshot and no other; every probability in [0, 1]; a
coherent ladder (a later gate never more likely than an earlier one); readiness stages and routes
from their allowed sets; disqualified leads say why; sales_now leads carry a complete handoff
whose SLA falls after the scoring time. A table that breaks it is never published.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from models.bundle import probability_column
from readiness.domain import BELIEFS
from readiness.errors import ReadinessError
from readiness.scoring.routing import DISQUALIFIED, ROUTES, SALES_NOW
from readiness.scoring.score import HANDOFF_COLUMNS, NO_STAGE

COHERENCE_TOLERANCE = 1e-9


class ScoreContractError(ReadinessError):
    """The score table broke its contract; the message lists every failure."""


def _text(nullable: bool = True) -> pa.Column:
    return pa.Column(str, nullable=nullable)


def score_schema(ladder: tuple[str, ...], top_drivers: int) -> pa.DataFrameSchema:
    probs = {
        probability_column(g): pa.Column(float, pa.Check.in_range(0.0, 1.0), nullable=False)
        for g in ladder
    }
    cols = [probability_column(g) for g in ladder]

    def coherent(df: pd.DataFrame) -> pd.Series:
        a = df[cols].to_numpy(dtype=float)
        ok = (np.diff(a, axis=1) <= COHERENCE_TOLERANCE).all(axis=1)
        return pd.Series(ok, index=df.index)

    def handoff_complete(df: pd.DataFrame) -> pd.Series:
        sales = df["route"] == SALES_NOW
        filled = pd.Series(True, index=df.index)
        for c in HANDOFF_COLUMNS:
            v = df[c]
            filled &= v.notna() & (v.astype(str).str.strip() != "")
        return ~sales | filled

    def sla_after_scoring(df: pd.DataFrame) -> pd.Series:
        return (df["route"] != SALES_NOW) | (df["sla_due"] > df["scored_at"])

    def disqualified_say_why(df: pd.DataFrame) -> pd.Series:
        return (df["route"] != DISQUALIFIED) | df["disqualifiers"].notna()

    drivers = {f"driver_{j + 1}": _text() for j in range(top_drivers)}
    return pa.DataFrameSchema(
        {
            "lead_id": pa.Column("int64", pa.Check.ge(1), unique=True),
            "account_id": pa.Column("int64", pa.Check.ge(1)),
            "scored_at": pa.Column("datetime64[ns]"),
            "current_stage": pa.Column(str, pa.Check.isin([NO_STAGE, *ladder])),
            **probs,
            "readiness_stage": pa.Column(str, pa.Check.isin([NO_STAGE, *ladder])),
            "next_gate": pa.Column(str, pa.Check.isin(list(ladder))),
            "p_next_gate": pa.Column(float, pa.Check.in_range(0.0, 1.0)),
            "expected_revenue": pa.Column(float, pa.Check.ge(0.0)),
            **drivers,
            "weakest_belief": pa.Column(str, pa.Check.isin(list(BELIEFS))),
            "persona": _text(),
            "industry": _text(),
            "region": _text(),
            "employee_band": _text(),
            "route": pa.Column(str, pa.Check.isin(list(ROUTES))),
            "disqualifiers": _text(),
            "next_asset_id": pa.Column("Int64", nullable=True),
            "next_asset": _text(),
            **{c: _text() for c in HANDOFF_COLUMNS if c != "sla_due"},
            "sla_due": pa.Column("datetime64[ns]", nullable=True),
        },
        checks=[
            pa.Check(
                coherent,
                name="coherent_ladder",
                error="coherent_ladder: a later gate is more likely than an earlier one",
            ),
            pa.Check(
                handoff_complete,
                name="handoff_complete",
                error="handoff_complete: a sales_now lead lacks a handoff field",
            ),
            pa.Check(
                sla_after_scoring,
                name="sla_after_scoring",
                error="sla_after_scoring: an SLA is not after the scoring time",
            ),
            pa.Check(
                disqualified_say_why,
                name="disqualified_say_why",
                error="disqualified_say_why: a disqualified lead has no reason",
            ),
        ],
        strict=True,
        ordered=False,
        name="scores",
    )


def leads_at(scores: pd.DataFrame, idx: pd.Series) -> str:
    if "lead_id" not in scores or idx.empty:
        return ""
    ids = scores["lead_id"].reindex(idx.astype(int)).dropna().astype(int).tolist()
    return f" (lead_id {', '.join(map(str, ids))})" if ids else ""


def validate_scores(
    scores: pd.DataFrame, ladder: tuple[str, ...], top_drivers: int, open_lead_ids: pd.Series
) -> pd.DataFrame:
    """The score table if it keeps its contract; otherwise ScoreContractError listing failures
    (check, column, failing rows and examples), including leads missing or extra against the
    scoring snapshot's open leads."""
    problems: list[str] = []
    try:
        score_schema(ladder, top_drivers).validate(scores, lazy=True)
    except SchemaErrors as exc:
        fc = exc.failure_cases
        table_level = fc["schema_context"] == "DataFrameSchema"
        for check, g in fc[table_level].groupby("check", sort=False):
            idx = g["index"].dropna().drop_duplicates()
            rows = ", ".join(str(int(i)) for i in idx.head(5)) if len(idx) else "-"
            if idx.empty:  # about the table itself, e.g. a column it should not have
                cases = ", ".join(str(v) for v in g["failure_case"].head(5))
                problems.append(f"{check}: {cases}")
                continue
            lead = leads_at(scores, idx.head(5))
            problems.append(f"{check}: {len(idx)} row(s), rows {rows}{lead}")
        for (check, column), g in fc[~table_level].groupby(
            ["check", "column"], dropna=False, sort=False
        ):
            idx = g["index"].dropna()
            rows = ", ".join(str(int(i)) for i in idx.head(5)) if len(idx) else "-"
            examples = ", ".join(str(v) for v in g["failure_case"].head(3))
            problems.append(
                f"{check} on column {column}: {len(g)} failure(s), rows {rows}; e.g. {examples}"
            )
    ids = set(scores["lead_id"].tolist()) if "lead_id" in scores else set()
    expected = set(open_lead_ids.tolist())
    missing, extra = expected - ids, ids - expected
    if missing:
        problems.append(f"{len(missing)} open lead(s) have no score, e.g. {sorted(missing)[:5]}")
    if extra:
        problems.append(
            f"{len(extra)} scored lead(s) are not open leads of the snapshot, e.g. {sorted(extra)[:5]}"
        )
    if problems:
        raise ScoreContractError(
            "The score table breaks its contract (readiness/scoring/contract.py) and is not published:\n  - "
            + "\n  - ".join(problems)
        )
    return scores
