"""The buying dynamics: one vectorised day at a time over a chunk of accounts.

The model is Markov in `ChunkState`: tomorrow depends only on today's state and fresh randomness.
That is what makes the ground truth computable: replay a chunk to a cutoff, copy its state many
times and roll each copy forward (see `truth.py`).

What drives what (the story the data tells):
- Each lead has latent beliefs urgency (u), category (c) and capability (p) in [0, 1]; the account
  has a stakeholder stock per persona from which its alignment follows. Beliefs rise when matching
  content is consumed (capability more for case studies of the lead's own industry; alignment when
  *distinct* stakeholders consume stakeholder assets), decay slowly, and decide what is consumed
  next (buyers look for the belief they are missing, in ladder order).
- Engagement energy decays with the lead's attention span and is renewed by belief gains,
  progress and external triggers (funding, leadership change), which also raise urgency.
- Milestones are daily hazards that depend on the beliefs, fit and intent; a conversation held
  before the beliefs are in place lowers the chance of an opportunity and of a win.
- Two random streams: `dyn` drives the state (so replays are exact), `rec` only decorates records
  (times of day, form answers, amounts) and is not used in roll-outs.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from readiness.simulator.world import (
    DOMAIN_COMPETITOR,
    DOMAIN_FREE,
    INBOUND_CHANNELS,
    P_CHAMPION,
    S_ALIGNMENT,
    S_CAPABILITY,
    S_CATEGORY,
    S_GENERAL,
    S_URGENCY,
    SEGMENT_INDEX_OF_BAND,
    World,
)

# stage codes of a lead (ladder position); WON and LOST are terminal
NONE, MQL, SAL, QC, OPP, WON, LOST = range(7)
STAGE_MILESTONES = {
    MQL: "mql",
    SAL: "sales_accepted",
    QC: "qualified_conversation",
    OPP: "opportunity",
    WON: "closed_won",
    LOST: "closed_lost",
}
# event type codes: the order of readiness.domain.EVENT_TYPES
EMAIL_OPEN, EMAIL_CLICK, PAGE_VIEW, DOWNLOAD, WEBINAR, FORM, PRICING, DEMO = range(8)
TOUCH_CALL, TOUCH_EMAIL, TOUCH_MEETING = range(3)

BELIEF_DECAY = np.exp(-1 / 200)  # beliefs fade with a ~200-day time constant
BELIEF_FLOOR = 0.02
STOCK_DECAY = np.exp(-1 / 150)
# stakeholder weight of each persona in the account's alignment
ALIGN_WEIGHT = np.array([0.35, 0.7, 0.7, 0.6, 0.2])
# alignment an account of each segment needs (smb, mid_market, enterprise)
ALIGN_NEED = np.array([0.5, 0.75, 0.9])
SESSION_RATE = 0.35
EXTRA_EVENTS_PER_SESSION = 1.4  # extra events per session per unit of energy (capped at 1.5)
EMAIL_OPEN_RATE = (
    0.16  # nurture emails opened per day (about 4 a week, 25 % opened), whatever the state
)
# marketing's lead score: points per event type (in EVENT_TYPES order), decaying; an MQL is
# the score crossing MQL_THRESHOLD, flagged on a given day with probability MQL_SYNC
SCORE_POINTS = np.array([1.0, 3.0, 2.0, 10.0, 15.0, 10.0, 10.0, 30.0])
SCORE_DECAY = np.exp(-1 / 30)
UNSUBSCRIBE_RATE = 1 / 365  # per day: nurture lists lose about a fifth of their leads a quarter
MQL_THRESHOLD = 55.0
MQL_SYNC = 0.6
QC_TO_OPP_RATE = 0.03  # per day, for a qualified conversation with every belief in place
BUDGET_YES = np.array([0.3, 0.85, 0.7, 0.1, 0.05])  # chance of "yes, I hold the budget", by persona
# an SDR reviews a new MQL quickly; a rejected (recycled) MQL is looked at again only rarely
REVIEW_RATE, RECYCLED_REVIEW_RATE = 0.12, 0.002
# belief gain per event type (page views and clicks are light, webinars heavy)
GAIN = np.array([0.0, 0.04, 0.05, 0.12, 0.18, 0.06, 0.0, 0.0])
CASE_STUDY_MATCH, CASE_STUDY_OTHER = 1.8, 0.6
STAKEHOLDER_AFFINITY = np.array([1.0, 1.5, 1.5, 1.5, 0.4])
CLOSE_RATE = 1 / np.array([50.0, 70.0, 100.0])  # opportunity closes, per day, by segment
WIN_BASE = np.array([0.32, 0.28, 0.22])
TOUCH_RATE = np.array([0, 0, 0.12, 0.10, 0.15, 0, 0])
MEETING_RATE = np.array([0, 0, 0.03, 0.06, 0.10, 0, 0])
N_POOL_KEYS = 19  # see AssetPools


def _sig(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _unlock(x: np.ndarray) -> np.ndarray:
    """How open a buyer is to the next belief's content once the previous one is at x."""
    return 0.08 + 0.92 * _sig(10 * (x - 0.35))


