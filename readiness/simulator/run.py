"""Run the simulator chunk by chunk and write the raw tables and the ground truth as Parquet.

Chunks are groups of whole accounts (a buying committee is simulated together); each chunk is
simulated in its own process and writes its own part files, so memory is bounded by the chunk.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from readiness.domain import EVENT_TYPES, REGIONS
from readiness.params import SimulateParams
from readiness.simulator import engine
from readiness.simulator.engine import (
    EMAIL_OPEN,
    LOST,
    OPP,
    STAGE_MILESTONES,
    TOUCH_MEETING,
    WON,
    AssetPools,
    ChunkState,
    Recorder,
    initial_state,
    step,
)
from readiness.simulator.properties import write_properties
from readiness.simulator.world import World, build_world, lead_tables

log = logging.getLogger(__name__)

CHUNKED_TABLES = ("events", "milestones", "opportunities", "sales_touches")
SINGLE_TABLES = ("accounts", "leads", "assets")
RAW_TABLES = (*SINGLE_TABLES, *CHUNKED_TABLES)
_TIMELINES = np.array(["exploring", "this_year", "this_quarter"])
_OWNERS_PER_REGION = np.array([6, 4, 3, 2])
_AMOUNT_MEDIAN = np.array([8_000, 20_000, 50_000, 120_000, 300_000])
ID_STRIDE = 1_000_000_000  # ids of chunk k start at k * ID_STRIDE + 1


@dataclass(frozen=True)
class Chunk:
    index: int
    leads: slice
    accounts: slice


def plan_chunks(world: World, chunk_leads: int) -> list[Chunk]:
    """Split the world into chunks of whole accounts of about `chunk_leads` leads."""
    acct_first_lead = np.searchsorted(world.lead_account, np.arange(world.n_accounts + 1))
    chunks: list[Chunk] = []
    a0 = 0
    while a0 < world.n_accounts:
        target = acct_first_lead[a0] + chunk_leads
        a1 = int(np.searchsorted(acct_first_lead, target, side="left"))
        a1 = min(max(a1, a0 + 1), world.n_accounts)
        chunks.append(
            Chunk(
                len(chunks),
                slice(int(acct_first_lead[a0]), int(acct_first_lead[a1])),
                slice(a0, a1),
            )
        )
        a0 = a1
    return chunks


class TableRecorder(Recorder):
    """Turns what the engine reports into rows of the raw tables (arrays, concatenated at the end)."""

    def __init__(
        self,
        world: World,
        chunk: Chunk,
        state: ChunkState,
        pools: AssetPools,
        rng: np.random.Generator,
    ):
        self.world = world
        self.chunk = chunk
        self.state = state  # mutated in place by the engine; read here for times and answers
        self.asset_stage = pools.stage
        self.rng = rng
        self.ev: dict[str, list[np.ndarray]] = {
            k: [] for k in ("lead", "day", "sec", "type", "asset", "timeline", "budget")
        }
        self.ms: dict[str, list[np.ndarray]] = {
            k: [] for k in ("lead", "day", "sec", "stage", "opp")
        }
        self.tc: dict[str, list[np.ndarray]] = {k: [] for k in ("lead", "day", "sec", "type")}
        self.opps: list[tuple] = []  # (local opp id, lead, account, day, sec, amount)
        self.closes: dict[int, tuple] = {}  # local opp id -> (day, sec, outcome)
        self.beliefs: list[pd.DataFrame] = []
        n = chunk.leads.stop - chunk.leads.start
        # per-lead facts for the sanity figures (cheap to keep, costly to recompute at 100M events)
        self.touched = np.zeros((n, 5), dtype=bool)
        self.stakeholder_download = np.zeros(n, dtype=bool)
        self.first_day = np.full((n, 7), -1, dtype=np.int64)

    def _seconds_on(self, day: int, leads: np.ndarray, sec: np.ndarray) -> np.ndarray:
        """Seconds into the day, squeezed after the lead's creation time on its creation day."""
        created = self.state.created[leads]
        csec = self.state.created_sec[leads]
        squeezed = csec + 1 + (sec * (86399 - csec) / 86400).astype(np.int64)
        return np.where(created == day, squeezed, sec)

    def events(self, leads, types, assets, answers, alive, n_sess, n_ev, n_capture, day) -> None:
        k = len(leads)
        if k == 0:
            return
        state, rng = self.state, self.rng
        m = int(n_ev.sum())
        sec = np.empty(k, dtype=np.int64)
        # engaged events cluster in sessions, mostly during business hours
        if m:
            s_total = int(n_sess.sum())
            starts = np.where(
                rng.random(s_total) < 0.75,
                np.clip(rng.normal(13 * 3600, 2.5 * 3600, s_total), 7 * 3600, 21 * 3600),
                rng.random(s_total) * 86000,
            )
            ev_alive = np.repeat(np.arange(len(n_ev)), n_ev)
            first_sess = np.cumsum(n_sess) - n_sess
            sess = first_sess[ev_alive] + (rng.random(m) * n_sess[ev_alive]).astype(np.int64)
            sec[:m] = starts[sess] + rng.exponential(240, m)
        # a new inbound lead's form submit and download come just after its creation
        cap = slice(m, m + n_capture)
        if n_capture:
            cap_sec = state.created_sec[leads[cap]] + rng.integers(5, 120, n_capture)
            sec[cap] = cap_sec
            sec[m + n_capture : m + 2 * n_capture] = cap_sec + rng.integers(2, 30, n_capture)
        sec[m + 2 * n_capture :] = rng.random(k - m - 2 * n_capture) * 86000
        sec = np.minimum(sec, 86399)
        not_capture = np.ones(k, dtype=bool)
        not_capture[m : m + 2 * n_capture] = False
        sec = np.where(not_capture, self._seconds_on(day, leads, sec), sec)
        timeline = answers[0].astype(np.int8)
        budget = answers[1].astype(np.int8)
        for key, val in (
            ("lead", leads),
            ("day", np.full(k, day, dtype=np.int32)),
            ("sec", sec),
            ("type", types.astype(np.int8)),
            ("asset", assets),
            ("timeline", timeline),
            ("budget", budget),
        ):
            self.ev[key].append(val)
        content = assets >= 0
        stages = self.asset_stage[assets[content]]
        self.touched[leads[content], stages] = True
        stakeholder = (stages == engine.S_ALIGNMENT) & (types[content] != EMAIL_OPEN)
        self.stakeholder_download[leads[content][stakeholder]] = True

    def touches(self, leads, types, day) -> None:
        k = len(leads)
        t = np.where(types == TOUCH_MEETING, 2, (self.rng.random(k) < 0.5).astype(np.int64))
        sec = self._seconds_on(day, leads, self.rng.integers(8 * 3600, 18 * 3600, k))
        self.tc["lead"].append(leads)
        self.tc["day"].append(np.full(k, day, dtype=np.int32))
        self.tc["sec"].append(sec)
        self.tc["type"].append(t.astype(np.int8))

    def transitions(self, leads, new_stage, day) -> None:
        state = self.state
        k = len(leads)
        sec = self._seconds_on(day, leads, self.rng.integers(9 * 3600, 18 * 3600, k))
        opp = np.full(k, -1, dtype=np.int64)
        for i in np.flatnonzero(new_stage == OPP):
            oid = len(self.opps)
            lead = leads[i]
            band = self.world.acc_band[self.chunk.accounts][state.acct[lead]]
            amount = round(float(_AMOUNT_MEDIAN[band] * self.rng.lognormal(0, 0.5)), -2)
            self.opps.append((oid, lead, state.acct[lead], day, sec[i], amount))
            state.opp[lead] = oid
            opp[i] = oid
        for i in np.flatnonzero((new_stage == WON) | (new_stage == LOST)):
            oid = state.opp[leads[i]]
            opp[i] = oid
            self.closes[int(oid)] = (day, sec[i], "won" if new_stage[i] == WON else "lost")
            state.opp[leads[i]] = -1
        self.ms["lead"].append(leads)
        self.ms["day"].append(np.full(k, day, dtype=np.int32))
        self.ms["sec"].append(sec)
        self.ms["stage"].append(new_stage.astype(np.int8))
        self.ms["opp"].append(opp)
        fd = self.first_day[leads, new_stage]
        self.first_day[leads, new_stage] = np.where(fd < 0, day, fd)

    def record_beliefs(self, state: ChunkState, day: int) -> None:
        """Latent state at the start of `day` of every lead that exists and is still open."""
        open_ = (state.created < day) & (state.stage < WON) & ~state.won[state.acct]
        ix = np.flatnonzero(open_)
        if len(ix) == 0:
            return
        self.beliefs.append(
            pd.DataFrame(
                {
                    "lead_id": state.lead_id[ix],
                    "as_of": self.world.day_to_timestamp(np.full(len(ix), day)),
                    "urgency": state.u[ix].astype(np.float32),
                    "category": state.c[ix].astype(np.float32),
                    "capability": state.p[ix].astype(np.float32),
                    "alignment": state.alignment()[ix].astype(np.float32),
                    "energy": state.energy[ix].astype(np.float32),
                    "stage": state.stage[ix].astype(np.int8),
                }
            )
        )

    def tables(self, state: ChunkState, account_ids: np.ndarray) -> dict[str, pd.DataFrame]:
        """The chunk's rows of the chunked raw tables (ids offset by the chunk index)."""
        w = self.world
        base = self.chunk.index * ID_STRIDE

        def cat(parts: dict[str, list[np.ndarray]], key: str, dtype) -> np.ndarray:
            return np.concatenate(parts[key]).astype(dtype) if parts[key] else np.empty(0, dtype)

        ev_lead = cat(self.ev, "lead", np.int64)
        ev_ts = w.day_to_timestamp(cat(self.ev, "day", np.int64), cat(self.ev, "sec", np.int64))
        order = np.lexsort((ev_ts, ev_lead))
        timeline = cat(self.ev, "timeline", np.int8)[order]
        budget = cat(self.ev, "budget", np.int8)[order]
        asset = cat(self.ev, "asset", np.int64)[order]
        events = pd.DataFrame(
            {
                "event_id": base + 1 + np.arange(len(order), dtype=np.int64),
                "lead_id": state.lead_id[ev_lead[order]],
                "occurred_at": ev_ts[order],
                "event_type": pd.Categorical.from_codes(
                    cat(self.ev, "type", np.int8)[order], EVENT_TYPES
                ),
                "asset_id": pd.array(np.where(asset >= 0, asset + 1, 0), dtype="Int64"),
                "properties": _properties(timeline, budget),
            }
        )
        events.loc[asset < 0, "asset_id"] = pd.NA
        events["event_type"] = events["event_type"].astype(str)

        ms_lead = cat(self.ms, "lead", np.int64)
        ms_stage = cat(self.ms, "stage", np.int8)
        ms_opp = cat(self.ms, "opp", np.int64)
        milestones = pd.DataFrame(
            {
                "lead_id": state.lead_id[ms_lead],
                "milestone": [STAGE_MILESTONES[s] for s in ms_stage],
                "occurred_at": w.day_to_timestamp(
                    cat(self.ms, "day", np.int64), cat(self.ms, "sec", np.int64)
                ),
                "opportunity_id": pd.array(
                    np.where(ms_opp >= 0, base + 1 + ms_opp, 0), dtype="Int64"
                ),
            }
        )
        milestones.loc[ms_opp < 0, "opportunity_id"] = pd.NA

        opp_rows = []
        for oid, lead, acct, day, sec, amount in self.opps:
            close = self.closes.get(oid)
            opp_rows.append(
                {
                    "opportunity_id": base + 1 + oid,
                    "account_id": account_ids[self.chunk.accounts.start + acct],
                    "primary_lead_id": state.lead_id[lead],
                    "created_at": w.day_to_timestamp(np.array([day]), np.array([sec]))[0],
                    "closed_at": w.day_to_timestamp(np.array([close[0]]), np.array([close[1]]))[0]
                    if close
                    else pd.NaT,
                    "outcome": close[2] if close else "open",
                    "amount": amount,
                }
            )
        opportunities = pd.DataFrame(
            opp_rows,
            columns=[
                "opportunity_id",
                "account_id",
                "primary_lead_id",
                "created_at",
                "closed_at",
                "outcome",
                "amount",
            ],
        ).astype(
            {
                "opportunity_id": "int64",
                "account_id": "int64",
                "primary_lead_id": "int64",
                "amount": "float64",
            }
        )
        opportunities["closed_at"] = pd.to_datetime(opportunities["closed_at"])
        opportunities["created_at"] = pd.to_datetime(opportunities["created_at"])

        tc_lead = cat(self.tc, "lead", np.int64)
        tc_ts = w.day_to_timestamp(cat(self.tc, "day", np.int64), cat(self.tc, "sec", np.int64))
        order = np.lexsort((tc_ts, tc_lead))
        acct_global = self.chunk.accounts.start + state.acct[tc_lead[order]]
        region = w.acc_region[acct_global]
        owner_k = acct_global % _OWNERS_PER_REGION[region]
        touches = pd.DataFrame(
            {
                "touch_id": base + 1 + np.arange(len(order), dtype=np.int64),
                "lead_id": state.lead_id[tc_lead[order]],
                "occurred_at": tc_ts[order],
                "touch_type": np.asarray(["call", "email", "meeting"])[
                    cat(self.tc, "type", np.int8)[order]
                ],
                "owner_id": [
                    f"rep_{REGIONS[r]}_{k + 1}" for r, k in zip(region, owner_k, strict=True)
                ],
            }
        )
        return {
            "events": events,
            "milestones": milestones,
            "opportunities": opportunities,
            "sales_touches": touches,
        }


