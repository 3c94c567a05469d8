"""The score table's contract: what a published run promises its consumers.

One row per open lead of the scoring snapshot and no other; every probability in [0, 1]; a
coherent ladder (a later gate never more likely than an earlier one), also within each
time-to-threshold horizon, whose probabilities rise with the horizon up to the gate's readiness
(missing where the timing is unknown); readiness stages and routes
from their allowed sets; disqualified leads say why; sales_now leads carry a complete handoff
whose SLA falls after the scoring time. A table that breaks it is never published.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from readiness.domain import BELIEFS
from readiness.errors import ReadinessError
from readiness.raw.io import crm_ids, lost_milestones, lost_reach, without_values

COHERENCE_TOLERANCE = 1e-9

NO_STAGE = "none"
SALES_NOW, WITH_SALES, DISQUALIFIED, DORMANT = (
    "sales_now",
    "with_sales",
    "disqualified",
    "dormant_check_in",
)
# the weakest belief when the data cannot name one (no belief-tagged content, or none consumed):
# such a lead is nurtured by the general route, which makes no belief claim
UNKNOWN_BELIEF = "unknown"
NURTURE_GENERAL = "nurture_general"  # its default name (score.routing.general_route)
NURTURE = (*(f"nurture_{b}" for b in BELIEFS), NURTURE_GENERAL)
ROUTES = (DISQUALIFIED, WITH_SALES, SALES_NOW, DORMANT, *NURTURE)


def routes(general_route: str = NURTURE_GENERAL) -> list[str]:
    """Every route a lead may get, with the general nurture route under its configured name."""
    return [r for r in ROUTES if r != NURTURE_GENERAL] + [general_route]


HANDOFF_COLUMNS = (
    "trigger",
    "problem_hypothesis",
    "disqualifiers_checked",
    "last_touches",
    "opener",
    "owner",
    "sla_due",
)
# a handoff as sales receives it (the handoffs view of the database and the CRM export)
HANDOFF_RECORD = (
    "lead_id",
    "crm_id",
    "account_id",
    *HANDOFF_COLUMNS,
    "p_next_gate",
    "persona",
    "industry",
    "region",
)


# a run id becomes a folder name (exports) and a key: letters, digits, '.', '_' and '-' only,
# starting with a letter or digit, so it can never name a path outside its folder
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def check_run_id(run_id: object, where: str = "run.json") -> str:
    """`run_id` if it is a safe name (RUN_ID_PATTERN); ReadinessError otherwise."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.match(run_id) or ".." in run_id:
        raise ReadinessError(
            f"{where}: run id {run_id!r} is not a valid run id (1-80 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit); it is used as a folder name, so it is "
            "refused. Run `readiness score` again to write a fresh run."
        )
    return run_id


def with_crm_ids(frame: pd.DataFrame, ids: pd.Series | None, id_column: str) -> pd.DataFrame:
    """`frame` with a `crm_id` column right after `id_column`: the export's own id of each row
    (`ids`, indexed by our id), or our id as text where there is none (simulated data, raw
    tables written by hand, where our ids are theirs)."""
    ours = frame[id_column]
    crm = ours.astype("int64").astype(str)
    if ids is not None:
        mapped = ours.map(ids).astype(object)
        crm = mapped.where(mapped.notna(), crm)
    out = frame.drop(columns="crm_id", errors="ignore")
    out.insert(out.columns.get_loc(id_column) + 1, "crm_id", crm.astype(str).to_numpy())
    return out


def probability_column(gate: str) -> str:
    """The score table's column holding the calibrated probability of crossing `gate`."""
    return f"p_{gate}"


def horizon_column(gate: str, days: int) -> str:
    """The score table's column of the probability of crossing `gate` within `days` days."""
    return f"{probability_column(gate)}_{days}d"


def days_column(gate: str) -> str:
    """The score table's column of the median days to crossing `gate` (when it is likely)."""
    return f"days_{gate}"