@dataclass
class ChunkState:
    """Everything that decides the future of a chunk of accounts (static and dynamic)."""

    # per lead, static
    lead_id: np.ndarray
    acct: np.ndarray  # local account index
    persona: np.ndarray
    domain: np.ndarray
    inbound: np.ndarray
    industry: np.ndarray
    segment: np.ndarray
    fit: np.ndarray
    created: np.ndarray
    created_sec: np.ndarray
    tau: np.ndarray
    # per lead, dynamic
    u: np.ndarray
    c: np.ndarray
    p: np.ndarray
    energy: np.ndarray
    stage: np.ndarray
    qc_ready: np.ndarray
    recycled: np.ndarray  # an SDR reviewed the MQL and sent it back to nurture
    score: np.ndarray  # marketing's lead score (visible to marketing ops)
    subscribed: np.ndarray  # still on the nurture email list
    timeline: (
        np.ndarray
    )  # most urgent timeline stated in a form: 0 none, 1 exploring, 2 this year, 3 this quarter
    budget: np.ndarray  # budget authority stated in a form: 0 never asked, 1 no, 2 yes
    opp: np.ndarray  # local opportunity index while in OPP, else -1
    # per account
    trigger_rate: np.ndarray
    stock: np.ndarray  # (accounts, personas)
    open_opp: np.ndarray
    won: np.ndarray

    @property
    def n_accounts(self) -> int:
        return len(self.trigger_rate)

    def copy(self) -> ChunkState:
        return ChunkState(**{f.name: getattr(self, f.name).copy() for f in fields(self)})

    def alignment(self) -> np.ndarray:
        """Per lead: the account's alignment relative to what its segment needs, in [0, 1]."""
        acct_alignment = 1 - np.exp(-(np.minimum(self.stock, 1.0) @ ALIGN_WEIGHT))
        return np.minimum(1.0, acct_alignment[self.acct] / ALIGN_NEED[self.segment])

    def select_accounts(self, accounts: np.ndarray) -> ChunkState:
        """The sub-state of some accounts (re-indexed), e.g. those a ground-truth query needs."""
        accounts = np.unique(accounts)
        keep = np.isin(self.acct, accounts)
        remap = np.full(self.n_accounts, -1)
        remap[accounts] = np.arange(len(accounts))
        lead_part = {
            f.name: getattr(self, f.name)[keep] for f in fields(self) if f.name in _LEAD_FIELDS
        }
        lead_part["acct"] = remap[self.acct[keep]]
        acct_part = {
            f.name: getattr(self, f.name)[accounts] for f in fields(self) if f.name in _ACCT_FIELDS
        }
        return ChunkState(**lead_part, **acct_part)

    def tile(self, copies: int) -> ChunkState:
        """`copies` independent copies of the whole state, stacked (copy r's accounts offset)."""
        n_acct = self.n_accounts
        lead_part = {
            f.name: np.tile(getattr(self, f.name), copies)
            for f in fields(self)
            if f.name in _LEAD_FIELDS
        }
        lead_part["acct"] = (self.acct[None, :] + n_acct * np.arange(copies)[:, None]).ravel()
        acct_part = {
            f.name: np.tile(
                getattr(self, f.name), (copies,) + (1,) * (getattr(self, f.name).ndim - 1)
            )
            for f in fields(self)
            if f.name in _ACCT_FIELDS
        }
        return ChunkState(**lead_part, **acct_part)