def _properties(timeline: np.ndarray, budget: np.ndarray) -> pd.Series:
    """Form answers as JSON text (null when the event carries none)."""
    out = np.full(len(timeline), None, dtype=object)
    has = (timeline >= 0) | (budget >= 0)
    for t in (-1, 0, 1, 2):
        for b in (-1, 0, 1):
            sel = has & (timeline == t) & (budget == b)
            if not sel.any():
                continue
            answer = {}
            if t >= 0:
                answer["timeline"] = str(_TIMELINES[t])
            if b >= 0:
                answer["budget_authority"] = "yes" if b == 1 else "no"
            out[sel] = json.dumps(answer)
    return pd.Series(out, dtype="str").where(has, None)


def chunk_rngs(seed: int, chunk: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The dynamics stream (replayed exactly by the ground truth) and the records stream."""
    return np.random.default_rng([seed, 1, chunk]), np.random.default_rng([seed, 2, chunk])


def simulate_chunk(
    world: World, p: SimulateParams, chunk: Chunk, out: Path, truth_out: Path
) -> dict:
    """Simulate one chunk over the whole calendar and write its part files."""
    t0 = time.perf_counter()
    state = initial_state(world, chunk.leads, chunk.accounts)
    # engine works on chunk-local lead indices; lead ids are recovered from state.lead_id
    pools = AssetPools(world)
    dyn, rec_rng = chunk_rngs(p.seed, chunk.index)
    rec = TableRecorder(world, chunk, state, pools, rec_rng)
    for day in range(world.n_days):
        if day % p.belief_cadence_days == 0:
            rec.record_beliefs(state, day)
        step(state, day, pools, dyn, rec)
    rec.record_beliefs(state, world.n_days)
    tables = rec.tables(state, np.arange(world.n_accounts, dtype=np.int64) + 1)
    name = f"part-{chunk.index:05d}.parquet"
    for table, df in tables.items():
        df.to_parquet(out / table / name, index=False)
    beliefs = pd.concat(rec.beliefs, ignore_index=True) if rec.beliefs else pd.DataFrame()
    beliefs.to_parquet(truth_out / "beliefs" / name, index=False)
    return {
        "chunk": chunk.index,
        "seconds": time.perf_counter() - t0,
        "rows": {t: len(df) for t, df in tables.items()},
        "touched": rec.touched,
        "stakeholder_download": rec.stakeholder_download,
        "first_day": rec.first_day,
        "leads": chunk.leads,
    }


_WORLD: World | None = None  # set in the parent before forking workers


def _run_chunk(args: tuple) -> dict:
    p, chunk, out, truth_out = args
    if _WORLD is None:
        raise RuntimeError("the world is set in the parent before workers fork")
    return simulate_chunk(_WORLD, p, chunk, out, truth_out)


def simulate(p: SimulateParams, out: Path, truth_out: Path) -> dict:
    """Simulate the whole world into `out` (raw tables) and `truth_out` (ground truth)."""
    global _WORLD
    t0 = time.perf_counter()
    world = build_world(p)
    _WORLD = world
    for folder in (out, truth_out):
        folder.mkdir(parents=True, exist_ok=True)
    for table in CHUNKED_TABLES:
        _clear_dir(out / table)
    _clear_dir(truth_out / "beliefs")
    ids = np.arange(world.n_accounts, dtype=np.int64) + 1
    accounts, leads = lead_tables(world, np.arange(world.n_leads, dtype=np.int64) + 1, ids)
    accounts.to_parquet(out / "accounts.parquet", index=False)
    leads.to_parquet(out / "leads.parquet", index=False)
    assets = world.assets.copy()
    assets.insert(0, "asset_id", np.arange(len(assets), dtype=np.int64) + 1)
    assets[
        ["asset_id", "title", "belief_stage", "audience", "format", "industry", "published_at"]
    ].to_parquet(out / "assets.parquet", index=False)
    _write_latent_traits(world, truth_out)

    chunks = plan_chunks(world, p.chunk_leads)
    log.info(
        "simulate: %d leads in %d accounts, %d chunk(s), %d days",
        world.n_leads,
        world.n_accounts,
        len(chunks),
        world.n_days,
    )
    results = []
    tasks = [(p, c, out, truth_out) for c in chunks]
    if p.workers > 1 and len(chunks) > 1:
        with ProcessPoolExecutor(max_workers=p.workers, mp_context=get_context("fork")) as pool:
            futures = [pool.submit(_run_chunk, t) for t in tasks]
            for done, fut in enumerate(as_completed(futures), start=1):
                results.append(fut.result())
                log.info(
                    "simulate: chunk %d/%d done (%.1fs)", done, len(chunks), results[-1]["seconds"]
                )
    else:
        for done, t in enumerate(tasks, start=1):
            results.append(_run_chunk(t))
            log.info(
                "simulate: chunk %d/%d done (%.1fs)", done, len(chunks), results[-1]["seconds"]
            )
    results.sort(key=lambda r: r["chunk"])
    rows = {t: sum(r["rows"][t] for r in results) for t in CHUNKED_TABLES}
    rows.update({"accounts": world.n_accounts, "leads": world.n_leads, "assets": len(assets)})
    rows["attributes"] = write_properties(world, out, p.seed)
    from readiness.simulator.sanity import sanity_figures

    figures = sanity_figures(world, results)
    return {
        "rows": rows,
        "seconds": time.perf_counter() - t0,
        "chunks": len(chunks),
        "sanity": figures,
    }


def _write_latent_traits(world: World, truth_out: Path) -> None:
    """Static latent traits (never in the raw tables): fit, need, attention, trigger rate."""
    pd.DataFrame(
        {
            "lead_id": np.arange(world.n_leads, dtype=np.int64) + 1,
            "account_id": world.lead_account.astype(np.int64) + 1,
            "icp_fit": world.acc_fit[world.lead_account],
            "account_need": world.acc_need[world.lead_account],
            "initial_energy": world.lead_energy0,
            "attention_days": world.lead_tau,
            "trigger_rate_per_year": world.acc_trigger_rate[world.lead_account] * 365,
        }
    ).to_parquet(truth_out / "latent_traits.parquet", index=False)


def _clear_dir(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for f in folder.glob("*.parquet"):
        f.unlink()