def horizons_in(columns: pd.Index, ladder: tuple[str, ...]) -> tuple[int, ...]:
    """The time-to-threshold horizons a score table carries (runs scored before them: none)."""
    pattern = re.compile(rf"^{re.escape(probability_column(ladder[0]))}_(\d+)d$")
    return tuple(sorted(int(m.group(1)) for c in columns if (m := pattern.match(str(c)))))


class ScoreContractError(ReadinessError):
    """The score table broke its contract; the message lists every failure."""


def _finite() -> pa.Check:
    """No infinity and no NaN: a number a consumer can add up (an inf deal size is a bug)."""
    return pa.Check(
        lambda s: pd.Series(np.isfinite(s.to_numpy(dtype=float)), index=s.index),
        name="finite",
        error="finite: not a finite number",
    )


def _text(nullable: bool = True) -> pa.Column:
    return pa.Column(str, nullable=nullable)


# the score trend of a lead since the previous published run (see `score_trends`)
TRENDS = ("new", "up", "down", "steady")
TREND_MIN_CHANGE = 0.01  # a probability change smaller than this is steady


def trend_columns(ladder: tuple[str, ...]) -> list[str]:
    """The trend columns of a score run: `trend` and the change of each gate's probability."""
    return ["trend", *[f"change_{probability_column(g)}" for g in ladder]]


def score_trends(
    leads: pd.DataFrame, previous: pd.DataFrame | None, ladder: tuple[str, ...]
) -> pd.DataFrame:
    """`leads` with each lead's trend since the `previous` published run (its lead_id,
    current_stage and p_<gate> columns; None when there is none): the change of each gate's
    probability (unknown for a lead the previous run did not score), and `trend`:

    - new: the previous run did not score the lead;
    - up: it crossed the gate it stood before last time, or that gate's probability rose by at
      least TREND_MIN_CHANGE;
    - down: that probability fell by at least TREND_MIN_CHANGE;
    - steady: otherwise."""
    out = leads.copy()
    cols = [probability_column(g) for g in ladder]
    if previous is None or len(previous) == 0:
        out["trend"] = "new"
        for c in cols:
            out[f"change_{c}"] = np.nan
        return out
    prev = previous.drop_duplicates("lead_id").set_index("lead_id")
    ids = out["lead_id"]
    known = ids.isin(prev.index).to_numpy()
    for c in cols:
        out[f"change_{c}"] = (out[c] - ids.map(prev[c])).round(4).astype(float)
    rank = {g: i for i, g in enumerate(ladder)}
    # the gate each lead stood before last time, and where it stands now
    then = ids.map(prev["current_stage"]).map(lambda s: rank.get(s, -1) + 1).fillna(0)
    then = then.clip(upper=len(ladder) - 1).astype(int).to_numpy()
    now = out["current_stage"].map(lambda s: rank.get(s, -1) + 1).to_numpy()
    change = out[[f"change_{c}" for c in cols]].to_numpy(dtype=float)
    delta = change[np.arange(len(out)), then]
    trend = np.select(
        [~known, now > then, delta >= TREND_MIN_CHANGE, delta <= -TREND_MIN_CHANGE],
        ["new", "up", "up", "down"],
        default="steady",
    )
    out["trend"] = trend
    return out


