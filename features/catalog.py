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
    # a dataset's own categorical attribute (profile family): code i means vocabulary[i]
    vocabulary: tuple[str, ...] = ()

    @property
    def source(self) -> str:
        """The measure (or attribute) this feature is computed from; derived features have none."""
        if self.measure is None:
            raise ValueError(f"feature {self.name} ({self.kind}) is derived: it has no measure")
        return self.measure


def _when(days: int | None) -> str:
    return f"in the last {days} days" if days else "ever"


def _win(days: int | None) -> str:
    return f"{days}d" if days else "all"


class _Family:
    """Makes one family's features: `urgency("name", "what it means", kind=..., measure=...)`.

    Defaults: the lead's level, window "all", direction +1 (raises readiness)."""

    def __init__(self, family: str, *, level: str = "lead") -> None:
        self.family, self.level = family, level

    def __call__(
        self,
        name: str,
        description: str,
        *,
        kind: str,
        measure: str | None = None,
        window: str = "all",
        window_days: int | None = None,
        direction: int = +1,
        categorical: bool = False,
    ) -> Feature:
        return Feature(
            name=name,
            family=self.family,
            window=window,
            description=description,
            direction=direction,
            level=self.level,
            kind=kind,
            measure=measure,
            window_days=window_days,
            categorical=categorical,
        )

    def count(
        self, name: str, description: str, *, measure: str, days: int | None, direction: int = +1
    ) -> Feature:
        """The sum of `measure` over the last `days` days (None: ever)."""
        return self(
            name,
            description,
            kind="sum",
            measure=measure,
            window=_win(days),
            window_days=days,
            direction=direction,
        )


_capability = _Family("capability")
_alignment = _Family("alignment", level="account")
_intent = _Family("intent")
_engagement = _Family("engagement")
_progression = _Family("progression")
_fit = _Family("fit")
_disqualifiers = _Family("disqualifiers")


def _belief_features(belief: str, ws: tuple[int | None, ...]) -> list[Feature]:
    """Content of one belief consumed by the lead (urgency, category, capability, alignment)."""
    content, make = _BELIEF_CONTENT[belief], _Family(belief)
    return [
        *(
            make.count(
                f"{belief}_content_{_win(w)}",
                f"Pieces of {content} the lead consumed {_when(w)}",
                measure=f"content_{belief}",
                days=w,
            )
            for w in ws
        ),
        make(
            f"{belief}_deep_all",
            f"Downloads and webinars of {content} by the lead, ever",
            kind="sum",
            measure=f"deep_{belief}",
        ),
        make(
            f"{belief}_distinct_assets",
            f"Different {belief} assets the lead has consumed",
            kind="sum",
            measure=f"new_asset_{belief}",
        ),
        make(
            f"{belief}_recency_weighted",
            f"Recent {belief} content consumption, recent pieces weighing most",
            kind="recency",
            measure=f"content_{belief}",
            window="derived",
        ),
        make(
            f"{belief}_days_since_last",
            f"Days since the lead last consumed {belief} content (999 = never)",
            kind="days_since",
            measure=f"content_{belief}",
            window="derived",
            direction=-1,
        ),
    ]


def _industry_proof_features(longest: int) -> list[Feature]:
    """Capability proof from the lead's own industry."""
    return [
        _capability.count(
            f"capability_industry_proof_{longest}d",
            f"Case studies from the lead's own industry consumed in the last {longest} days",
            measure="proof_match",
            days=longest,
        ),
        _capability(
            "capability_industry_proof_all",
            "Case studies from the lead's own industry consumed, ever",
            kind="sum",
            measure="proof_match",
        ),
        _capability(
            "capability_industry_proof_distinct",
            "Different case studies from the lead's own industry consumed",
            kind="sum",
            measure="new_proof_match",
        ),
    ]


