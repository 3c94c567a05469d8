"""The static world of the simulator: accounts, their buying committees and the content catalogue.

Everything here is drawn once from the seed and never changes during the simulation. The world is
built globally (cheap: a few arrays per lead) so that lead ids are sequential and any chunk can be
replayed on its own for the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from readiness.domain import (
    BELIEF_STAGES,
    EMPLOYEE_BANDS,
    INDUSTRIES,
    PERSONAS,
    REGIONS,
    SEGMENT_OF_BAND,
    SEGMENTS,
    SENIORITIES,
    SOURCE_CHANNELS,
)
from readiness.params import SimulateParams

# Indices into the vocabularies, named for readability of the dynamics.
P_CHAMPION, P_EXECUTIVE, P_FINANCE, P_TECHNICAL, P_END_USER = range(5)
S_URGENCY, S_CATEGORY, S_CAPABILITY, S_ALIGNMENT, S_GENERAL = range(5)
SEG_SMB, SEG_MID, SEG_ENT = range(3)
DOMAIN_BUSINESS, DOMAIN_FREE, DOMAIN_COMPETITOR = range(3)
SEGMENT_INDEX_OF_BAND = np.array([SEGMENTS.index(SEGMENT_OF_BAND[b]) for b in EMPLOYEE_BANDS])
INBOUND_CHANNELS = np.array(
    [
        c in ("organic_search", "paid_search", "paid_social", "partner", "referral")
        for c in SOURCE_CHANNELS
    ]
)

_INDUSTRY_FIT = np.array([1.0, 0.7, 0.4, 0.2, -0.1, 0.3, -0.8, 0.1])
_BAND_FIT = np.array([-1.0, 0.0, 0.6, 0.5, 0.1])
_REGION_FIT = np.array([0.3, 0.2, -0.1, -0.3])
_BAND_P = np.array([0.28, 0.27, 0.22, 0.15, 0.08])
_REGION_P = np.array([0.45, 0.30, 0.15, 0.10])
_INDUSTRY_P = np.array([0.20, 0.14, 0.12, 0.13, 0.10, 0.10, 0.08, 0.13])
# Later cohorts: more education and retail (less fit), fewer software buyers.
_INDUSTRY_DRIFT = np.array([-0.06, -0.02, 0.0, 0.0, 0.03, 0.0, 0.05, 0.0])
_EXTRA_COMMITTEE = np.array([0.5, 0.7, 1.8, 2.8, 3.2])  # mean extra leads per account, by band
_FIRST_PERSONA_P = np.array([0.55, 0.05, 0.05, 0.10, 0.25])
_OTHER_PERSONA_P = np.array([0.10, 0.25, 0.22, 0.25, 0.18])
_SENIORITY_P = np.array(
    [  # c_level, vp, director, manager, individual_contributor
        [0.00, 0.10, 0.40, 0.50, 0.00],  # champion
        [0.50, 0.50, 0.00, 0.00, 0.00],  # executive
        [0.00, 0.20, 0.50, 0.30, 0.00],  # finance
        [0.00, 0.00, 0.30, 0.40, 0.30],  # technical
        [0.00, 0.00, 0.00, 0.30, 0.70],  # end_user
    ]
)
_CHANNEL_P = np.array([0.24, 0.18, 0.12, 0.12, 0.10, 0.16, 0.08])
_CHANNEL_DRIFT = np.array([-0.12, 0.0, 0.20, -0.08, 0.0, 0.06, 0.0])
_CHANNEL_ENERGY = np.array([1.0, 0.9, 0.55, 1.0, 1.3, 0.5, 1.05])
# the injected change's channel mix (params simulate.change_on): mostly the low-energy channels
_CHANGED_CHANNEL_P = np.array([0.05, 0.05, 0.45, 0.05, 0.05, 0.30, 0.05])
_DOMAIN_P = np.array([0.87, 0.10, 0.03])


@dataclass(frozen=True)
class World:
    """Static attributes, one array per column; leads are sorted by account."""

    start: pd.Timestamp
    n_days: int
    # accounts
    acc_industry: np.ndarray
    acc_band: np.ndarray
    acc_region: np.ndarray
    acc_created: np.ndarray  # day index
    acc_created_sec: np.ndarray  # seconds into the creation day
    acc_fit: np.ndarray  # ideal-customer-profile fit in [0, 1]
    acc_need: np.ndarray  # how much the account needs a solution now, in [0, 1]
    acc_trigger_rate: np.ndarray  # external trigger events per day
    # leads
    lead_account: np.ndarray
    lead_created: np.ndarray
    lead_created_sec: np.ndarray
    lead_persona: np.ndarray
    lead_seniority: np.ndarray
    lead_channel: np.ndarray
    lead_domain: np.ndarray
    lead_energy0: np.ndarray  # initial engagement energy
    lead_tau: np.ndarray  # days for engagement energy to fall by e
    lead_u0: np.ndarray
    lead_c0: np.ndarray
    lead_p0: np.ndarray
    # content catalogue
    assets: pd.DataFrame

    @property
    def n_accounts(self) -> int:
        return len(self.acc_industry)

    @property
    def n_leads(self) -> int:
        return len(self.lead_account)

    def day_to_timestamp(self, day: np.ndarray, seconds: np.ndarray | None = None) -> np.ndarray:
        """Day index (and seconds into the day) -> datetime64[us]."""
        base = np.datetime64(self.start.date(), "us") + day.astype("timedelta64[D]")
        if seconds is None:
            return base
        return base + seconds.astype("int64").astype("timedelta64[s]")


def _choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a (n, k) probability matrix."""
    cum = np.cumsum(probs, axis=1)
    cum /= cum[:, -1:]
    return (rng.random((len(probs), 1)) > cum).sum(axis=1)