_ACCT_FIELDS = {"trigger_rate", "stock", "open_opp", "won"}
_LEAD_FIELDS = {f.name for f in fields(ChunkState)} - _ACCT_FIELDS


def initial_state(world: World, lead_slice: slice, acct_slice: slice) -> ChunkState:
    """The state of a chunk before its first day: beliefs at their starting levels, no stage."""
    acct = world.lead_account[lead_slice] - acct_slice.start
    band = world.acc_band[acct_slice][acct]
    n = len(acct)
    n_acct = acct_slice.stop - acct_slice.start
    return ChunkState(
        lead_id=np.arange(lead_slice.start, lead_slice.stop, dtype=np.int64) + 1,
        acct=acct.astype(np.int64),
        persona=world.lead_persona[lead_slice].astype(np.int64),
        domain=world.lead_domain[lead_slice].astype(np.int64),
        inbound=INBOUND_CHANNELS[world.lead_channel[lead_slice]],
        industry=world.acc_industry[acct_slice][acct].astype(np.int64),
        segment=SEGMENT_INDEX_OF_BAND[band],
        fit=world.acc_fit[acct_slice][acct],
        created=world.lead_created[lead_slice].astype(np.int64),
        created_sec=world.lead_created_sec[lead_slice].astype(np.int64),
        tau=world.lead_tau[lead_slice],
        u=world.lead_u0[lead_slice].copy(),
        c=world.lead_c0[lead_slice].copy(),
        p=world.lead_p0[lead_slice].copy(),
        energy=world.lead_energy0[lead_slice].copy(),
        stage=np.zeros(n, dtype=np.int64),
        qc_ready=np.zeros(n),
        recycled=np.zeros(n, dtype=bool),
        score=np.zeros(n),
        subscribed=np.ones(n, dtype=bool),
        timeline=np.zeros(n, dtype=np.int64),
        budget=np.zeros(n, dtype=np.int64),
        opp=np.full(n, -1, dtype=np.int64),
        trigger_rate=world.acc_trigger_rate[acct_slice].copy(),
        stock=np.zeros((n_acct, 5)),
        open_opp=np.zeros(n_acct, dtype=bool),
        won=np.zeros(n_acct, dtype=bool),
    )


class AssetPools:
    """Assets grouped by what a buyer looks for, restricted to those published by a given day.

    Keys: 0/1 urgency (other/webinar), 2/3 category, 4/5 general, 6/7 generic proof,
    8..15 case studies of industry 0..7, 16..18 stakeholder assets for executive/finance/technical.
    """

    def __init__(self, world: World):
        from readiness.domain import INDUSTRIES

        a = world.assets
        stage = a["belief_stage"].map(
            {"urgency": 0, "category": 1, "capability": 2, "alignment": 3, "general": 4}
        )
        webinar = (a["format"] == "webinar").astype(int)
        key = np.select(
            [stage == 0, stage == 1, stage == 4, (stage == 2) & a["industry"].isna(), stage == 2],
            [
                0 + webinar,
                2 + webinar,
                4 + webinar,
                6 + webinar,
                8 + a["industry"].map({k: i for i, k in enumerate(INDUSTRIES)}).fillna(0),
            ],
            default=16
            + a["audience"].map({"executive": 0, "finance": 1, "technical": 2}).fillna(0),
        ).astype(np.int64)
        order = np.lexsort((a["published_day"].to_numpy(), key))
        self.asset_index = order  # positions into world.assets
        self.key_sorted = key[order]
        self.published_sorted = a["published_day"].to_numpy()[order]
        self.start = np.searchsorted(self.key_sorted, np.arange(N_POOL_KEYS))
        self.end = np.searchsorted(self.key_sorted, np.arange(N_POOL_KEYS), side="right")
        self.stage = np.asarray(stage)
        self.industry = (
            a["industry"]
            .map({k: i for i, k in enumerate(INDUSTRIES)})
            .fillna(-1)
            .astype(int)
            .to_numpy()
        )
        self.audience_persona = (
            a["audience"]
            .map({"champion": 0, "executive": 1, "finance": 2, "technical": 3})
            .fillna(-1)
            .astype(int)
            .to_numpy()
        )
        self.quality = a["quality"].to_numpy()
        self._day: int | None = None
        self._n: np.ndarray = np.zeros(0, dtype=np.int64)

    def available(self, day: int) -> np.ndarray:
        """Number of assets of each key published on or before `day`."""
        if day != self._day:
            n = np.array(
                [
                    np.searchsorted(self.published_sorted[s:e], day, side="right")
                    for s, e in zip(self.start, self.end, strict=True)
                ]
            )
            self._day, self._n = day, n
        return self._n

    def pick(self, keys: np.ndarray, day: int, r: np.ndarray) -> np.ndarray:
        """An available asset (position in world.assets) for each key; -1 when none exists."""
        n = self.available(day)
        keys = np.where(n[keys] > 0, keys, 4)  # fall back to general content
        n_k = n[keys]
        pos = self.start[keys] + np.minimum((r * n_k).astype(np.int64), np.maximum(n_k - 1, 0))
        return np.where(n_k > 0, self.asset_index[pos], -1)


