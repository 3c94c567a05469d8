"""Snapshots: the (lead, cutoff) rows that features and labels are computed for.

Training snapshots fall on a calendar cadence (every `cadence_days` from `first_cutoff`), so a
cohort is simply a range of cutoff dates. A lead has a snapshot at cutoff day D when, using only
what happened before D:
- it existed (created on an earlier day),
- it was open: neither the lead nor its account had closed (a won or lost deal of the lead, or a
  won deal of the account) on an earlier day,
- it was active: some sign of life (creation, an engaged action, a sales touch, a milestone) in the
  `dormant_after_days` days before D. A dormant lead that comes back gets snapshots again.
The scoring snapshot is one row per open lead at the as-of date, dormant or not. A flat export
(readiness/raw/flat.py) has one cutoff, its as-of date: one training snapshot per lead.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features.sources import Tables, day_of


def calendar(first_day: int, last_day: int, cadence_days: int) -> list[int]:
    """Cutoff days from first_day to last_day inclusive, every cadence_days."""
    return list(range(first_day, last_day + 1, cadence_days))


def closed_days(t: Tables) -> ir.Table:
    """Per lead, the first day it was closed (own won/lost deal or the account's won deal)."""
    own = t.milestones.filter(t.milestones.milestone.isin(("closed_won", "closed_lost")))
    own = own.group_by("lead_id").aggregate(own_closed=day_of(own.occurred_at).min())
    won = t.opportunities.filter(
        (t.opportunities.outcome == "won") & t.opportunities.closed_at.notnull()
    )
    won = won.group_by("account_id").aggregate(account_won=day_of(won.closed_at).min())
    leads = t.leads.select("lead_id", "account_id", created_day=day_of(t.leads.created_at))
    x = leads.left_join(own, "lead_id").select(leads, "own_closed").left_join(won, "account_id")
    closed = ibis.least(x.own_closed.fill_null(2**30), x.account_won.fill_null(2**30))
    return x.select(
        "lead_id",
        "account_id",
        "created_day",
        closed_day=closed.cast("int64"),
        by_account=(x.account_won.fill_null(2**30) < x.own_closed.fill_null(2**30)),
    )


def lead_states(t: Tables, as_of_day: int, *, closing_that_day: bool = True) -> dict[str, int]:
    """Every lead at the as-of date, counted once: open (the scoring snapshot, with the same
    rule as `scoring_snapshot`), closed by its own outcome, closed because its account won a
    deal (a colleague's: on contact-level data many leads close so), or not yet created. They
    add up to the leads table, so no lead leaves the scores unaccounted for."""
    life = closed_days(t)
    created = life.created_day < as_of_day
    still_open = life.closed_day >= as_of_day if closing_that_day else life.closed_day > as_of_day
    row = life.aggregate(
        leads=life.count(),
        open=(created & still_open).cast("int64").sum(),
        closed_by_account=(created & ~still_open & life.by_account).cast("int64").sum(),
        not_yet_created=(~created).cast("int64").sum(),
    ).execute()
    counts = {k: int(row[k].fillna(0).iloc[0]) for k in row.columns}
    counts["closed_by_own_outcome"] = (
        counts["leads"] - counts["open"] - counts["closed_by_account"] - counts["not_yet_created"]
    )
    return counts


def training_snapshots(
    t: Tables, lead_days: ir.Table, cutoffs: list[int], dormant_after_days: int
) -> ir.Table:
    """(lead_id, account_id, cutoff_day) for every active, open lead at every cutoff."""
    cal = ibis.memtable({"cutoff_day": cutoffs}).cast({"cutoff_day": "int32"})
    act = lead_days.filter(lead_days.activity > 0).select("lead_id", "day")
    w = ibis.window(group_by=act.lead_id, order_by=act.day)
    gap = act.day - act.day.lag().over(w)
    act = act.mutate(new_span=(gap.isnull() | (gap > dormant_after_days)).cast("int32"))
    act = act.mutate(
        span=act.new_span.sum().over(
            ibis.window(group_by=act.lead_id, order_by=act.day, rows=(None, 0))
        )
    )
    spans = act.group_by(["lead_id", "span"]).aggregate(s=act.day.min(), e=act.day.max())
    # cutoff D is active when some activity day a satisfies D - dormant <= a < D
    cands = spans.join(
        cal, (cal.cutoff_day > spans.s) & (cal.cutoff_day <= spans.e + dormant_after_days)
    )
    cands = cands.select("lead_id", "cutoff_day").distinct()
    life = closed_days(t)
    x = cands.join(life, "lead_id")
    x = x.filter((x.created_day < x.cutoff_day) & (x.cutoff_day <= x.closed_day))
    return x.select("lead_id", "account_id", cutoff_day=x.cutoff_day.cast("int32"))


def scoring_snapshot(t: Tables, as_of_day: int, *, closing_that_day: bool = True) -> ir.Table:
    """One row per lead open at the as-of date (created earlier, not closed earlier).

    A lead that closes on the as-of day itself was open before it and is kept, unless
    `closing_that_day` is False: a flat export dates its outcomes on its as-of day, so its leads
    with an outcome are the training snapshots (`flat_snapshots`), not leads to score."""
    life = closed_days(t)
    still_open = life.closed_day >= as_of_day if closing_that_day else life.closed_day > as_of_day
    x = life.filter((life.created_day < as_of_day) & still_open)
    return x.select("lead_id", "account_id", cutoff_day=ibis.literal(as_of_day).cast("int32"))


def flat_snapshots(t: Tables, as_of_day: int) -> ir.Table:
    """A flat export's training snapshots: every lead once, at the as-of date (outcomes are
    dated on it, so they are labels, never features), active or not."""
    return scoring_snapshot(t, as_of_day)