def build_world(p: SimulateParams) -> World:
    """Draw accounts, committees and the catalogue; exactly `p.n_leads` leads exist in the data."""
    rng = np.random.default_rng([p.seed, 0xA11])
    start = pd.Timestamp(p.start)
    n_days = (pd.Timestamp(p.end) - start).days + 1

    accounts_needed = int(p.n_leads / 1.8) + 64
    while True:
        acc = _draw_accounts(rng, accounts_needed, n_days, p.drift)
        change_day = None if p.change_on is None else (pd.Timestamp(p.change_on) - start).days
        leads = _draw_committees(
            rng, acc, n_days, p.drift, change_day=change_day, change_strength=p.change_strength
        )
        in_window = leads["created"] < n_days
        if in_window.sum() >= p.n_leads:
            break
        accounts_needed *= 2
    # keep whole accounts, taken in a random order, until exactly n_leads leads fall in the
    # window. (Taken in creation order, as before, the accounts drawn beyond the need were all
    # the latest ones: the window's last three quarters had under a quarter of the usual new
    # leads.)
    order = np.random.default_rng([p.seed, 0x5E1]).permutation(len(acc["created"]))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    lead_rank = rank[leads["account"]]
    lead_order = np.lexsort((leads["created"], lead_rank))
    kept = lead_order[in_window[lead_order]][: p.n_leads]
    kept_accounts = np.unique(leads["account"][kept])
    acc_order = kept_accounts[np.argsort(acc["created"][kept_accounts], kind="stable")]
    new_acc_id = np.full(len(acc["created"]), -1)
    new_acc_id[acc_order] = np.arange(len(acc_order))
    lead_acc = new_acc_id[leads["account"][kept]]
    lead_sort = np.lexsort((leads["created"][kept], lead_acc))
    kept = kept[lead_sort]

    def take_acc(a: np.ndarray) -> np.ndarray:
        return a[acc_order]

    def take_lead(a: np.ndarray) -> np.ndarray:
        return a[kept]

    return World(
        start=start,
        n_days=n_days,
        acc_industry=take_acc(acc["industry"]),
        acc_band=take_acc(acc["band"]),
        acc_region=take_acc(acc["region"]),
        acc_created=take_acc(acc["created"]),
        acc_created_sec=take_acc(acc["created_sec"]),
        acc_fit=take_acc(acc["fit"]),
        acc_need=take_acc(acc["need"]),
        acc_trigger_rate=take_acc(acc["trigger_rate"]),
        lead_account=new_acc_id[leads["account"][kept]],
        **{f"lead_{k}": take_lead(v) for k, v in leads.items() if k != "account"},
        assets=build_catalogue(np.random.default_rng([p.seed, 0xCA7]), start, n_days, p.drift),
    )


def _draw_accounts(rng: np.random.Generator, n: int, n_days: int, drift: float) -> dict:
    # creation rate grows over time (marketing scales); inverse CDF of density 1 + 0.3 t
    q = rng.random(n)
    a = 0.3
    frac = (np.sqrt(1 + 2 * a * q * (1 + a / 2)) - 1) / a
    created = np.minimum((frac * (n_days - 20)).astype(np.int32), n_days - 1)
    t = created / n_days
    industry_p = np.clip(
        _INDUSTRY_P[None, :] + drift * t[:, None] * _INDUSTRY_DRIFT[None, :], 0.01, 1
    )
    industry = _choice_rows(rng, industry_p)
    band_p = np.clip(
        _BAND_P[None, :] + drift * t[:, None] * np.array([0.06, 0.02, -0.03, -0.03, -0.02]), 0.01, 1
    )
    band = _choice_rows(rng, band_p)
    region = rng.choice(len(REGIONS), size=n, p=_REGION_P)
    # fit is mostly firmographic (what an ICP model sees), with a little that no one sees
    z = _INDUSTRY_FIT[industry] + _BAND_FIT[band] + _REGION_FIT[region] + rng.normal(0, 0.2, n)
    fit = 1 / (1 + np.exp(-z))
    need = np.clip(rng.beta(2, 3, n) + 0.35 * (fit - 0.5), 0, 1)
    trigger_rate = rng.gamma(2.0, 1 / (2.0 * 700), n)
    return {
        "created_sec": rng.integers(8 * 3600, 18 * 3600, n).astype(np.int32),
        "industry": industry.astype(np.int8),
        "band": band.astype(np.int8),
        "region": region.astype(np.int8),
        "created": created,
        "fit": fit,
        "need": need,
        "trigger_rate": trigger_rate,
    }


