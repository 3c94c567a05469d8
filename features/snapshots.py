"""Snapshots: the (lead, cutoff) rows that features and labels are computed for.

Training snapshots fall on a calendar cadence (every `cadence_days` from `first_cutoff`), so a
cohort is simply a range of cutoff dates. A lead has a snapshot at cutoff day D when, using only
what happened before D:
- it existed (created on an earlier day),
- it was open: neither the lead nor its account had closed (a won or lost deal of the lead, or a
  won deal of the account, unless `features.account_win_closes_leads` is false) on an earlier
  day,
- it was active: some sign of life (creation, an engaged action, a sales touch, a milestone) in the
  `dormant_after_days` days before D. A dormant lead that comes back gets snapshots again.
The scoring snapshot is one row per open lead at the as-of date, dormant or not; so a share of
the dormant (lead, cutoff) pairs is built too (`dormant_snapshots`), on which the train stage
recalibrates dormant leads (models/dormant.py). A flat export
(readiness/raw/flat.py) has one cutoff, its as-of date: one training snapshot per lead.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features.sources import Tables, day_of


def calendar(first_day: int, last_day: int, cadence_days: int) -> list[int]:
    """Cutoff days from first_day to last_day inclusive, every cadence_days."""
    return list(range(first_day, last_day + 1, cadence_days))


def closed_days(t: Tables, by_account: bool = True) -> ir.Table:
    """Per lead, the first day it was closed: its own won/lost deal (or the ladder's last gate,
    `Tables.closing`) or, with `by_account` (the default, DESIGN.md's rule), its account's first
    won deal; without it (contact-level exports, where a colleague's deal does not end a
    contact's own journey), only its own."""
    own = t.milestones.filter(t.milestones.milestone.isin(t.closing))
    own = own.group_by("lead_id").aggregate(own_closed=day_of(own.occurred_at).min())
    won = t.opportunities.filter(
        (t.opportunities.outcome == "won") & t.opportunities.closed_at.notnull()
    )
    won = won.group_by("account_id").aggregate(account_won=day_of(won.closed_at).min())
    leads = t.leads.select("lead_id", "account_id", created_day=day_of(t.leads.created_at))
    x = leads.left_join(own, "lead_id").select(leads, "own_closed").left_join(won, "account_id")
    account_won = x.account_won.fill_null(2**30) if by_account else ibis.literal(2**30)
    closed = ibis.least(x.own_closed.fill_null(2**30), account_won)
    return x.select(
        "lead_id",
        "account_id",
        "created_day",
        closed_day=closed.cast("int64"),
        by_account=(account_won < x.own_closed.fill_null(2**30)),
    )


def lead_states(
    t: Tables, as_of_day: int, *, closing_that_day: bool = True, by_account: bool = True
) -> dict[str, int]:
    """Every lead at the as-of date, counted once: open (the scoring snapshot, with the same
    rule as `scoring_snapshot`), closed by its own outcome (a won or lost deal, or the ladder's
    last gate reached: `Tables.closing`), closed because its account won a
    deal (a colleague's: on contact-level data many leads close so), or not yet created. They
    add up to the leads table, so no lead leaves the scores unaccounted for."""
    life = closed_days(t, by_account)
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
    t: Tables,
    lead_days: ir.Table,
    cutoffs: list[int],
    dormant_after_days: int,
    by_account: bool = True,
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
    life = closed_days(t, by_account)
    x = cands.join(life, "lead_id")
    x = x.filter((x.created_day < x.cutoff_day) & (x.cutoff_day <= x.closed_day))
    return x.select("lead_id", "account_id", cutoff_day=x.cutoff_day.cast("int32"))


# a fixed hash of (lead, cutoff) in [0, _HASH_MOD): the same dormant sample on every run
_HASH_MOD = 1_000_003


def dormant_snapshots(
    t: Tables, active: ir.Table, cutoffs: list[int], share: float, by_account: bool = True
) -> ir.Table:
    """(lead_id, account_id, cutoff_day) for a fixed share of the (lead, cutoff) pairs where
    the lead was open but dormant: created before the cutoff, not closed before it, and not
    among the `active` training snapshots. Chosen by a hash of lead and cutoff, so the sample is
    the same on every run and independent of the data's order."""
    cal = ibis.memtable({"cutoff_day": cutoffs}).cast({"cutoff_day": "int32"})
    life = closed_days(t, by_account)
    pick = ((life.lead_id % _HASH_MOD) * 2654435761 + cal.cutoff_day.cast("int64") * 40503) % (
        _HASH_MOD
    ) < int(share * _HASH_MOD)
    x = cal.join(
        life, (life.created_day < cal.cutoff_day) & (cal.cutoff_day <= life.closed_day) & pick
    )
    x = x.select("lead_id", "account_id", cutoff_day=x.cutoff_day.cast("int32"))
    return x.anti_join(active, ["lead_id", "cutoff_day"])


def dormant_share(
    t: Tables,
    active: ir.Table,
    cutoffs: list[int],
    share: float,
    min_snapshots: int,
    by_account: bool = True,
) -> float:
    """The share of dormant pairs to sample: `share`, raised so that the sample holds about
    `min_snapshots` pairs (all of them when there are fewer); 0 stays 0."""
    if share <= 0 or min_snapshots <= 0:
        return share
    n = int(dormant_snapshots(t, active, cutoffs, 1.0, by_account).count().execute())
    return min(1.0, max(share, min_snapshots / n)) if n else share


def scoring_snapshot(
    t: Tables, as_of_day: int, *, closing_that_day: bool = True, by_account: bool = True
) -> ir.Table:
    """One row per lead open at the as-of date (created earlier, not closed earlier).

    A lead that closes on the as-of day itself was open before it and is kept, unless
    `closing_that_day` is False: a flat export dates its outcomes on its as-of day, so its leads
    with an outcome are the training snapshots (`flat_snapshots`), not leads to score."""
    life = closed_days(t, by_account)
    still_open = life.closed_day >= as_of_day if closing_that_day else life.closed_day > as_of_day
    x = life.filter((life.created_day < as_of_day) & still_open)
    return x.select("lead_id", "account_id", cutoff_day=ibis.literal(as_of_day).cast("int32"))


def flat_snapshots(t: Tables, as_of_day: int) -> ir.Table:
    """A flat export's training snapshots: every lead once, at the as-of date (outcomes are
    dated on it, so they are labels, never features), active or not."""
    return scoring_snapshot(t, as_of_day)
