"""The feature catalogue: every feature's name, family, window, plain-language description and the
direction in which it is expected to move readiness.

The catalogue is the single source of the feature list: the engine computes exactly these
features, training uses them in this order, and explanations and reports show their descriptions,
never raw column names. Features are generated from a few declarations per family so that the
windows in params.yaml (`features.windows`) apply everywhere.

Values are always defined (never NaN): counts are 0 when nothing happened, "days since" features
are `NEVER_DAYS` (999) when the thing never happened, ratios are 0 when their denominator is 0.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from readiness.domain import BELIEFS

NEVER_DAYS = 999.0
FAMILIES = (
    "urgency",
    "category",
    "capability",
    "alignment",
    "intent",
    "engagement",
    "fit",
    "progression",
    "disqualifiers",
)
# what the content of each belief is, in a marketer's words
_BELIEF_CONTENT = {
    "urgency": "urgency content (cost-of-delay pieces, benchmarks)",
    "category": "category content (reframing guides, comparisons)",
    "capability": "proof content (case studies, demos)",
    "alignment": "stakeholder content (ROI one-pagers, technical docs, exec briefs)",
}


@dataclass(frozen=True)
class Feature:
    """One feature as the engine computes it and people read it.

    kind says how it is computed from a measure (see features/engine.py):
      sum (of `measure` over `window` days, or all time), days_since (last day `measure` > 0),
      days_since_first (first day `measure` > 0), recency (sum weighted by
      exp(-age / recency_days)), max (all time), flag (1 when the all-time sum is positive),
      static (an attribute of the lead or account), derived (a formula of other aggregates,
      named by `name`).
    """

    name: str
    family: str
    window: str  # "7d", "30d", ..., "all", "static" or "derived"
    description: str
    direction: int  # +1 raises readiness, -1 lowers it, 0 depends
    level: str  # "lead" or "account"
    kind: str
    measure: str | None = None
    window_days: int | None = None
    categorical: bool = False


def _when(days: int | None) -> str:
    return f"in the last {days} days" if days else "ever"


def _win(days: int | None) -> str:
    return f"{days}d" if days else "all"


def build_catalog(windows: tuple[int, ...]) -> tuple[Feature, ...]:
    """The catalogue for the given windows (in days); order is stable and meaningful."""
    ws: tuple[int | None, ...] = (*sorted(windows), None)
    longest = max(windows)
    f: list[Feature] = []
    for belief in BELIEFS:
        content = _BELIEF_CONTENT[belief]
        for w in ws:
            f.append(
                Feature(
                    f"{belief}_content_{_win(w)}",
                    belief,
                    _win(w),
                    f"Pieces of {content} the lead consumed {_when(w)}",
                    +1,
                    "lead",
                    "sum",
                    f"content_{belief}",
                    w,
                )
            )
        f += [
            Feature(
                f"{belief}_deep_all",
                belief,
                "all",
                f"Downloads and webinars of {content} by the lead, ever",
                +1,
                "lead",
                "sum",
                f"deep_{belief}",
            ),
            Feature(
                f"{belief}_distinct_assets",
                belief,
                "all",
                f"Different {belief} assets the lead has consumed",
                +1,
                "lead",
                "sum",
                f"new_asset_{belief}",
            ),
            Feature(
                f"{belief}_recency_weighted",
                belief,
                "derived",
                f"Recent {belief} content consumption, recent pieces weighing most",
                +1,
                "lead",
                "recency",
                f"content_{belief}",
            ),
            Feature(
                f"{belief}_days_since_last",
                belief,
                "derived",
                f"Days since the lead last consumed {belief} content (999 = never)",
                -1,
                "lead",
                "days_since",
                f"content_{belief}",
            ),
        ]
    f += [
        Feature(
            f"capability_industry_proof_{longest}d",
            "capability",
            f"{longest}d",
            f"Case studies from the lead's own industry consumed in the last {longest} days",
            +1,
            "lead",
            "sum",
            "proof_match",
            longest,
        ),
        Feature(
            "capability_industry_proof_all",
            "capability",
            "all",
            "Case studies from the lead's own industry consumed, ever",
            +1,
            "lead",
            "sum",
            "proof_match",
        ),
        Feature(
            "capability_industry_proof_distinct",
            "capability",
            "all",
            "Different case studies from the lead's own industry consumed",
            +1,
            "lead",
            "sum",
            "new_proof_match",
        ),
    ]
    for w in ws:
        f.append(
            Feature(
                f"account_stakeholder_content_{_win(w)}",
                "alignment",
                _win(w),
                f"Stakeholder assets (finance, technical, executive) consumed by anyone at the account {_when(w)}",
                +1,
                "account",
                "sum",
                "acc_stakeholder",
                w,
            )
        )
    f += [
        Feature(
            "account_stakeholder_downloads_all",
            "alignment",
            "all",
            "Stakeholder assets downloaded by anyone at the account, ever",
            +1,
            "account",
            "sum",
            "acc_stakeholder_download",
        ),
        Feature(
            "account_stakeholder_personas",
            "alignment",
            "all",
            "Distinct roles (champion, executive, finance, technical, end user) at the account that consumed stakeholder assets",
            +1,
            "account",
            "sum",
            "acc_new_stakeholder_persona",
        ),
        Feature(
            "account_personas_engaged",
            "alignment",
            "all",
            "Distinct roles of the buying committee engaged at the account",
            +1,
            "account",
            "sum",
            "acc_new_persona",
        ),
        Feature(
            "account_leads",
            "alignment",
            "all",
            "People from the account known as leads",
            0,
            "account",
            "sum",
            "acc_lead_created",
        ),
        Feature(
            "account_engaged_share",
            "alignment",
            "derived",
            "Share of the account's known people who have engaged",
            +1,
            "account",
            "derived",
        ),
        Feature(
            "account_executive_engaged",
            "alignment",
            "all",
            "An executive at the account has engaged (1 = yes)",
            +1,
            "account",
            "flag",
            "acc_new_executive",
        ),
        Feature(
            "account_finance_engaged",
            "alignment",
            "all",
            "Someone from finance at the account has engaged (1 = yes)",
            +1,
            "account",
            "flag",
            "acc_new_finance",
        ),
        Feature(
            f"account_engaged_{longest}d",
            "alignment",
            f"{longest}d",
            f"Engaged actions by anyone at the account in the last {longest} days",
            +1,
            "account",
            "sum",
            "acc_engaged",
            longest,
        ),
    ]
    for w in ws:
        f.append(
            Feature(
                f"pricing_views_{_win(w)}",
                "intent",
                _win(w),
                f"Pricing page views by the lead {_when(w)}",
                +1,
                "lead",
                "sum",
                "pricing",
                w,
            )
        )
    f += [
        Feature(
            "demo_requests_all",
            "intent",
            "all",
            "Demo requests by the lead, ever",
            +1,
            "lead",
            "sum",
            "demo",
        ),
        Feature(
            "demo_request_days_since",
            "intent",
            "derived",
            "Days since the lead last asked for a demo (999 = never)",
            -1,
            "lead",
            "days_since",
            "demo",
        ),
        Feature(
            f"forms_{longest}d",
            "intent",
            f"{longest}d",
            f"Forms the lead filled in the last {longest} days",
            +1,
            "lead",
            "sum",
            "forms",
            longest,
        ),
        Feature(
            "timeline_stated",
            "intent",
            "all",
            "Most urgent buying timeline the lead stated in a form (0 none, 1 exploring, 2 this year, 3 this quarter)",
            +1,
            "lead",
            "max",
            "timeline",
        ),
        Feature(
            "budget_authority_stated",
            "intent",
            "all",
            "The lead said in a form that they hold budget authority (1 = yes)",
            +1,
            "lead",
            "max",
            "budget_yes",
        ),
    ]
    for w in ws:
        f.append(
            Feature(
                f"engaged_actions_{_win(w)}",
                "engagement",
                _win(w),
                f"Engaged actions by the lead (clicks, visits, downloads, forms) {_when(w)}",
                +1,
                "lead",
                "sum",
                "engaged",
                w,
            )
        )
        f.append(
            Feature(
                f"active_days_{_win(w)}",
                "engagement",
                _win(w),
                f"Days on which the lead took an engaged action {_when(w)}",
                +1,
                "lead",
                "sum",
                "active_day",
                w,
            )
        )
    f += [
        Feature(
            "engaged_recency_weighted",
            "engagement",
            "derived",
            "Recent engaged actions by the lead, recent ones weighing most",
            +1,
            "lead",
            "recency",
            "engaged",
        ),
        Feature(
            f"email_opens_{longest}d",
            "engagement",
            f"{longest}d",
            f"Marketing emails the lead opened in the last {longest} days",
            0,
            "lead",
            "sum",
            "opens",
            longest,
        ),
        Feature(
            "email_opens_all",
            "engagement",
            "all",
            "Marketing emails the lead opened, ever",
            0,
            "lead",
            "sum",
            "opens",
        ),
        Feature(
            "engaged_days_since_last",
            "engagement",
            "derived",
            "Days since the lead's last engaged action (999 = never)",
            -1,
            "lead",
            "days_since",
            "engaged",
        ),
        Feature(
            "momentum_30d",
            "engagement",
            "derived",
            "Engagement momentum: actions in the last 30 days versus the 30 days before (-1 falling to +1 rising)",
            +1,
            "lead",
            "derived",
        ),
        Feature(
            "sales_touches_all",
            "engagement",
            "all",
            "Calls and emails from sales to the lead, ever",
            0,
            "lead",
            "sum",
            "touches",
        ),
        Feature(
            "sales_meetings_all",
            "engagement",
            "all",
            "Meetings sales held with the lead, ever",
            +1,
            "lead",
            "sum",
            "meetings",
        ),
        Feature(
            "sales_touch_days_since",
            "engagement",
            "derived",
            "Days since sales last touched the lead (999 = never)",
            0,
            "lead",
            "days_since",
            "touches",
        ),
        Feature(
            "belief_stages_touched",
            "progression",
            "derived",
            "How many of the four beliefs (urgency, category, capability, alignment) the lead has consumed content for",
            +1,
            "lead",
            "derived",
        ),
        Feature(
            "touched_in_ladder_order",
            "progression",
            "derived",
            "The lead moved through beliefs in buying order, urgency first (1 = yes, needs two or more)",
            +1,
            "lead",
            "derived",
        ),
        Feature(
            "first_touch_days_since",
            "progression",
            "derived",
            "Days since the lead first consumed belief content (999 = never)",
            0,
            "lead",
            "days_since_first",
            "any_belief",
        ),
        Feature(
            "lead_age_days",
            "progression",
            "derived",
            "Days since the lead was created",
            0,
            "lead",
            "derived",
        ),
        Feature(
            "ladder_stage",
            "progression",
            "all",
            "Furthest gate of the ladder the lead has reached (0 none, 1 the first gate, ...)",
            +1,
            "lead",
            "max",
            "ladder_rank",
        ),
        Feature(
            "milestone_days_since",
            "progression",
            "derived",
            "Days since the lead last moved up the ladder (999 = never)",
            -1,
            "lead",
            "days_since",
            "ladder_rank",
        ),
    ]
    for attr, text in (
        ("industry", "Industry of the lead's account"),
        ("employee_band", "Size band of the lead's account (employees)"),
        ("region", "Region of the lead's account"),
        ("persona", "Role of the lead in the buying committee"),
        ("seniority", "Seniority of the lead"),
        ("source_channel", "Channel that brought the lead in"),
    ):
        f.append(Feature(attr, "fit", "static", text, 0, "lead", "static", attr, categorical=True))
    f += [
        Feature(
            "free_email_domain",
            "disqualifiers",
            "static",
            "The lead uses a free email address (1 = yes)",
            -1,
            "lead",
            "static",
            "free_email_domain",
        ),
        Feature(
            "competitor_email_domain",
            "disqualifiers",
            "static",
            "The lead's email is from a competitor (1 = yes)",
            -1,
            "lead",
            "static",
            "competitor_email_domain",
        ),
        Feature(
            "out_of_profile_size",
            "disqualifiers",
            "static",
            "The account's size is outside the ideal customer profile (1 = yes)",
            -1,
            "lead",
            "static",
            "out_of_profile_size",
        ),
    ]
    names = [x.name for x in f]
    if len(set(names)) != len(names):
        raise ValueError("feature names must be unique")
    return tuple(f)


def catalog_version(catalog: tuple[Feature, ...]) -> str:
    """A short hash of the catalogue: changes whenever a feature is added, removed or redefined."""
    text = json.dumps([asdict(x) for x in catalog], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def feature_names(catalog: tuple[Feature, ...]) -> list[str]:
    return [x.name for x in catalog]


def catalog_frame(catalog: tuple[Feature, ...]):
    """The catalogue as a table (what `readiness features --list` prints and reports show)."""
    import pandas as pd

    return pd.DataFrame([asdict(x) for x in catalog])[
        ["name", "family", "window", "direction", "description", "categorical"]
    ]