def _draw_committees(
    rng: np.random.Generator,
    acc: dict,
    n_days: int,
    drift: float,
    *,
    change_day: int | None = None,
    change_strength: float = 1.0,
) -> dict:
    """The leads of each account (its buying committee). Leads created on or after `change_day`
    (the injected change, params simulate.change_on) come through _CHANGED_CHANNEL_P, blended in
    by `change_strength`, and start with less energy; the random draws are the same either way,
    so everything before the change is the unchanged simulation."""
    n_acc = len(acc["created"])
    size = 1 + rng.poisson(_EXTRA_COMMITTEE[acc["band"]])
    account = np.repeat(np.arange(n_acc), size)
    first = np.r_[True, account[1:] != account[:-1]]
    n = len(account)
    # committee members join one after another after the first contact
    gaps = np.where(first, 0, rng.exponential(35.0, n))
    offset = np.cumsum(gaps)
    offset -= np.repeat(offset[first], size)
    created = acc["created"][account] + offset.astype(np.int32)
    created_sec = np.where(
        first, acc["created_sec"][account], rng.integers(7 * 3600, 20 * 3600, n)
    ).astype(np.int32)
    persona = np.where(
        first,
        rng.choice(5, size=n, p=_FIRST_PERSONA_P),
        rng.choice(5, size=n, p=_OTHER_PERSONA_P),
    )
    seniority = _choice_rows(rng, _SENIORITY_P[persona])
    t = np.clip(created / n_days, 0, 1)
    channel_p = np.clip(
        _CHANNEL_P[None, :] + drift * t[:, None] * _CHANNEL_DRIFT[None, :], 0.005, 1
    )
    changed = np.zeros(n, dtype=bool) if change_day is None else created >= change_day
    channel_p = np.where(
        changed[:, None],
        (1 - change_strength) * channel_p + change_strength * _CHANGED_CHANNEL_P[None, :],
        channel_p,
    )
    # committee members who join later come more often through outbound, events and referral
    channel_p = np.where(
        first[:, None], channel_p, channel_p * np.array([0.6, 0.6, 0.6, 1.4, 1.8, 1.6, 1.0])
    )
    channel = _choice_rows(rng, channel_p)
    domain = rng.choice(3, size=n, p=_DOMAIN_P)
    need = acc["need"][account]
    # heavy-tailed: most leads download one thing and drift away, a few engage for months
    energy0 = _CHANNEL_ENERGY[channel] * (0.3 + 1.0 * need) * rng.lognormal(-0.6, 0.8, n)
    energy0 = np.where(domain == DOMAIN_FREE, 0.8 * energy0, energy0)
    energy0 = np.where(changed, (1 - change_strength / 2) * energy0, energy0)
    tau = 30 + 80 * rng.beta(2, 2, n)
    u0 = np.clip(0.05 + 0.25 * need + 0.10 * rng.beta(2, 5, n), 0, 0.9)
    u0 = np.where(domain == DOMAIN_COMPETITOR, 0.05, u0)
    c0 = 0.04 + 0.20 * rng.beta(2, 4, n)
    p0 = 0.03 + 0.12 * rng.beta(2, 5, n)
    return {
        "account": account,
        "created": created.astype(np.int32),
        "created_sec": created_sec,
        "persona": persona.astype(np.int8),
        "seniority": seniority.astype(np.int8),
        "channel": channel.astype(np.int8),
        "domain": domain.astype(np.int8),
        "energy0": energy0,
        "tau": tau,
        "u0": u0,
        "c0": c0,
        "p0": p0,
    }