class Recorder:
    """What a step reports; the base class records nothing (roll-outs override what they need).

    Lead arguments are indices into the chunk state. `events` gets the day's engaged events first
    (`n_engaged` of them, spread over `n_sess[i]` sessions of alive lead i, `n_ev[i]` events), then
    `n_capture` form submits and the same number of downloads of new inbound leads, then email opens.
    `answers` is (timeline, budget) per event: the form answers given (-1 none; budget 0 no, 1 yes).
    """

    def events(self, leads, types, assets, answers, alive, n_sess, n_ev, n_capture, day) -> None:  # noqa: B027
        pass

    def touches(self, leads, types, day) -> None:  # noqa: B027
        pass

    def transitions(self, leads, new_stage, day) -> None:  # noqa: B027
        pass

    # a recorder that sets this gets `chances` every day (the ground truth's low-variance estimate)
    wants_chances = False

    def chances(self, leads, stage, up, win, day) -> None:  # noqa: B027
        """Before the day's moves are drawn: each alive lead's chance `up` of moving one gate up
        from its `stage` today, given everything drawn before it that day (for an MQL, before the
        SDR's review is drawn), and `win`, the chance that an opportunity closing today is won.
        """


def step(
    state: ChunkState, day: int, pools: AssetPools, dyn: np.random.Generator, rec: Recorder
) -> None:
    """Advance the chunk by one day (in place), reporting what happened to `rec`."""
    alive = (state.created <= day) & (state.stage < WON) & ~state.won[state.acct]
    ix = np.flatnonzero(alive)
    if len(ix) == 0:
        return
    n = len(ix)
    acct = state.acct[ix]
    st = state.stage[ix]

    # slow decay of beliefs, energy and stakeholder stock
    for arr in (state.u, state.c, state.p):
        arr[ix] = BELIEF_FLOOR + (arr[ix] - BELIEF_FLOOR) * BELIEF_DECAY
    state.energy[ix] *= np.exp(-1 / state.tau[ix])
    state.score[ix] *= SCORE_DECAY
    state.stock *= STOCK_DECAY

    # external triggers (funding, leadership change) raise urgency across the account
    triggered = dyn.random(state.n_accounts) < state.trigger_rate
    hit = triggered[acct]
    if hit.any():
        h = ix[hit]
        state.u[h] += 0.30 * (1 - state.u[h])
        state.energy[h] += 0.4

    u, c, p = state.u[ix], state.c[ix], state.p[ix]
    a = state.alignment()[ix]
    e = state.energy[ix]

    # engaged sessions; a new inbound lead arrives through a gated-content form
    n_sess = dyn.poisson(SESSION_RATE * e * (0.3 + u))
    # engaged visitors read more pages per visit: visit depth says something about interest
    n_ev = n_sess + dyn.poisson(EXTRA_EVENTS_PER_SESSION * np.minimum(e, 1.5) * n_sess)
    ev_lead = np.repeat(np.arange(n), n_ev)
    m = len(ev_lead)
    w = np.empty((m, 7))
    w[:, 0] = 0.16  # email_click
    w[:, 1] = 0.48  # page_view
    w[:, 2] = 0.20  # asset_download
    w[:, 3] = 0.03  # webinar_attended
    w[:, 4] = 0.05  # form_submit
    ue, ce, pe = u[ev_lead], c[ev_lead], p[ev_lead]
    w[:, 5] = 0.12 * _sig(8 * (np.minimum(ue, ce) - 0.5))  # pricing_page_view
    w[:, 6] = 0.06 * _sig(10 * (np.minimum(np.minimum(ue, ce), pe) - 0.45))  # demo_request
    cum = np.cumsum(w, axis=1)
    ev_type = (dyn.random((m, 1)) * cum[:, -1:] > cum).sum(axis=1) + EMAIL_CLICK

    capture = (state.created[ix] == day) & state.inbound[ix]
    cap_lead = np.flatnonzero(capture)
    ev_lead = np.concatenate([ev_lead, cap_lead, cap_lead])
    ev_type = np.concatenate(
        [ev_type, np.full(len(cap_lead), FORM), np.full(len(cap_lead), DOWNLOAD)]
    )

    asset = _choose_assets(state, ix, day, pools, ev_lead, ev_type, m, (u, c, p, a), dyn)

    u_new, c_new, p_new = _belief_gains(state, ix, acct, pools, ev_lead, ev_type, asset, (u, c, p))

    # sales touches after acceptance; meetings educate
    n_touch = dyn.poisson(TOUCH_RATE[st])
    n_meet = dyn.poisson(MEETING_RATE[st])
    c_new = 1 - (1 - c_new) * np.exp(-0.05 * n_meet)
    p_new = 1 - (1 - p_new) * np.exp(-0.06 * n_meet)
    e_new = e + 0.4 * ((u_new - u) + (c_new - c) + (p_new - p))
    state.u[ix], state.c[ix], state.p[ix] = u_new, c_new, p_new

    # noise: marketing emails opened whether or not the lead is moving
    # ... until the lead unsubscribes (lists churn: about a year on average)
    state.subscribed[ix] &= dyn.random(n) >= UNSUBSCRIBE_RATE
    n_open = dyn.poisson((EMAIL_OPEN_RATE + 0.12 * np.minimum(e, 1.5)) * state.subscribed[ix])

    t_answer, b_answer = _answer_forms(state, ix, ev_lead, ev_type, u_new, dyn)

    # marketing's score: points for what marketing can see, decaying over time
    state.score[ix] += (
        np.bincount(ev_lead, weights=SCORE_POINTS[ev_type], minlength=n)
        + SCORE_POINTS[EMAIL_OPEN] * n_open
    )

    # milestones: one step up the ladder at most per day
    demo = np.zeros(n, dtype=bool)
    demo[ev_lead[ev_type == DEMO]] = True
    meet = n_meet > 0
    fit = state.fit[ix]
    dom = np.where(
        state.domain[ix] == DOMAIN_COMPETITOR,
        0.0,
        np.where(state.domain[ix] == DOMAIN_FREE, 0.3, 1.0),
    )
    h, review, chance = _hazards(
        state,
        ix,
        acct,
        st,
        demo=demo,
        meet=meet,
        fit=fit,
        dom=dom,
        beliefs=(u_new, c_new, p_new, a),
        energy=e,
        dyn=dyn,
    )
    qc_ready = state.qc_ready[ix]
    seg = state.segment[ix]
    win_p = np.clip(
        WIN_BASE[seg] * (0.3 + 1.2 * a * p_new) * (0.5 + 0.8 * qc_ready) * (0.5 + fit) * dom,
        0,
        0.95,
    )
    if rec.wants_chances:
        up = np.minimum(chance, 1.0) * _first_mover_chance(acct, st, h)
        rec.chances(ix, st, up, win_p, day)
    r_move, r_win = dyn.random((2, n))
    move = np.minimum(h, 1.0) > r_move
    # one new opportunity per account at a time: the first mover of the day takes it
    to_opp = np.flatnonzero(move & (st == QC))
    if len(to_opp):
        _, first = np.unique(acct[to_opp], return_index=True)
        blocked = np.setdiff1d(to_opp, to_opp[first])
        move[blocked] = False
    state.recycled[ix[review & ~move]] = True
    new_stage = np.where(move, st + 1, st)
    closing = move & (st == OPP)
    new_stage = np.where(closing, np.where(r_win < win_p, WON, LOST), new_stage)
    entering_qc = move & (st == SAL)
    state.qc_ready[ix[entering_qc]] = (
        _sig(10 * (u_new - 0.5)) + _sig(10 * (c_new - 0.5)) + _sig(10 * (p_new - 0.5))
    )[entering_qc] / 3
    e_new = e_new + 0.3 * move
    state.energy[ix] = np.clip(e_new, 0.0, 3.0)  # rounding can dip a hair below 0

    changed = np.flatnonzero(new_stage != st)
    if len(changed):
        leads_changed = ix[changed]
        ns = new_stage[changed]
        state.stage[leads_changed] = ns
        opened = leads_changed[ns == OPP]
        state.open_opp[state.acct[opened]] = True
        closed = leads_changed[(ns == WON) | (ns == LOST)]
        state.open_opp[state.acct[closed]] = False
        state.won[state.acct[leads_changed[ns == WON]]] = True
        rec.transitions(leads_changed, ns, day)

    # report what happened (events carry the lead's index in the chunk)
    ev_leads_all = np.concatenate([ix[ev_lead], np.repeat(ix, n_open)])
    ev_types_all = np.concatenate([ev_type, np.full(n_open.sum(), EMAIL_OPEN)])
    assets_all = np.concatenate([asset, np.full(n_open.sum(), -1)])
    none = np.full(n_open.sum(), -1, dtype=np.int64)
    answers = (np.concatenate([t_answer, none]), np.concatenate([b_answer, none]))
    rec.events(
        ev_leads_all, ev_types_all, assets_all, answers, ix, n_sess, n_ev, len(cap_lead), day
    )
    # an SDR's review of an MQL is a call or an email on the record, accepted or not
    n_touch = n_touch + review
    if n_touch.any() or n_meet.any():
        t_leads = np.concatenate([np.repeat(ix, n_touch), np.repeat(ix, n_meet)])
        t_types = np.concatenate(
            [np.full(n_touch.sum(), TOUCH_CALL), np.full(n_meet.sum(), TOUCH_MEETING)]
        )
        rec.touches(t_leads, t_types, day)