def _account_alignment_features(ws: tuple[int | None, ...], longest: int) -> list[Feature]:
    """The buying committee as of the cutoff, from everyone at the lead's account."""
    return [
        *(
            _alignment.count(
                f"account_stakeholder_content_{_win(w)}",
                "Stakeholder assets (finance, technical, executive) consumed by anyone at the "
                f"account {_when(w)}",
                measure="acc_stakeholder",
                days=w,
            )
            for w in ws
        ),
        _alignment(
            "account_stakeholder_downloads_all",
            "Stakeholder assets downloaded by anyone at the account, ever",
            kind="sum",
            measure="acc_stakeholder_download",
        ),
        _alignment(
            "account_stakeholder_personas",
            "Distinct roles (champion, executive, finance, technical, end user) at the account "
            "that consumed stakeholder assets",
            kind="sum",
            measure="acc_new_stakeholder_persona",
        ),
        _alignment(
            "account_personas_engaged",
            "Distinct roles of the buying committee engaged at the account",
            kind="sum",
            measure="acc_new_persona",
        ),
        _alignment(
            "account_leads",
            "People from the account known as leads",
            kind="sum",
            measure="acc_lead_created",
            direction=0,
        ),
        _alignment(
            "account_engaged_share",
            "Share of the account's known people who have engaged",
            kind="derived",
            window="derived",
        ),
        _alignment(
            "account_executive_engaged",
            "An executive at the account has engaged (1 = yes)",
            kind="flag",
            measure="acc_new_executive",
        ),
        _alignment(
            "account_finance_engaged",
            "Someone from finance at the account has engaged (1 = yes)",
            kind="flag",
            measure="acc_new_finance",
        ),
        _alignment.count(
            f"account_engaged_{longest}d",
            f"Engaged actions by anyone at the account in the last {longest} days",
            measure="acc_engaged",
            days=longest,
        ),
    ]


def _intent_features(ws: tuple[int | None, ...], longest: int) -> list[Feature]:
    """Pricing views, demo requests, forms and what the lead stated in them."""
    return [
        *(
            _intent.count(
                f"pricing_views_{_win(w)}",
                f"Pricing page views by the lead {_when(w)}",
                measure="pricing",
                days=w,
            )
            for w in ws
        ),
        _intent("demo_requests_all", "Demo requests by the lead, ever", kind="sum", measure="demo"),
        _intent(
            "demo_request_days_since",
            "Days since the lead last asked for a demo (999 = never)",
            kind="days_since",
            measure="demo",
            window="derived",
            direction=-1,
        ),
        _intent.count(
            f"forms_{longest}d",
            f"Forms the lead filled in the last {longest} days",
            measure="forms",
            days=longest,
        ),
        _intent(
            "timeline_stated",
            "Most urgent buying timeline the lead stated in a form (0 none, 1 exploring, "
            "2 this year, 3 this quarter)",
            kind="max",
            measure="timeline",
        ),
        _intent(
            "budget_authority_stated",
            "The lead said in a form that they hold budget authority (1 = yes)",
            kind="max",
            measure="budget_yes",
        ),
    ]


def _engagement_features(ws: tuple[int | None, ...], longest: int) -> list[Feature]:
    """Engaged actions (all, and each kind: clicks, page views, downloads, webinars), email
    opens and sales touches."""
    windowed = []
    for w in ws:
        windowed += [
            _engagement.count(
                f"engaged_actions_{_win(w)}",
                f"Engaged actions by the lead (clicks, visits, downloads, forms) {_when(w)}",
                measure="engaged",
                days=w,
            ),
            _engagement.count(
                f"active_days_{_win(w)}",
                f"Days on which the lead took an engaged action {_when(w)}",
                measure="active_day",
                days=w,
            ),
        ]
    return [
        *windowed,
        _engagement(
            "engaged_recency_weighted",
            "Recent engaged actions by the lead, recent ones weighing most",
            kind="recency",
            measure="engaged",
            window="derived",
        ),
        *(
            _engagement.count(
                f"email_clicks_{_win(w)}",
                f"Links the lead clicked in marketing emails {_when(w)}",
                measure="clicks",
                days=w,
            )
            for w in ws
        ),
        _engagement.count(
            f"page_views_{longest}d",
            f"Web pages the lead visited in the last {longest} days",
            measure="page_views",
            days=longest,
        ),
        _engagement.count(
            "page_views_all", "Web pages the lead visited, ever", measure="page_views", days=None
        ),
        _engagement.count(
            "downloads_all", "Content the lead downloaded, ever", measure="downloads", days=None
        ),
        _engagement.count(
            "webinars_all",
            "Webinars and events the lead attended, ever",
            measure="webinars",
            days=None,
        ),
        _engagement.count(
            f"email_opens_{longest}d",
            f"Marketing emails the lead opened in the last {longest} days",
            measure="opens",
            days=longest,
            direction=0,
        ),
        _engagement.count(
            "email_opens_all",
            "Marketing emails the lead opened, ever",
            measure="opens",
            days=None,
            direction=0,
        ),
        _engagement(
            "engaged_days_since_last",
            "Days since the lead's last engaged action (999 = never)",
            kind="days_since",
            measure="engaged",
            window="derived",
            direction=-1,
        ),
        _engagement(
            "momentum_30d",
            "Engagement momentum: actions in the last 30 days versus the 30 days before "
            "(-1 falling to +1 rising)",
            kind="derived",
            window="derived",
        ),
        _engagement.count(
            "sales_touches_all",
            "Calls and emails from sales to the lead, ever",
            measure="touches",
            days=None,
            direction=0,
        ),
        _engagement(
            "sales_meetings_all",
            "Meetings sales held with the lead, ever",
            kind="sum",
            measure="meetings",
        ),
        _engagement(
            "sales_touch_days_since",
            "Days since sales last touched the lead (999 = never)",
            kind="days_since",
            measure="touches",
            window="derived",
            direction=0,
        ),
    ]


