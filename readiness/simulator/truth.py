"""Ground truth: the true probability that a lead crosses each gate within a horizon after a cutoff.

For a (lead, cutoff), the chunk holding the lead is replayed from day 0 to the cutoff with the
same dynamics stream as the original run (so the latent state is exactly the one that produced
the raw data), the lead's whole account is copied `rollouts` times, and every copy is simulated
forward with fresh randomness. The true probability is the share of copies that cross the gate
within [cutoff, cutoff + horizon). Its Monte Carlo standard error is at most 0.5 / sqrt(rollouts).

Nothing here reads the raw tables: the truth comes from the simulator's own state.
"""

from __future__ import annotations

import logging

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
from readiness.simulator.run import chunk_rngs, plan_chunks
from readiness.simulator.world import build_world

log = logging.getLogger(__name__)

STAGE_OF_MILESTONE = {
    "mql": MQL,
    "sales_accepted": SAL,
    "qualified_conversation": QC,
    "opportunity": OPP,
    "closed_won": WON,
    "closed_lost": LOST,
}
# lead copies simulated at once in a roll-out batch (bounds memory at about 0.5 GB)
_BATCH_LEAD_COPIES = 1_500_000


class _Crossings(Recorder):
    """First day each lead copy reaches each stage."""

    def __init__(self, n: int):
        self.first = np.full((n, 7), -1, dtype=np.int64)

    def transitions(self, leads, new_stage, day) -> None:
        cur = self.first[leads, new_stage]
        self.first[leads, new_stage] = np.where(cur < 0, day, cur)


def true_probabilities(
    p: SimulateParams,
    queries: pd.DataFrame,
    gates: tuple[str, ...],
    *,
    horizon_days: int,
    rollouts: int = 256,
    anchored: tuple[str, ...] = (),
    follow_through_days: int = 0,
) -> pd.DataFrame:
    """True crossing probabilities for each (lead_id, cutoff) row of `queries`.

    Args:
        queries: columns lead_id and cutoff (midnight timestamps).
        gates: milestones to report, e.g. the ladder.
        anchored: gates that count only if the lead's account wins a deal within
            `follow_through_days` after the crossing (revenue-anchored labels).

    Returns:
        One row per query: lead_id, cutoff, `p_<gate>` (NaN when the lead already crossed the
        gate before the cutoff, i.e. is not at risk), and the latent beliefs at the cutoff.
    """
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
    total = horizon_days + (follow_through_days if anchored else 0)
    chunks = plan_chunks(world, p.chunk_leads)
    starts = np.array([c.leads.start for c in chunks])
    q["chunk"] = np.searchsorted(starts, q["lead_ix"].to_numpy(), side="right") - 1
    pools = AssetPools(world)
    out = []
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
            res = _roll_out(
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
                p.seed,
                chunk.index,
            )
            res.index = dq.index
            out.append(res)
        log.info("ground truth: chunk %d, %d queries", chunk.index, len(cq))
    result = pd.concat(out).loc[q.index]
    return pd.concat(
        [queries[["lead_id", "cutoff"]].reset_index(drop=True), result.reset_index(drop=True)],
        axis=1,
    )


def _roll_out(
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
    seed: int,
    chunk: int,
) -> pd.DataFrame:
    """Probabilities for leads `local` (chunk indices) from the state at the start of `day`."""
    align = state.alignment()
    frame = pd.DataFrame(
        {
            "urgency": state.u[local],
            "category": state.c[local],
            "capability": state.p[local],
            "alignment": align[local],
            "stage": state.stage[local],
        }
    )
    hits = {g: np.zeros(len(local)) for g in gates}
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
        rec = _Crossings(len(tiled.acct))
        rng = np.random.default_rng([seed, 3, chunk, day, int(b)])
        for d in range(day, day + total):
            step(tiled, d, pools, rng, rec)
        first = rec.first.reshape(rollouts, n_sub, 7)
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
            hits[g][in_batch] = ok.mean(axis=0)
    for g in gates:
        code = STAGE_OF_MILESTONE[g]
        crossed = _already_crossed(state.stage[local], code)
        frame[f"p_{g}"] = np.where(crossed, np.nan, hits[g])
    return frame


def _already_crossed(stage: np.ndarray, code: int) -> np.ndarray:
    """Whether a lead at `stage` has already crossed the gate of stage `code`."""
    if code == LOST:
        return stage == LOST
    if code == WON:
        return stage == WON
    # reaching any later stage (including the closed ones) means the gate was crossed
    return stage >= code