def consume(state: ChunkState, leads: np.ndarray, assets: np.ndarray, pools: AssetPools) -> None:
    """Leads `leads` (chunk indices, each once) download assets `assets` (positions in
    world.assets) now, in place: their beliefs, their account's stakeholder stock, their energy
    and marketing's score move as for a download on a simulated day (an intervention for the
    ground truth's what-if roll-outs)."""
    if len(leads) == 0:
        return
    u, c, p = state.u[leads], state.c[leads], state.p[leads]
    events = np.arange(len(leads))
    u_new, c_new, p_new = _belief_gains(
        state,
        leads,
        state.acct[leads],
        pools,
        events,
        np.full(len(leads), DOWNLOAD),
        assets,
        (u, c, p),
    )
    gained = (u_new - u) + (c_new - c) + (p_new - p)
    state.energy[leads] = np.clip(state.energy[leads] + 0.4 * gained, 0.0, 3.0)
    state.u[leads], state.c[leads], state.p[leads] = u_new, c_new, p_new
    state.score[leads] += SCORE_POINTS[DOWNLOAD]


def _first_mover_chance(acct: np.ndarray, st: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Per lead: the chance that no account-mate before it in the day's order moves from a
    qualified conversation to an opportunity today (the first mover takes the account's one
    opportunity); 1 for leads not in a qualified conversation."""
    out = np.ones(len(h))
    q = np.flatnonzero((st == QC) & (h > 0))
    if len(q) < 2:
        return out
    q = q[np.argsort(acct[q], kind="stable")]  # by account, then by the day's order
    log_stay = np.log(np.maximum(1 - np.minimum(h[q], 1.0), 1e-300))
    total = np.cumsum(log_stay)
    before = total - log_stay  # every earlier lead's, whatever its account
    first = np.r_[True, acct[q][1:] != acct[q][:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(q)), 0))
    out[q] = np.exp(before - before[group_start])
    return out


def _choose_assets(
    state: ChunkState,
    ix: np.ndarray,
    day: int,
    pools: AssetPools,
    ev_lead: np.ndarray,
    ev_type: np.ndarray,
    m: int,
    beliefs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    dyn: np.random.Generator,
) -> np.ndarray:
    """The asset of each event (-1 for none): buyers look for the belief they miss, in ladder
    order; the first `m` events are sessions, the rest the content captured at an inbound form."""
    u, c, p, a = beliefs
    m_all = len(ev_lead)
    has_content = np.isin(ev_type, (DOWNLOAD, WEBINAR)) | (
        np.isin(ev_type, (PAGE_VIEW, EMAIL_CLICK, FORM)) & (dyn.random(m_all) < 0.45)
    )
    has_content[m:] = True
    cl = ev_lead[has_content]
    persona = state.persona[ix][cl]
    sw = np.stack(
        [
            1.0 - u[cl] + 0.05,
            (1.0 - c[cl]) * _unlock(u[cl]) + 0.05,
            (1.0 - p[cl]) * _unlock(c[cl]) + 0.05,
            0.9 * (1.0 - a[cl]) * _unlock(p[cl]) * STAKEHOLDER_AFFINITY[persona] + 0.02,
            np.full(len(cl), 0.9),
        ],
        axis=1,
    )
    scum = np.cumsum(sw, axis=1)
    cstage = (dyn.random((len(cl), 1)) * scum[:, -1:] > scum).sum(axis=1)
    is_web = ev_type[has_content] == WEBINAR
    industry = state.industry[ix][cl]
    r_kind, r_ind, r_aud, r_pick = dyn.random((4, len(cl)))
    other_ind = (industry + 1 + (r_ind * 7).astype(np.int64)) % 8
    cap_key = np.where(
        r_kind < 0.55, 8 + industry, np.where(r_kind < 0.75, 8 + other_ind, 6 + is_web)
    )
    own_aud = np.clip(persona - 1, 0, 2)
    stakeholder = (persona >= 1) & (persona <= 3)
    aud = np.where(stakeholder & (r_aud < 0.75), own_aud, (r_aud * 3).astype(np.int64) % 3)
    key = np.select(
        [cstage == S_URGENCY, cstage == S_CATEGORY, cstage == S_CAPABILITY, cstage == S_ALIGNMENT],
        [0 + is_web, 2 + is_web, cap_key, np.where(is_web, 5, 16 + aud)],
        default=4 + is_web,
    )
    asset = np.full(m_all, -1, dtype=np.int64)
    asset[has_content] = pools.pick(key, day, r_pick)
    return asset


def _belief_gains(
    state: ChunkState,
    ix: np.ndarray,
    acct: np.ndarray,
    pools: AssetPools,
    ev_lead: np.ndarray,
    ev_type: np.ndarray,
    asset: np.ndarray,
    beliefs: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Urgency, category and capability after today's content; the account's stakeholder stock
    grows in place with who consumed alignment content (and what a champion forwards)."""
    u, c, p = beliefs
    n = len(ix)
    got = asset >= 0
    gl = ev_lead[got]
    ga = asset[got]
    gstage = pools.stage[ga]
    g = GAIN[ev_type[got]] * pools.quality[ga]
    cap_mult = np.where(
        pools.industry[ga] < 0,
        1.0,
        np.where(pools.industry[ga] == state.industry[ix][gl], CASE_STUDY_MATCH, CASE_STUDY_OTHER),
    )
    g = np.where(gstage == S_CAPABILITY, g * cap_mult, g)
    gains = (
        np.bincount(gl * 5 + gstage, weights=g, minlength=n * 5).astype(np.float64).reshape(n, 5)
    )
    gains[:, S_URGENCY] += 0.25 * gains[:, S_GENERAL]
    gains[:, S_CATEGORY] += 0.25 * gains[:, S_GENERAL]
    u_new = 1 - (1 - u) * np.exp(-gains[:, S_URGENCY])
    c_new = 1 - (1 - c) * np.exp(-gains[:, S_CATEGORY])
    p_new = 1 - (1 - p) * np.exp(-gains[:, S_CAPABILITY])
    # stakeholder stock: who consumed alignment content, and what a champion forwards
    al = gstage == S_ALIGNMENT
    if al.any():
        reader = state.persona[ix][gl[al]]
        audience = pools.audience_persona[ga[al]]
        matched = np.where(audience == reader, 1.5, 1.0)
        flat = state.stock.reshape(-1)
        np.add.at(flat, acct[gl[al]] * 5 + reader, 2.0 * g[al] * matched)
        fwd = (reader == P_CHAMPION) & (audience >= 1)
        np.add.at(flat, acct[gl[al]][fwd] * 5 + audience[fwd], 0.8 * g[al][fwd])
    return u_new, c_new, p_new


def _answer_forms(
    state: ChunkState,
    ix: np.ndarray,
    ev_lead: np.ndarray,
    ev_type: np.ndarray,
    u_new: np.ndarray,
    dyn: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Forms and demo requests ask for a timeline and budget authority; the answers reveal
    urgency. Returns each event's (timeline, budget) answer (-1 = not asked or not answered) and
    raises the lead's stated timeline and budget in place."""
    n, m_all = len(ix), len(ev_lead)
    asks = np.flatnonzero((ev_type == FORM) | (ev_type == DEMO))
    t_answer = np.full(m_all, -1, dtype=np.int64)
    b_answer = np.full(m_all, -1, dtype=np.int64)
    if len(asks):
        al_ = ev_lead[asks]
        r_t, r_b, r_y = dyn.random((3, len(asks)))
        felt = u_new[al_] + 0.12 * dyn.standard_normal(len(asks))
        t_answer[asks] = np.where(
            r_t < 0.7, np.where(felt > 0.65, 2, np.where(felt > 0.4, 1, 0)), -1
        )
        b_answer[asks] = np.where(
            r_b < 0.6, (r_y < BUDGET_YES[state.persona[ix][al_]]).astype(np.int64), -1
        )
        tl = np.zeros(n, dtype=np.int64)
        np.maximum.at(tl, al_, t_answer[asks] + 1)
        bd = np.zeros(n, dtype=np.int64)
        np.maximum.at(bd, al_, b_answer[asks] + 1)
        state.timeline[ix] = np.maximum(state.timeline[ix], tl)
        state.budget[ix] = np.maximum(state.budget[ix], bd)
    return t_answer, b_answer


def _hazards(
    state: ChunkState,
    ix: np.ndarray,
    acct: np.ndarray,
    st: np.ndarray,
    *,
    demo: np.ndarray,
    meet: np.ndarray,
    fit: np.ndarray,
    dom: np.ndarray,
    beliefs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    energy: np.ndarray,
    dyn: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Today's chance of each lead moving one gate up (from its stage `st`), which MQLs an SDR
    reviews today, and each lead's chance of moving up before that review is drawn."""
    u_new, c_new, p_new, a = beliefs
    e = energy
    n = len(ix)
    h = np.zeros(n)
    # an MQL is marketing's score crossing its threshold (or a demo request)
    above = state.score[ix] >= MQL_THRESHOLD
    h = np.where(st == NONE, 1 - (1 - 0.95 * demo) * (1 - MQL_SYNC * above), h)
    # SDR review of an MQL: accepted on what the SDR can see (fit, stated timeline and budget,
    # role) and on the urgency they hear in the call; otherwise recycled to nurture
    recycled = state.recycled[ix]
    review_p = np.where(recycled, RECYCLED_REVIEW_RATE, REVIEW_RATE) * (1 + 2 * demo)
    review = (st == MQL) & (dyn.random(n) < review_p)
    timeline, budget = state.timeline[ix], state.budget[ix]
    visible = (
        0.2 * (timeline >= 2)
        + 0.15 * (timeline == 3)
        + 0.15 * (budget == 2)
        + 0.1 * ((state.persona[ix] == 1) | (state.persona[ix] == 2))
        + 0.1 * demo
    )
    accept_p = (
        _sig(5 * (fit - 0.45)) * np.minimum(1.0, visible + 0.15 * _sig(8 * (u_new - 0.5))) * dom
    )
    h = np.where(st == MQL, review * accept_p, h)
    # the chance of acceptance before the review is drawn (the ground truth's compensator)
    accept_chance = np.minimum(review_p, 1.0) * accept_p
    h = np.where(
        st == SAL,
        0.065
        * _sig(8 * (u_new - 0.45))
        * _sig(8 * (c_new - 0.45))
        * (0.4 + 0.6 * np.minimum(1.0, e))
        * (1 + 2 * demo)
        * (1 + 1.5 * meet),
        h,
    )
    qc_ready = state.qc_ready[ix]
    h = np.where(
        st == QC,
        QC_TO_OPP_RATE
        * _sig(8 * (p_new - 0.45))
        * (0.2 + 0.8 * a)
        * (0.3 + 0.7 * qc_ready)
        * ~state.open_opp[acct]
        * (1 + meet)
        * dom,
        h,
    )
    seg = state.segment[ix]
    h = np.where(st == OPP, CLOSE_RATE[seg], h)
    return h, review, np.where(st == MQL, accept_chance, h)