def _progression_features() -> list[Feature]:
    """How far along the ladder and the beliefs the lead is."""
    return [
        _progression(
            "belief_stages_touched",
            "How many of the four beliefs (urgency, category, capability, alignment) the lead "
            "has consumed content for",
            kind="derived",
            window="derived",
        ),
        _progression(
            "touched_in_ladder_order",
            "The lead moved through beliefs in buying order, urgency first (1 = yes, needs two "
            "or more)",
            kind="derived",
            window="derived",
        ),
        _progression(
            "first_touch_days_since",
            "Days since the lead first consumed belief content (999 = never)",
            kind="days_since_first",
            measure="any_belief",
            window="derived",
            direction=0,
        ),
        _progression(
            "lead_age_days",
            "Days since the lead was created",
            kind="derived",
            window="derived",
            direction=0,
        ),
        _progression(
            "ladder_stage",
            "Furthest gate of the ladder the lead has reached (0 none, 1 the first gate, ...)",
            kind="max",
            measure="ladder_rank",
        ),
        _progression(
            "milestone_days_since",
            "Days since the lead last moved up the ladder (999 = never)",
            kind="days_since",
            measure="ladder_rank",
            window="derived",
            direction=-1,
        ),
    ]


# categorical attributes of the lead and its account: (column, what it is)
_FIT_ATTRIBUTES = (
    ("industry", "Industry of the lead's account"),
    ("employee_band", "Size band of the lead's account (employees)"),
    ("region", "Region of the lead's account"),
    ("persona", "Role of the lead in the buying committee"),
    ("seniority", "Seniority of the lead"),
    ("source_channel", "Channel that brought the lead in"),
)
# yes/no flags that lower readiness: (column, what it is)
_DISQUALIFIERS = (
    ("free_email_domain", "The lead uses a free email address (1 = yes)"),
    ("competitor_email_domain", "The lead's email is from a competitor (1 = yes)"),
    ("out_of_profile_size", "The account's size is outside the ideal customer profile (1 = yes)"),
)


def _static_features() -> list[Feature]:
    """Fit (categorical attributes) and disqualifiers (flags), fixed at the lead's creation."""
    fit = [
        _fit(
            attr, text, kind="static", measure=attr, window="static", direction=0, categorical=True
        )
        for attr, text in _FIT_ATTRIBUTES
    ]
    flags = [
        _disqualifiers(name, text, kind="static", measure=name, window="static", direction=-1)
        for name, text in _DISQUALIFIERS
    ]
    return fit + flags


def build_catalog(windows: tuple[int, ...]) -> tuple[Feature, ...]:
    """The catalogue for the given windows (in days); order is stable and meaningful."""
    ws: tuple[int | None, ...] = (*sorted(windows), None)
    longest = max(windows)
    f = [feature for belief in BELIEFS for feature in _belief_features(belief, ws)]
    f += _industry_proof_features(longest)
    f += _account_alignment_features(ws, longest)
    f += _intent_features(ws, longest)
    f += _engagement_features(ws, longest)
    f += _progression_features()
    f += _static_features()
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