_TOPICS = {
    S_URGENCY: [
        ("The cost of waiting: {} benchmark", "benchmark"),
        ("What a year of delay costs a {} team", "calculator"),
        ("State of {} operations report", "report"),
        ("Five signs your {} process is breaking", "guide"),
        ("Live: the hidden cost of manual {} work", "webinar"),
    ],
    S_CATEGORY: [
        ("Spreadsheets vs platforms for {}", "comparison"),
        ("A buyer's guide to {} platforms", "guide"),
        ("Build or buy? {} decision checklist", "checklist"),
        ("Rethinking {}: the platform approach", "webinar"),
    ],
    S_CAPABILITY: [
        ("Product tour: {} in 10 minutes", "demo_video"),
        ("How the platform handles {} at scale", "whitepaper"),
        ("Live demo: {} end to end", "webinar"),
    ],
    S_GENERAL: [
        ("Blog: {} tips", "blog_post"),
        ("Newsletter: {} this month", "blog_post"),
        ("Community webinar: {} Q&A", "webinar"),
    ],
}
_ALIGNMENT_TOPICS = {
    "finance": [
        ("ROI one-pager: {} business case", "one_pager"),
        ("TCO calculator for {}", "calculator"),
    ],
    "technical": [
        ("Security and architecture whitepaper: {}", "whitepaper"),
        ("Integration guide: {}", "guide"),
    ],
    "executive": [("Executive brief: {} strategy", "brief"), ("Board-ready summary: {}", "brief")],
}
_SUBJECTS = [
    "revenue operations",
    "forecasting",
    "pipeline",
    "planning",
    "reporting",
    "billing",
    "compliance",
]


def build_catalogue(
    rng: np.random.Generator, start: pd.Timestamp, n_days: int, drift: float
) -> pd.DataFrame:
    """The content catalogue: assets tagged by belief stage, audience and (for proof) industry."""
    rows: list[dict] = []

    def add(
        title: str, stage: int, audience: str, fmt: str, industry: str | None, published: int
    ) -> None:
        rows.append(
            {
                "title": title,
                "belief_stage": BELIEF_STAGES[stage],
                "audience": audience,
                "format": fmt,
                "industry": industry,
                "published_day": int(published),
            }
        )

    def published_day(share_before: float, earliest: float = 0.0) -> int:
        # share_before of the catalogue exists before the data starts; the rest appears later
        if rng.random() < share_before:
            return -int(rng.integers(30, 720))
        return int(earliest * n_days + rng.random() * (1 - earliest) * n_days * 0.9)

    for stage, templates in _TOPICS.items():
        per_template = {S_URGENCY: 5, S_CATEGORY: 5, S_CAPABILITY: 3, S_GENERAL: 8}[stage]
        for template, fmt in templates:
            for _ in range(per_template):
                subject = _SUBJECTS[int(rng.integers(len(_SUBJECTS)))]
                audience = "any"
                if stage == S_URGENCY and rng.random() < 0.3:
                    audience = "executive"
                elif stage in (S_CATEGORY, S_CAPABILITY) and rng.random() < 0.3:
                    audience = "technical" if rng.random() < 0.5 else "champion"
                add(template.format(subject), stage, audience, fmt, None, published_day(0.7))
    for industry in INDUSTRIES:
        label = industry.replace("_", " ")
        for k in range(3):
            add(
                f"Case study: a {label} company cuts reporting time (part {k + 1})",
                S_CAPABILITY,
                "any" if k else "champion",
                "case_study",
                industry,
                published_day(0.6),
            )
    # stakeholder (alignment) content mostly arrives during the data: later cohorts see more of it
    share_before = max(0.0, 0.5 - 0.35 * drift)
    for audience, templates in _ALIGNMENT_TOPICS.items():
        for template, fmt in templates:
            for _ in range(4):
                subject = _SUBJECTS[int(rng.integers(len(_SUBJECTS)))]
                add(
                    template.format(subject),
                    S_ALIGNMENT,
                    audience,
                    fmt,
                    None,
                    published_day(share_before, 0.1),
                )
    assets = pd.DataFrame(rows)
    assets["quality"] = rng.uniform(0.75, 1.25, len(assets))
    assets["published_at"] = start + pd.to_timedelta(assets["published_day"], unit="D")
    return assets


def lead_tables(
    world: World, lead_ids: np.ndarray, account_ids: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The accounts and leads raw tables of the world (all of it; cheap)."""
    accounts = pd.DataFrame(
        {
            "account_id": account_ids,
            "industry": np.asarray(INDUSTRIES)[world.acc_industry],
            "employee_band": np.asarray(EMPLOYEE_BANDS)[world.acc_band],
            "region": np.asarray(REGIONS)[world.acc_region],
            "created_at": world.day_to_timestamp(world.acc_created, world.acc_created_sec),
        }
    )
    leads = pd.DataFrame(
        {
            "lead_id": lead_ids,
            "account_id": account_ids[world.lead_account],
            "created_at": world.day_to_timestamp(world.lead_created, world.lead_created_sec),
            "source_channel": np.asarray(SOURCE_CHANNELS)[world.lead_channel],
            "persona": np.asarray(PERSONAS)[world.lead_persona],
            "seniority": np.asarray(SENIORITIES)[world.lead_seniority],
            "email_domain_type": np.asarray(["business", "free", "competitor"])[world.lead_domain],
        }
    )
    return accounts, leads
