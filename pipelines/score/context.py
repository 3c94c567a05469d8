"""What routing and the sales handoff need to know about each open lead, besides its features.

All of it is read from the validated tables strictly before the as-of cutoff (the same rule as
the features): who the lead is (persona, industry, region), the account's current owner, the
lead's last touches, the high-intent events that may have tipped it, the asset it engaged with
most, the assets it already consumed and how popular each asset is. Queries are Ibis expressions
on DuckDB, like the features.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd

from features.sources import Tables, load_tables
from readiness.domain import EVENT_TYPES

# every event but an email open (opens are noise: image loads, privacy proxies)
ENGAGED_EVENTS = tuple(e for e in EVENT_TYPES if e != "email_open")
_EVENT_WORDS = {
    "email_click": "clicked an email",
    "page_view": "viewed",
    "asset_download": "downloaded",
    "webinar_attended": "attended the webinar",
    "form_submit": "filled in a form",
    "pricing_page_view": "viewed the pricing page",
    "demo_request": "asked for a demo",
}


@dataclass
class LeadContext:
    """Per-lead context frames (lead ids are those of the scoring snapshot)."""

    leads: pd.DataFrame  # lead_id, account_id, persona, seniority, source_channel,
    # email_domain_type, industry, employee_band, region, account_owner, created_at, last_engaged_at
    touches: pd.DataFrame  # lead_id, occurred_at, text, n (1 = latest), up to `last_touches` each
    triggers: pd.DataFrame  # lead_id, event_type, occurred_at, title: the latest of each type
    top_assets: pd.DataFrame  # lead_id, title, belief_stage: the asset the lead engaged with most
    consumed: pd.DataFrame  # lead_id, asset_id: every asset the lead consumed
    assets: pd.DataFrame  # asset_id, title, belief_stage, audience, industry, popularity,
    # converters (leads that consumed it before progressing past MQL)
    # segment (all | persona | industry), value, asset_id, converters: the same count among all
    # converting leads and those of each persona and industry, and segment_leads: how many
    # converting leads the segment has (an asset none of them consumed has no row)
    similar: pd.DataFrame | None = None


def describe_event(event_type: str, title: str | None) -> str:
    words = _EVENT_WORDS.get(event_type, event_type.replace("_", " "))
    return f"{words} '{title}'" if isinstance(title, str) and title else words


def gather_context(
    con: ibis.BaseBackend,
    validated: Path,
    lead_ids: pd.Series,
    as_of: pd.Timestamp,
    trigger_events: tuple[str, ...],
    trigger_days: int,
    last_touches: int = 3,
    popularity_days: int = 180,
) -> LeadContext:
    """Read the context of the given open leads from the validated tables, before `as_of`."""
    t = load_tables(con, validated)
    cutoff = ibis.timestamp(pd.Timestamp(as_of).to_pydatetime())
    open_leads = ibis.memtable(pd.DataFrame({"lead_id": lead_ids.astype("int64").to_numpy()}))
    events = t.events.filter(t.events.occurred_at < cutoff)
    events = events.semi_join(open_leads, "lead_id")
    engaged = events.filter(events.event_type.isin(ENGAGED_EVENTS))
    assets = t.assets.select("asset_id", "title", "belief_stage")

    leads = _lead_attributes(t, open_leads, engaged, cutoff)
    touches = _last_touches(t, engaged, assets, open_leads, cutoff, last_touches)
    recent = engaged.filter(
        engaged.event_type.isin(trigger_events)
        & (engaged.occurred_at >= cutoff - ibis.interval(days=trigger_days))
    )
    w = ibis.window(
        group_by=[recent.lead_id, recent.event_type], order_by=ibis.desc(recent.occurred_at)
    )
    recent = recent.mutate(n=ibis.row_number().over(w)).filter(lambda x: x.n == 0)
    triggers = recent.left_join(assets, "asset_id").select(
        "lead_id", "event_type", "occurred_at", "title"
    )

    with_asset = engaged.filter(engaged.asset_id.notnull())
    counts = with_asset.group_by(["lead_id", "asset_id"]).aggregate(
        times=lambda x: x.count(), last=lambda x: x.occurred_at.max()
    )
    w = ibis.window(
        group_by=counts.lead_id, order_by=[ibis.desc(counts.times), ibis.desc(counts.last)]
    )
    top = counts.mutate(n=ibis.row_number().over(w)).filter(lambda x: x.n == 0)
    top = top.join(assets, "asset_id").select("lead_id", "title", "belief_stage")
    consumed = counts.select("lead_id", "asset_id")

    since = cutoff - ibis.interval(days=popularity_days)
    all_recent = t.events.filter(
        t.events.asset_id.notnull()
        & (t.events.occurred_at < cutoff)
        & (t.events.occurred_at >= since)
    )
    popularity = all_recent.group_by("asset_id").aggregate(popularity=lambda x: x.lead_id.nunique())
    catalogue = t.assets.filter(t.assets.published_at.isnull() | (t.assets.published_at < cutoff))
    # content consumed by leads that went on past MQL, before they did: what the general nurture
    # route offers when the weakest belief is unknown
    ms = t.milestones.filter(
        ~t.milestones.milestone.isin(["mql", "closed_lost"]) & (t.milestones.occurred_at < cutoff)
    )
    progressed = ms.group_by("lead_id").aggregate(progressed_at=lambda m: m.occurred_at.min())
    before = t.events.filter(t.events.asset_id.notnull()).join(progressed, "lead_id")
    before = before.filter(before.occurred_at < before.progressed_at)
    converters = before.group_by("asset_id").aggregate(converters=lambda x: x.lead_id.nunique())
    similar = _similar_converters(t, before, progressed)
    catalogue = catalogue.left_join(popularity, "asset_id").select(
        "asset_id",
        "title",
        "belief_stage",
        "audience",
        "industry",
        popularity=lambda x: x.popularity.fill_null(0),
    )
    catalogue = catalogue.left_join(converters, "asset_id").select(
        catalogue, converters=lambda x: x.converters.fill_null(0)
    )
    return LeadContext(
        leads=con.to_pandas(leads),
        touches=con.to_pandas(touches),
        triggers=con.to_pandas(triggers),
        top_assets=con.to_pandas(top),
        consumed=con.to_pandas(consumed),
        assets=con.to_pandas(catalogue).sort_values("asset_id", ignore_index=True),
        similar=con.to_pandas(similar),
    )


def _similar_converters(t: Tables, before: ir.Table, progressed: ir.Table) -> ir.Table:
    """Overall, per persona and per industry: how many converting leads consumed each asset
    before progressing, and how many converting leads there are (what "leads like this one"
    read)."""
    who = t.leads.left_join(t.accounts.select("account_id", "industry"), "account_id").select(
        "lead_id", "persona", "industry", all=ibis.literal("all")
    )
    read = before.select("lead_id", "asset_id").join(who, "lead_id")
    went = progressed.join(who, "lead_id")
    parts = []
    for segment in ("all", "persona", "industry"):
        r = read.filter(read[segment].notnull())
        counts = r.group_by([segment, "asset_id"]).aggregate(
            converters=lambda x: x.lead_id.nunique()
        )
        g = went.filter(went[segment].notnull())
        sizes = g.group_by(segment).aggregate(segment_leads=lambda x: x.lead_id.nunique())
        both = counts.join(sizes, segment)
        parts.append(
            both.select(
                segment=ibis.literal(segment),
                value=both[segment].cast("string"),
                asset_id=both.asset_id,
                converters=both.converters,
                segment_leads=both.segment_leads,
            )
        )
    return parts[0].union(parts[1]).union(parts[2])


def _lead_attributes(t: Tables, open_leads, engaged, cutoff):
    leads = t.leads.semi_join(open_leads, "lead_id")
    acc = t.accounts.select("account_id", "industry", "employee_band", "region")
    x = leads.left_join(acc, "account_id").select(
        "lead_id",
        "account_id",
        "created_at",
        "persona",
        "seniority",
        "source_channel",
        "email_domain_type",
        "industry",
        "employee_band",
        "region",
    )
    # the account's owner: the rep of the latest sales touch on any of its leads that names one
    st = t.sales_touches.filter(
        (t.sales_touches.occurred_at < cutoff) & t.sales_touches.owner_id.notnull()
    )
    st = st.join(t.leads.select("lead_id", "account_id"), "lead_id")
    w = ibis.window(group_by=st.account_id, order_by=ibis.desc(st.occurred_at))
    owner = st.mutate(n=ibis.row_number().over(w)).filter(lambda s: s.n == 0)
    owner = owner.select("account_id", account_owner=owner.owner_id)
    last = engaged.group_by("lead_id").aggregate(last_engaged_at=lambda e: e.occurred_at.max())
    x = x.left_join(owner, "account_id").select(x, "account_owner")
    return x.left_join(last, "lead_id").select(x, "last_engaged_at")


def _last_touches(t: Tables, engaged, assets, open_leads, cutoff, n: int):
    ev = engaged.left_join(assets, "asset_id").select(
        "lead_id", "occurred_at", kind=engaged.event_type, title=assets.title
    )
    st = t.sales_touches.filter(t.sales_touches.occurred_at < cutoff).semi_join(
        open_leads, "lead_id"
    )
    st = st.select(
        "lead_id",
        "occurred_at",
        kind=ibis.literal("sales_") + st.touch_type,
        title=st.owner_id,
    )
    both = ev.union(st)
    w = ibis.window(group_by=both.lead_id, order_by=[ibis.desc(both.occurred_at), both.kind])
    both = both.mutate(n=ibis.row_number().over(w) + 1)
    return both.filter(both.n <= n)


def touch_text(kind: str, title: str | None, occurred_at: pd.Timestamp) -> str:
    """One touch as a line of the handoff: '2025-12-30: downloaded 'ROI one-pager''."""
    when = pd.Timestamp(occurred_at).strftime("%Y-%m-%d")
    if kind.startswith("sales_"):
        by = f" by {title}" if title is not None and title == title else ""  # no rep: unsaid
        return f"{when}: sales {kind.removeprefix('sales_')}{by}"
    return f"{when}: {describe_event(kind, title)}"
