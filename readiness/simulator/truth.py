"""Ground truth: the true probability that a lead crosses each gate within a horizon after a cutoff.

For a (lead, cutoff), the chunk holding the lead is replayed from day 0 to the cutoff with the
same dynamics stream as the original run (so the latent state is exactly the one that produced
the raw data), the lead's whole account is copied `rollouts` times, and every copy is simulated
forward with fresh randomness. The true probability of crossing a gate within
[cutoff, cutoff + horizon) is estimated from the copies. Besides counting the copies that
crossed, each copy adds up its exact chance of stepping over the gate on each day it is one step
below it (the compensator of the crossing: same expectation as the count, but a copy that came
close counts for something, so rare crossings are not estimated as exactly 0). By default the
two are combined as a control variate (count + beta x (compensator - count), beta fitted per
gate to the copies: the beta of least variance over all of them, so at worst about as noisy
as the better of the two); every estimate comes with its Monte Carlo standard error.

Nothing here reads the raw tables: the truth comes from the simulator's own state.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from readiness.errors import ReadinessError
from readiness.params import SimulateParams
from readiness.simulator.engine import (
    LOST,
    MQL,
    OPP,
    QC,
    SAL,
    WON,
    AssetPools,
    ChunkState,
    Recorder,
    initial_state,
    step,
)
from readiness.simulator.engine import consume as consume_assets
from readiness.simulator.run import chunk_rngs, plan_chunks
from readiness.simulator.world import World, build_world

log = logging.getLogger(__name__)

STAGE_OF_MILESTONE = {
    "mql": MQL,
    "sales_accepted": SAL,
    "qualified_conversation": QC,
    "opportunity": OPP,
    "closed_won": WON,
    "closed_lost": LOST,
}
# lead copies simulated at once in a roll-out batch (bounds memory at about 0.6 GB, the
# recorder's first days and summed chances included)
_BATCH_LEAD_COPIES = 1_500_000


class _Crossings(Recorder):
    """First day each lead copy reaches each stage and, for the compensator estimate, each copy's
    summed chance of moving into each stage on the days before `until`."""

    wants_chances = True

    def __init__(self, n: int, until: int):
        self.first = np.full((n, 7), -1, dtype=np.int64)
        self.expected = np.zeros((n, 7))
        self.until = until

    def transitions(self, leads, new_stage, day) -> None:
        cur = self.first[leads, new_stage]
        self.first[leads, new_stage] = np.where(cur < 0, day, cur)

    def chances(self, leads, stage, up, win, day) -> None:
        if day >= self.until:
            return
        climbing = stage < OPP
        self.expected[leads[climbing], stage[climbing] + 1] += up[climbing]
        closing = stage == OPP
        self.expected[leads[closing], WON] += up[closing] * win[closing]
        self.expected[leads[closing], LOST] += up[closing] * (1 - win[closing])


# how a true probability is estimated from the roll-outs (see true_probability_copies)
ESTIMATORS = ("combined", "compensator", "sampled")


def true_probabilities(
    p: SimulateParams,
    queries: pd.DataFrame,
    gates: tuple[str, ...],
    **options: Any,
) -> pd.DataFrame:
    """True crossing probabilities for each (lead_id, cutoff) row of `queries`: the frame of
    `true_probability_copies` (which see, for the options)."""
    return true_probability_copies(p, queries, gates, **options)[0]


def true_probability_copies(
    p: SimulateParams,
    queries: pd.DataFrame,
    gates: tuple[str, ...],
    *,
    horizon_days: int,
    rollouts: int = 256,
    anchored: tuple[str, ...] = (),
    follow_through_days: int = 0,
    estimator: str = "combined",
    stream: int = 0,
    within: tuple[int, ...] = (),
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """True crossing probabilities for each (lead_id, cutoff) row of `queries`, and every copy's
    value behind them.

    Args:
        queries: columns lead_id and cutoff (midnight timestamps); optionally asset_id, a
            what-if: the lead downloads that asset at the cutoff before the roll-outs (empty:
            nothing); the same call without it gives the probabilities without the download.
            Both start from the same random streams, but these fall out of step as soon as the
            download changes a rate (numpy draws a rate-dependent count of numbers for a
            Poisson variate), so the difference carries the error of two independent estimates
            (no variance reduction from common random numbers).
        gates: milestones to report, e.g. the ladder.
        anchored: gates that count only if the lead's account wins a deal within
            `follow_through_days` after the crossing (revenue-anchored labels).
        estimator: "sampled": the share of copies that crossed. "compensator": each copy
            contributes the sum, over the days it sits one step below the gate inside the
            horizon, of its exact chance of stepping up that day (given everything drawn before
            the step); its expectation is the probability of crossing, like a hit's, and a copy
            that came close counts for something, but where the daily chance is high (a lead
            above the MQL threshold) it is noisier than the count. "combined" (default): count +
            beta x (compensator - count), unbiased for any fixed beta, with the beta of least
            variance fitted per gate over all the copies. Revenue-anchored gates are always
            counted (whether the account wins later is not a chance known on the day).
        stream: which independent set of roll-outs (0 by default): two streams give two
            estimates with disjoint randomness, e.g. to measure the estimate's own stability.
        within: shorter horizons (days): the frame also gets `p_<gate>_<h>d` and
            `se_<gate>_<h>d`, the true probability of crossing within h days, counted (the
            share of copies that crossed within h).

    Returns:
        One row per query: lead_id, cutoff, `p_<gate>` (NaN when the lead already crossed the
        gate before the cutoff, i.e. is not at risk) and `se_<gate>` (its Monte Carlo standard
        error: the copies' standard deviation over the square root of their number), and the
        latent state at the cutoff (beliefs, engagement energy, marketing's score); and per gate
        the copies' values, one row per query and one column per copy (NaN rows where the lead
        is not at risk): the copies are independent, so any subset of columns is an estimate of
        its own (disjoint subsets, independent ones).
    """
    if estimator not in ESTIMATORS:
        raise ReadinessError(f"Ground truth: unknown estimator {estimator!r}; known: {ESTIMATORS}.")
    if rollouts < 2:
        raise ReadinessError(
            f"Ground truth: {rollouts} roll-out(s); at least 2 are needed for a standard error "
            "(evaluate.ground_truth_rollouts, or --rollouts)."
        )
    unknown = [g for g in gates if g not in STAGE_OF_MILESTONE]
    if unknown:
        raise ReadinessError(
            f"Ground truth: unknown gate(s) {unknown}; known: {list(STAGE_OF_MILESTONE)}."
        )
    world = build_world(p)
    q = queries[["lead_id", "cutoff"]].copy()
    q["cutoff"] = pd.to_datetime(q["cutoff"])
    if (q["cutoff"] != q["cutoff"].dt.normalize()).any():
        raise ReadinessError("Ground truth: cutoffs must be at midnight (the start of a day).")
    q["day"] = (q["cutoff"] - world.start).dt.days.astype(np.int64)
    q["lead_ix"] = q["lead_id"].astype(np.int64) - 1
    bad = (
        (q["lead_ix"] < 0)
        | (q["lead_ix"] >= world.n_leads)
        | (q["day"] < 0)
        | (q["day"] > world.n_days)
    )
    if bad.any():
        raise ReadinessError(
            f"Ground truth: {int(bad.sum())} query row(s) name a lead or cutoff outside this simulation "
            f"(leads 1..{world.n_leads}, cutoffs {world.start.date()}..{(world.start + pd.Timedelta(days=world.n_days)).date()})."
        )
    q["asset"] = _interventions(queries, q, world)
    total = horizon_days + (follow_through_days if anchored else 0)
    chunks = plan_chunks(world, p.chunk_leads)
    starts = np.array([c.leads.start for c in chunks])
    q["chunk"] = np.searchsorted(starts, q["lead_ix"].to_numpy(), side="right") - 1
    pools = AssetPools(world)
    out = []
    parts: dict[str, list[tuple[pd.Index, np.ndarray, np.ndarray]]] = {g: [] for g in gates}
    shorter: dict[tuple[str, int], list[tuple[pd.Index, np.ndarray]]] = {
        (g, h): [] for g in gates for h in within
    }
    for chunk_index, cq in q.groupby("chunk", sort=True):
        chunk = chunks[chunk_index]
        state = initial_state(world, chunk.leads, chunk.accounts)
        dyn, _ = chunk_rngs(p.seed, chunk.index)
        nothing = Recorder()
        day = 0
        for cutoff_day, dq in cq.groupby("day", sort=True):
            while day < cutoff_day:
                step(state, day, pools, dyn, nothing)
                day += 1
            local = dq["lead_ix"].to_numpy() - chunk.leads.start
            res, hits, chances, early = roll_out(
                state,
                local,
                int(cutoff_day),
                total,
                horizon_days,
                gates,
                anchored,
                follow_through_days,
                rollouts,
                pools,
                (p.seed, chunk.index, stream),
                consume=dq["asset"].to_numpy(),
                within=within,
            )
            res.index = dq.index
            out.append(res)
            for g in gates:
                parts[g].append((dq.index, hits[g], chances[g]))
            for key, values in early.items():
                shorter[key].append((dq.index, values))
        log.info("ground truth: chunk %d, %d queries", chunk.index, len(cq))
    result = pd.concat(out).loc[q.index]
    frame = pd.concat(
        [queries[["lead_id", "cutoff"]].reset_index(drop=True), result.reset_index(drop=True)],
        axis=1,
    )
    # every query's copies, in the order of `queries`, then the estimator's value of each copy
    where = {ix: i for i, ix in enumerate(q.index)}
    copies = {}
    for g, done in parts.items():
        counted = np.empty((len(q), rollouts), dtype=np.float32)
        summed = np.empty((len(q), rollouts), dtype=np.float32)
        for index, h, c in done:
            rows = [where[i] for i in index]
            counted[rows], summed[rows] = h, c
        copies[g] = finish(counted, summed, estimator if g not in anchored else "sampled")
        frame[f"p_{g}"] = estimate(copies[g])
        frame[f"se_{g}"] = copies[g].std(axis=1, ddof=1) / np.sqrt(rollouts)
    for (g, days), done_h in shorter.items():
        in_days = np.empty((len(q), rollouts), dtype=np.float32)
        for index, v in done_h:
            in_days[[where[i] for i in index]] = v
        frame[f"p_{g}_{days}d"] = in_days.mean(axis=1, dtype=np.float64)
        frame[f"se_{g}_{days}d"] = in_days.std(axis=1, ddof=1) / np.sqrt(rollouts)
    return frame, copies


def _interventions(queries: pd.DataFrame, q: pd.DataFrame, world: World) -> np.ndarray:
    """Per query, the asset (position in world.assets) its lead downloads at the cutoff, from an
    optional `asset_id` column (empty: none); -1 for none. Refused: an unknown asset, one not
    yet published by the cutoff, and a lead queried twice at the same cutoff with an asset (the
    interventions of one call share the copies: ask for each in its own call)."""
    if "asset_id" not in queries.columns:
        return np.full(len(q), -1, dtype=np.int64)
    ids = pd.to_numeric(queries["asset_id"], errors="coerce").to_numpy()
    asset = np.where(np.isnan(ids), 0, ids).astype(np.int64) - 1
    n = len(world.assets)
    unknown = (asset < -1) | (asset >= n) | (~np.isnan(ids) & (ids != np.round(ids)))
    if unknown.any():
        raise ReadinessError(
            f"Ground truth: asset_id {ids[unknown][:5].tolist()} not in this simulation's "
            f"assets (1..{n})."
        )
    published = world.assets["published_day"].to_numpy()
    early = (asset >= 0) & (published[np.maximum(asset, 0)] > q["day"].to_numpy())
    if early.any():
        i = int(np.flatnonzero(early)[0])
        raise ReadinessError(
            f"Ground truth: asset {int(ids[i])} is published after the cutoff "
            f"{q['cutoff'].iloc[i].date()} of lead {q['lead_id'].iloc[i]}: it cannot be consumed "
            "then."
        )
    twice = q.assign(asset=asset)[asset >= 0].duplicated(["lead_id", "cutoff"]).any()
    if twice:
        raise ReadinessError(
            "Ground truth: a lead is asked to consume two assets at the same cutoff in one call; "
            "the interventions of one call share the simulated copies, so ask for each in its "
            "own call."
        )
    return asset


def finish(hits: np.ndarray, chances: np.ndarray, estimator: str) -> np.ndarray:
    """Each copy's value under `estimator` (see true_probability_copies), from its hit (0/1) and
    its summed chances; rows are queries (NaN where not at risk), columns copies."""
    if estimator == "sampled":
        return hits
    if estimator == "compensator":
        return chances
    # control variate: the difference has expectation 0, so any fixed beta keeps the mean; the
    # beta of least variance is -cov(hit, difference) / var(difference), within rows, pooled
    diff = chances - hits
    d, h = _centred(diff), _centred(hits)
    spread = float(np.nansum(d * d))
    beta = -float(np.nansum(h * d)) / spread if spread > 0 else 0.0
    return (hits + beta * diff).astype(np.float32)


def roll_out(
    state: ChunkState,
    local: np.ndarray,
    day: int,
    total: int,
    horizon: int,
    gates: tuple[str, ...],
    anchored: tuple[str, ...],
    follow: int,
    rollouts: int,
    pools: AssetPools,
    streams: tuple[int, int, int],
    consume: np.ndarray | None = None,
    within: tuple[int, ...] = (),
) -> tuple[
    pd.DataFrame,
    dict[str, np.ndarray],
    dict[str, np.ndarray],
    dict[tuple[str, int], np.ndarray],
]:
    """Roll-outs of leads `local` (chunk indices) from the state at the start of `day`: their
    latent state, and per gate every copy's hit (crossed within the horizon, 0/1; for an
    anchored gate, crossed and won) and summed chances of crossing (one row per lead, one column
    per copy; NaN rows where the lead is not at risk). With `consume` (an asset position per
    lead, -1 for none), every copy of a lead first downloads its asset on `day`; the latent
    state returned is the one before. Per (gate, h) for each h of `within` (days, below the
    horizon): every copy's hit within h days (time to threshold)."""
    align = state.alignment()
    frame = pd.DataFrame(
        {
            "urgency": state.u[local],
            "category": state.c[local],
            "capability": state.p[local],
            "alignment": align[local],
            "stage": state.stage[local],
            "energy": state.energy[local],
            "marketing_score": state.score[local],
        }
    )
    hits = {g: np.zeros((len(local), rollouts), dtype=np.float32) for g in gates}
    chances = {g: np.zeros((len(local), rollouts), dtype=np.float32) for g in gates}
    early = {
        (g, h): np.zeros((len(local), rollouts), dtype=np.float32) for g in gates for h in within
    }
    accounts = np.unique(state.acct[local])
    leads_per_acct = np.bincount(state.acct, minlength=state.n_accounts)[accounts]
    # batches of whole accounts so that copies x leads stays bounded
    batch_of = (np.cumsum(leads_per_acct) * rollouts) // _BATCH_LEAD_COPIES
    for b in np.unique(batch_of):
        batch_accounts = accounts[batch_of == b]
        sub = state.select_accounts(batch_accounts)
        n_sub = len(sub.acct)
        # where each queried lead sits inside the sub-state
        in_batch = np.isin(state.acct[local], batch_accounts)
        sub_leads = np.flatnonzero(np.isin(state.acct, batch_accounts))
        pos = np.searchsorted(sub_leads, local[in_batch])
        tiled = sub.tile(rollouts)
        asked = consume[in_batch] if consume is not None else np.zeros(0, dtype=np.int64)
        wants = asked >= 0
        if wants.any():  # copy r's lead j sits at r x n_sub + j
            at = (np.arange(rollouts)[:, None] * n_sub + pos[wants][None, :]).ravel()
            consume_assets(tiled, at, np.tile(asked[wants], rollouts), pools)
        rec = _Crossings(len(tiled.acct), until=day + horizon)
        seed, chunk, stream = streams
        rng = np.random.default_rng([seed, 3, chunk, day, int(b)] + ([stream] if stream else []))
        for d in range(day, day + total):
            step(tiled, d, pools, rng, rec)
        first = rec.first.reshape(rollouts, n_sub, 7)
        expected = rec.expected.reshape(rollouts, n_sub, 7)
        # the day each copy's account first wins a deal (for revenue-anchored gates)
        won_any = first[:, :, WON]
        acct_won = np.full((rollouts, sub.n_accounts), np.iinfo(np.int64).max)
        for r in range(rollouts):
            w = won_any[r] >= 0
            np.minimum.at(acct_won[r], sub.acct[w], won_any[r][w])
        for g in gates:
            code = STAGE_OF_MILESTONE[g]
            cross = first[:, pos, code]
            ok = (cross >= day) & (cross < day + horizon)
            if g in anchored:
                won_day = acct_won[:, sub.acct[pos]]
                ok &= won_day <= cross + follow
            hits[g][in_batch] = ok.T
            for h in within:
                early[g, h][in_batch] = (ok & (cross < day + h)).T
            chances[g][in_batch] = ok.T if g in anchored else expected[:, pos, code].T
    for g in gates:
        crossed = _already_crossed(state.stage[local], STAGE_OF_MILESTONE[g])
        hits[g][crossed] = chances[g][crossed] = np.nan
        for h in within:
            early[g, h][crossed] = np.nan
    return frame, hits, chances, early


def _centred(x: np.ndarray) -> np.ndarray:
    """Each row minus its mean (rows of NaN stay NaN)."""
    known = ~np.isnan(x)
    mean = np.where(known, x, 0).sum(axis=1, keepdims=True) / np.maximum(
        known.sum(axis=1, keepdims=True), 1
    )
    return x - mean


def estimate(copies: np.ndarray) -> np.ndarray:
    """Per row, the true probability estimated from its copies' values (columns). A copy's
    summed chances can pass 1 (a sure step not taken yet), so the mean of a probability close to
    1 can too, by chance; it is held to 1 (unbiased below that)."""
    return np.minimum(copies.mean(axis=1, dtype=np.float64), 1.0)


def _already_crossed(stage: np.ndarray, code: int) -> np.ndarray:
    """Whether a lead at `stage` has already crossed the gate of stage `code`."""
    if code == LOST:
        return stage == LOST
    if code == WON:
        return stage == WON
    # reaching any later stage (including the closed ones) means the gate was crossed
    return stage >= code