def score_schema(
    ladder: tuple[str, ...],
    top_drivers: int,
    general_route: str = NURTURE_GENERAL,
    horizons: tuple[int, ...] = (),
) -> pa.DataFrameSchema:
    probs = {
        probability_column(g): pa.Column(
            float, [pa.Check.in_range(0.0, 1.0), _finite()], nullable=False
        )
        for g in ladder
    }
    cols = [probability_column(g) for g in ladder]
    # time to threshold: missing where the gate's timing is unknown (a flat export, few crossings)
    within = {
        horizon_column(g, h): pa.Column(float, pa.Check.in_range(0.0, 1.0), nullable=True)
        for g in ladder
        for h in horizons
    }
    days = {
        days_column(g): pa.Column(float, pa.Check.ge(0.0), nullable=True, required=False)
        for g in ladder
    }

    def time_coherent(df: pd.DataFrame) -> pd.Series:
        """Each gate's curve rises with the horizon up to its readiness; each horizon's
        probabilities fall along the ladder (unknown values compare as true)."""
        ok = np.ones(len(df), dtype=bool)
        grid = []
        for g in ladder:
            c = df[[horizon_column(g, h) for h in horizons] + [probability_column(g)]]
            a = c.to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                ok &= ~(np.diff(a, axis=1) < -COHERENCE_TOLERANCE).any(axis=1)
            grid.append(a[:, :-1])
        stacked = np.stack(grid, axis=1)  # rows x gates x horizons
        with np.errstate(invalid="ignore"):
            ok &= ~(np.diff(stacked, axis=1) > COHERENCE_TOLERANCE).any(axis=(1, 2))
        return pd.Series(ok, index=df.index)

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
            # the export's own id of the lead (readiness/raw/io.py, crm_ids); runs scored
            # before it lack it
            "crm_id": pa.Column(str, nullable=False, required=False),
            "account_id": pa.Column("int64", pa.Check.ge(1)),
            "scored_at": pa.Column("datetime64[ns]"),
            "current_stage": pa.Column(str, pa.Check.isin([NO_STAGE, *ladder])),
            **probs,
            **within,
            **days,
            "readiness_stage": pa.Column(str, pa.Check.isin([NO_STAGE, *ladder])),
            "next_gate": pa.Column(str, pa.Check.isin(list(ladder))),
            # in words: "likely in about N days", "unlikely within H days (p)", "unknown: why"
            # or "crossed" (runs scored before it lack it)
            "next_gate_when": pa.Column(
                str,
                pa.Check.str_matches(
                    r"^(likely in about \d+ days|unlikely within \d+ days "
                    r"\(\d+%\)|unknown: .+|crossed)$"
                ),
                required=False,
            ),
            "p_next_gate": pa.Column(float, [pa.Check.in_range(0.0, 1.0), _finite()]),
            # missing when the data holds no won deal to size by (unknown, not 0)
            "expected_revenue": pa.Column(float, [pa.Check.ge(0.0), _finite()], nullable=True),
            **drivers,
            "weakest_belief": pa.Column(str, pa.Check.isin([*BELIEFS, UNKNOWN_BELIEF])),
            "persona": _text(),
            "industry": _text(),
            "region": _text(),
            "employee_band": _text(),
            "route": pa.Column(str, pa.Check.isin(routes(general_route))),
            "disqualifiers": _text(),
            "next_asset_id": pa.Column("Int64", nullable=True),
            "next_asset": _text(),
            **{c: _text() for c in HANDOFF_COLUMNS if c != "sla_due"},
            "sla_due": pa.Column("datetime64[ns]", nullable=True),
            # since the previous published run (runs scored before trends lack them)
            "trend": pa.Column(str, pa.Check.isin(list(TRENDS)), required=False),
            **{
                f"change_{c}": pa.Column(
                    float, pa.Check.in_range(-1.0, 1.0), nullable=True, required=False
                )
                for c in cols
            },
        },
        checks=[
            pa.Check(
                coherent,
                name="coherent_ladder",
                error="coherent_ladder: a later gate is more likely than an earlier one",
            ),
            *(
                [
                    pa.Check(
                        time_coherent,
                        name="coherent_time_to_threshold",
                        error="coherent_time_to_threshold: a shorter horizon is more likely "
                        "than a longer one, or a later gate than an earlier one within a horizon",
                    )
                ]
                if horizons
                else []
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


def content_hash(df: pd.DataFrame) -> str:
    """Twelve hex digits of the SHA-256 of a table's content (row order and values, not the
    index): part of a run id, so a published table is checked against the run it claims to be."""
    h = hashlib.sha256(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()[:12]


_CONTENT_TAIL = re.compile(r"-(?P<leads>[0-9a-f]{12})(?P<accounts>[0-9a-f]{4})$")


def check_run_content(run_id: str, leads: pd.DataFrame, accounts: pd.DataFrame, where: str) -> None:
    """The tables are the ones the run id was made from: the id ends in twelve hex digits of the
    leads table's content hash and four of the accounts table's (see `readiness score`)."""
    tail = _CONTENT_TAIL.search(run_id)
    if tail is None:
        raise ReadinessError(
            f"{where}: run id {run_id!r} carries no content hash of its tables; run "
            "`readiness score` again to get a run id that names them."
        )
    for table, frame, expected in (
        ("leads", leads, tail["leads"]),
        ("accounts", accounts, tail["accounts"]),
    ):
        if not content_hash(frame).startswith(expected):
            raise ReadinessError(
                f"{where}: the {table} table is not the table run {run_id} was scored as (its "
                "content changed since `readiness score`); score again so that the run id names "
                "this table."
            )


def leads_at(scores: pd.DataFrame, idx: pd.Series) -> str:
    if "lead_id" not in scores or idx.empty:
        return ""
    ids = scores["lead_id"].reindex(idx.astype(int)).dropna().astype(int).tolist()
    return f" (lead_id {', '.join(map(str, ids))})" if ids else ""


def validate_scores(
    scores: pd.DataFrame,
    ladder: tuple[str, ...],
    top_drivers: int,
    open_lead_ids: pd.Series,
    general_route: str = NURTURE_GENERAL,
) -> pd.DataFrame:
    """The score table if it keeps its contract; otherwise ScoreContractError listing failures
    (check, column, failing rows and examples), including leads missing or extra against the
    scoring snapshot's open leads."""
    problems: list[str] = []
    try:
        score_schema(
            ladder, top_drivers, general_route, horizons_in(scores.columns, ladder)
        ).validate(scores, lazy=True)
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


def scored_population(
    X: pd.DataFrame, validated: Path, ladder: tuple[str, ...]
) -> tuple[pd.DataFrame, list[dict]]:
    """The open leads of the scoring snapshot `readiness score` scores (and publish checks the
    run covers): all but those whose stage is in doubt (`_without_lost_milestones`), with why."""
    return _without_lost_milestones(X, lost_milestones(validated), ladder, validated)


def _without_lost_milestones(
    X: pd.DataFrame, lost: pd.DataFrame, ladder: tuple[str, ...], validated: Path
) -> tuple[pd.DataFrame, list[dict]]:
    """The scoring snapshot without the leads the export says reached a milestone past their
    recorded stage whose row was quarantined (its date unusable): their stage, and so every
    probability, would be a guess (a lead HubSpot calls an MQL scored as never one). Returns the
    rest and, when any, why and which leads (their CRM ids where the export has them)."""
    if lost.empty or X.empty:
        return X, []
    # a lost closed_lost closes the lead: past any stage
    top = lost_reach(lost, ladder, closing=True)
    stage = X["ladder_stage"] if "ladder_stage" in X else pd.Series(0, index=X.index)
    drop = (X["lead_id"].map(top) > stage).to_numpy()
    if not drop.any():
        return X, []
    ids = X.loc[drop, "lead_id"].astype("int64")
    theirs = crm_ids(validated, "leads")
    shown = ids.map(theirs) if theirs is not None else ids
    why = without_values(lost[lost["lead_id"].isin(ids)]["reasons"]).value_counts()
    return X.loc[~drop].reset_index(drop=True), [
        {
            "reason": "the export says the lead reached a milestone past its recorded stage, "
            "but that row was quarantined at ingest: its stage, and so its readiness, is "
            "unknown",
            "leads": int(drop.sum()),
            "commonest_quarantine_reason": str(why.index[0]),
            "lead_ids": [str(v) for v in shown.head(20)],
        }
    ]
