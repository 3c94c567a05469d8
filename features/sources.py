"""Measure streams: the validated tables reduced to one row per (lead, day) and per (account, day).

A measure is a count (or a max) of something that happened on a day: urgency content consumed,
pricing pages viewed, a milestone reached. Because every cutoff is a midnight, "strictly before
the cutoff" is exactly "on an earlier day", so day-level streams lose nothing the features need
and are much smaller than the event log. Everything here is an Ibis expression (no SQL strings),
so the same definitions run on DuckDB today and on another Ibis backend later.

Firsts ("the first time this lead consumed this asset") are computed as the minimum day of a
group, which only depends on the past of that day: no leak.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import ibis
import ibis.expr.types as ir

from readiness.domain import (
    BELIEF_STAGES,
    BELIEFS,
    EMPLOYEE_BANDS,
    EVENT_TYPES,
    INDUSTRIES,
    PERSONAS,
    REGIONS,
    SENIORITIES,
    SOURCE_CHANNELS,
    STAKEHOLDER_AUDIENCES,
    ladder_ranks,
)
from readiness.raw.schemas import TABLES

EPOCH = ibis.date(1970, 1, 1)
CONTENT_EVENTS = ("email_click", "page_view", "asset_download", "webinar_attended", "form_submit")
DEEP_EVENTS = ("asset_download", "webinar_attended")
TIMELINE_CODES = {"exploring": 1, "this_year": 2, "this_quarter": 3}

# measures of the lead-day stream: summed per day, except the max ones
LEAD_SUM_MEASURES = (
    *(f"content_{b}" for b in BELIEFS),
    *(f"deep_{b}" for b in BELIEFS),
    *(f"new_asset_{b}" for b in BELIEFS),
    "any_belief",
    "proof_match",
    "new_proof_match",
    "pricing",
    "demo",
    "forms",
    "clicks",
    "page_views",
    "downloads",
    "webinars",
    "engaged",
    "active_day",
    "touches",
    "meetings",
    "activity",
)
LEAD_MAX_MEASURES = ("timeline", "budget_yes", "ladder_rank")
ACCOUNT_SUM_MEASURES = (
    "acc_stakeholder",
    "acc_stakeholder_download",
    "acc_engaged",
    "acc_new_persona",
    "acc_new_stakeholder_persona",
    "acc_new_executive",
    "acc_new_finance",
    "acc_new_lead_engaged",
    "acc_lead_created",
)
# the measure streams, the key each is aggregated by, and the measures each carries
STREAM_KEYS = {"lead": "lead_id", "lead_opens": "lead_id", "account": "account_id"}
STREAM_MEASURES = {
    "lead": (*LEAD_SUM_MEASURES, *LEAD_MAX_MEASURES),
    "lead_opens": ("opens",),
    "account": ACCOUNT_SUM_MEASURES,
}
STREAM_OF_MEASURE = {m: stream for stream, ms in STREAM_MEASURES.items() for m in ms}
CATEGORICAL_VOCABULARY = {
    "industry": INDUSTRIES,
    "employee_band": EMPLOYEE_BANDS,
    "region": REGIONS,
    "persona": PERSONAS,
    "seniority": SENIORITIES,
    "source_channel": SOURCE_CHANNELS,
}


@dataclass(frozen=True)
class Tables:
    """The validated tables as Ibis tables, and the milestones that close a lead: its own won
    or lost outcome and, once a ladder is known (`closing_with`), its last gate: a lead that
    has crossed every gate has nothing left to predict (a short ladder's "converted")."""

    accounts: ir.Table
    leads: ir.Table
    assets: ir.Table
    events: ir.Table
    milestones: ir.Table
    opportunities: ir.Table
    sales_touches: ir.Table
    closing: tuple[str, ...] = ("closed_won", "closed_lost")

    def closing_with(self, ladder: tuple[str, ...]) -> Tables:
        """These tables with every milestone that reaches `ladder`'s last gate (it, or one past
        it in the journey) among the closing milestones."""
        last = [m for m, r in ladder_ranks(ladder).items() if r == len(ladder)]
        return replace(self, closing=tuple(dict.fromkeys((*self.closing, *last))))


def load_tables(con: ibis.BaseBackend, validated: Path) -> Tables:
    """Register the validated Parquet folders with the backend."""
    return Tables(
        **{
            t: con.read_parquet(str(validated / t / "*.parquet"), table_name=f"validated_{t}")
            for t in TABLES
        }
    )


def day_of(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Days since 1970-01-01 of a timestamp (its calendar day)."""
    return ts.date().delta(EPOCH, unit="day").cast("int32")


def _code(value: ir.StringValue, vocabulary: tuple[str, ...]) -> ir.IntegerValue:
    """Position of a value in a vocabulary (null when absent)."""
    return ibis.cases(*((value == v, i) for i, v in enumerate(vocabulary)), else_=ibis.null()).cast(
        "int8"
    )


def _flag(cond: ir.BooleanValue) -> ir.IntegerValue:
    return cond.fill_null(False).cast("int32")


def lead_measures(t: Tables, ladder: tuple[str, ...]) -> ir.Table:
    """The lead measure stream at row level: events, firsts, touches, milestones and creations.

    Every row has lead_id, day and every measure (0 where it does not apply); sums
    and maxima over rows of a day equal the day's values, so aggregating this stream or its
    `day_stream` gives the same features.
    """
    measures = (*LEAD_SUM_MEASURES, *LEAD_MAX_MEASURES)
    leads = t.leads.select("lead_id", "account_id", lead_created=t.leads.created_at)
    accounts = t.accounts.select("account_id", account_industry=t.accounts.industry)
    # codes computed once (on the 100-row assets table, and once per event) so that the many
    # measures below compare small integers rather than strings
    assets = t.assets.select(
        "asset_id",
        stage=t.assets.belief_stage,
        stage_code=_code(t.assets.belief_stage, BELIEF_STAGES),
        asset_industry=t.assets.industry,
    )
    # nurture-email opens are most of the log and feed two features: they get their own stream
    engaged_events = t.events.filter(t.events.event_type != "email_open")
    ev = (
        engaged_events.join(leads, "lead_id")
        .join(accounts, "account_id")
        .left_join(assets, "asset_id")
        .select(
            "lead_id",
            "asset_id",
            "properties",
            "stage_code",
            "asset_industry",
            "account_industry",
            type_code=_code(engaged_events.event_type, EVENT_TYPES),
            day=day_of(engaged_events.occurred_at),
        )
    )
    code = {e: EVENT_TYPES.index(e) for e in EVENT_TYPES}
    has_asset = ev.asset_id.notnull() & ev.stage_code.notnull()
    content = ev.type_code.isin([code[e] for e in CONTENT_EVENTS]) & has_asset
    deep = ev.type_code.isin([code[e] for e in DEEP_EVENTS]) & has_asset
    capability = BELIEF_STAGES.index("capability")
    proof_match = (
        content & (ev.stage_code == capability) & (ev.asset_industry == ev.account_industry)
    )
    timeline = ibis.cases(
        *(
            (ev.properties.contains(f'"timeline":"{k}"'), v)
            for k, v in sorted(TIMELINE_CODES.items(), key=lambda kv: -kv[1])
        ),
        else_=0,
    )
    per_event = ev.select(
        "lead_id",
        "day",
        **{f"content_{b}": _flag(content & (ev.stage_code == i)) for i, b in enumerate(BELIEFS)},
        **{f"deep_{b}": _flag(deep & (ev.stage_code == i)) for i, b in enumerate(BELIEFS)},
        any_belief=_flag(content & (ev.stage_code < len(BELIEFS))),
        proof_match=_flag(proof_match),
        pricing=_flag(ev.type_code == code["pricing_page_view"]),
        demo=_flag(ev.type_code == code["demo_request"]),
        forms=_flag(ev.type_code == code["form_submit"]),
        # each kind of engaged action on its own: on an export whose content carries no belief
        # tags these are what the activity log says (a trial: clicks were the strongest signal,
        # and folded into engaged actions they hardly reached the model)
        clicks=_flag(ev.type_code == code["email_click"]),
        page_views=_flag(ev.type_code == code["page_view"]),
        downloads=_flag(ev.type_code == code["asset_download"]),
        webinars=_flag(ev.type_code == code["webinar_attended"]),
        engaged=ibis.literal(1),
        activity=ibis.literal(1),
        timeline=timeline.fill_null(0).cast("int32"),
        budget_yes=_flag(ev.properties.contains('"budget_authority":"yes"')),
    )
    # the first time the lead consumed each asset (distinct-asset counts as cumulative sums)
    firsts = ev.filter(content).group_by(["lead_id", "asset_id"]).aggregate(day=ev.day.min())
    firsts = (
        firsts.join(leads, "lead_id")
        .join(accounts, "account_id")
        .join(assets, "asset_id")
        .select("lead_id", "day", "stage", "asset_industry", "account_industry")
    )
    first_rows = firsts.select(
        "lead_id",
        "day",
        **{f"new_asset_{b}": _flag(firsts.stage == b) for b in BELIEFS},
        new_proof_match=_flag(
            (firsts.stage == "capability") & (firsts.asset_industry == firsts.account_industry)
        ),
    )
    # a row per day with an engaged action: "active days" count how often, not how much
    active_rows = ev.select("lead_id", "day").distinct().mutate(active_day=ibis.literal(1))
    touches = t.sales_touches
    is_meeting = _flag(touches.touch_type == "meeting")
    touch_rows = touches.select(
        "lead_id",
        day=day_of(touches.occurred_at),
        touches=1 - is_meeting,
        meetings=is_meeting,
        activity=ibis.literal(1),
    )
    rank = ibis.cases(
        *((t.milestones.milestone == m, r) for m, r in ladder_ranks(ladder).items()), else_=0
    )
    ms = t.milestones
    milestone_rows = ms.select(
        "lead_id",
        day=day_of(ms.occurred_at),
        ladder_rank=rank,
        activity=ibis.literal(1),
    )
    created_rows = leads.select("lead_id", day=day_of(leads.lead_created), activity=ibis.literal(1))

    def widen(table: ir.Table) -> ir.Table:
        present = set(table.columns)
        return table.select(
            "lead_id",
            "day",
            **{m: (table[m] if m in present else ibis.literal(0)).cast("int32") for m in measures},
        )

    parts = [
        widen(x)
        for x in (per_event, first_rows, active_rows, touch_rows, milestone_rows, created_rows)
    ]
    return ibis.union(*parts, distinct=False)


def lead_open_measures(t: Tables) -> ir.Table:
    """The nurture-email opens stream at row level: lead_id, day, opens (1 per open)."""
    opens = t.events.filter(t.events.event_type == "email_open")
    return opens.select(
        "lead_id", day=day_of(opens.occurred_at), opens=ibis.literal(1).cast("int32")
    )


def account_measures(t: Tables) -> ir.Table:
    """The account measure stream at row level: the buying committee's activity and its firsts."""
    leads = t.leads.select("lead_id", "account_id", "persona", lead_created=t.leads.created_at)
    assets = t.assets.select("asset_id", stage=t.assets.belief_stage, audience=t.assets.audience)
    # email opens move no account measure; leaving them out keeps the stream small
    ev = (
        t.events.filter(t.events.event_type != "email_open")
        .join(leads, "lead_id")
        .left_join(assets, "asset_id")
    )
    ev = ev.select(
        "lead_id",
        "account_id",
        "persona",
        "event_type",
        day=day_of(ev.occurred_at),
        stakeholder=(
            ev.event_type.isin(CONTENT_EVENTS)
            & (ev.stage == "alignment")
            & ev.audience.isin(STAKEHOLDER_AUDIENCES)
        ).fill_null(False),
    )
    volume = ev.select(
        "account_id",
        "day",
        acc_stakeholder=_flag(ev.stakeholder),
        acc_stakeholder_download=_flag(ev.stakeholder & (ev.event_type == "asset_download")),
        acc_engaged=ibis.literal(1),
    )
    eng = ev.filter(ev.persona.notnull())
    persona_first = eng.group_by(["account_id", "persona"]).aggregate(day=eng.day.min())
    persona_days = persona_first.group_by(["account_id", "day"]).aggregate(
        acc_new_persona=lambda x: x.count().cast("int32"),
        acc_new_executive=lambda x: _flag(x.persona == "executive").sum().cast("int32"),
        acc_new_finance=lambda x: _flag(x.persona == "finance").sum().cast("int32"),
    )
    sh = ev.filter(ev.stakeholder & ev.persona.notnull())
    stakeholder_days = (
        sh.group_by(["account_id", "persona"])
        .aggregate(day=sh.day.min())
        .group_by(["account_id", "day"])
        .aggregate(acc_new_stakeholder_persona=lambda x: x.count().cast("int32"))
    )
    lead_engaged_days = (
        ev.group_by(["account_id", "lead_id"])
        .aggregate(day=ev.day.min())
        .group_by(["account_id", "day"])
        .aggregate(acc_new_lead_engaged=lambda x: x.count().cast("int32"))
    )
    created = (
        leads.select("account_id", day=day_of(leads.lead_created))
        .group_by(["account_id", "day"])
        .aggregate(acc_lead_created=lambda x: x.count().cast("int32"))
    )

    def widen(table: ir.Table) -> ir.Table:
        present = set(table.columns)
        return table.select(
            "account_id",
            "day",
            **{
                m: (table[m] if m in present else ibis.literal(0)).cast("int32")
                for m in ACCOUNT_SUM_MEASURES
            },
        )

    parts = [widen(x) for x in (volume, persona_days, stakeholder_days, lead_engaged_days, created)]
    return ibis.union(*parts, distinct=False)


def measure_streams(t: Tables, ladder: tuple[str, ...]) -> dict[str, ir.Table]:
    """Every measure stream at row level, by name (see STREAM_KEYS)."""
    return {
        "lead": lead_measures(t, ladder),
        "lead_opens": lead_open_measures(t),
        "account": account_measures(t),
    }


def day_stream(measures: ir.Table) -> ir.Table:
    """A measure stream reduced to one row per (key, day): sums, and maxima for the max measures."""
    keys = [k for k in ("lead_id", "account_id", "day") if k in measures.columns]
    return measures.group_by(keys).aggregate(
        **{
            m: (measures[m].max() if m in LEAD_MAX_MEASURES else measures[m].sum()).cast("int32")
            for m in measures.columns
            if m not in keys
        }
    )


def static_attributes(t: Tables, out_of_profile_bands: tuple[str, ...]) -> ir.Table:
    """Fit and disqualifier attributes of each lead (known from creation on), as numeric codes.

    Categories are coded by their position in the domain vocabulary; unknown (null) is -1.
    """
    acc = t.accounts.select("account_id", "industry", "employee_band", "region")
    x = t.leads.join(acc, "account_id")
    codes = {
        name: ibis.cases(*((x[name] == v, i) for i, v in enumerate(vocab)), else_=-1).cast(
            "float64"
        )
        for name, vocab in CATEGORICAL_VOCABULARY.items()
    }
    return x.select(
        "lead_id",
        created_day=day_of(x.created_at),
        **codes,
        free_email_domain=_flag(x.email_domain_type == "free").cast("float64"),
        competitor_email_domain=_flag(x.email_domain_type == "competitor").cast("float64"),
        out_of_profile_size=_flag(
            x.employee_band.isin(out_of_profile_bands)
            if out_of_profile_bands
            else ibis.literal(False)
        ).cast("float64"),
    )


def data_start_day(t: Tables) -> int:
    """The day the first lead was created: 'the start of the data'."""
    return int(day_of(t.leads.created_at.min()).execute())


def data_end_day(t: Tables) -> int:
    """The day after the last recorded activity: 'the end of the data' as a midnight."""
    last = [
        t.events.occurred_at.max(),
        t.milestones.occurred_at.max(),
        t.sales_touches.occurred_at.max(),
        t.leads.created_at.max(),
    ]
    days = [v for v in (day_of(x).execute() for x in last) if v is not None and v == v]
    return int(max(days)) + 1
