"""The domain's vocabulary: the allowed values of every categorical column of the raw tables.

The simulator draws from these, the raw contracts check against them and the features encode
them, so a value is added here once and everywhere agrees.
"""

INDUSTRIES = (
    "software",
    "financial_services",
    "healthcare",
    "manufacturing",
    "retail",
    "logistics",
    "education",
    "professional_services",
)
EMPLOYEE_BANDS = ("1-50", "51-200", "201-1000", "1001-5000", "5000+")
SEGMENTS = ("smb", "mid_market", "enterprise")
SEGMENT_OF_BAND = {
    "1-50": "smb",
    "51-200": "smb",
    "201-1000": "mid_market",
    "1001-5000": "enterprise",
    "5000+": "enterprise",
}
REGIONS = ("north_america", "emea", "apac", "latam")

PERSONAS = ("champion", "executive", "finance", "technical", "end_user")
SENIORITIES = ("c_level", "vp", "director", "manager", "individual_contributor")
SOURCE_CHANNELS = (
    "organic_search",
    "paid_search",
    "paid_social",
    "events",
    "referral",
    "outbound",
    "partner",
)
EMAIL_DOMAIN_TYPES = ("business", "free", "competitor")

# The four beliefs a buyer crosses, in ladder order, plus content that moves none of them.
BELIEFS = ("urgency", "category", "capability", "alignment")
BELIEF_STAGES = (*BELIEFS, "general")
AUDIENCES = ("champion", "executive", "finance", "technical", "any")
# Audiences whose content is a "stakeholder asset": what a champion uses to sell internally.
STAKEHOLDER_AUDIENCES = ("executive", "finance", "technical")
ASSET_FORMATS = (
    "guide",
    "report",
    "benchmark",
    "calculator",
    "comparison",
    "case_study",
    "demo_video",
    "one_pager",
    "whitepaper",
    "brief",
    "webinar",
    "blog_post",
    "checklist",
)

EVENT_TYPES = (
    "email_open",
    "email_click",
    "page_view",
    "asset_download",
    "webinar_attended",
    "form_submit",
    "pricing_page_view",
    "demo_request",
)
# Form answers carried in events.properties (JSON) and their allowed values.
FORM_ANSWERS = {
    "timeline": ("exploring", "this_year", "this_quarter"),
    "budget_authority": ("no", "yes"),
}

# Every milestone a CRM may record; the ladder in params.yaml is an ordered subset of these.
MILESTONES = (
    "mql",
    "sales_accepted",
    "qualified_conversation",
    "opportunity",
    "closed_won",
    "closed_lost",
)
DEFAULT_LADDER = ("mql", "sales_accepted", "qualified_conversation", "opportunity", "closed_won")


def ladder_ranks(ladder: tuple[str, ...]) -> dict[str, int]:
    """The ladder rank (1 = its first gate) a lead reaches with each milestone: the gates of the
    ladder at or before the milestone in the order of MILESTONES (the buying journey), so a
    milestone past the ladder's last gate (an opportunity on a ladder ending at sales_accepted)
    reaches it too, and one between two gates reaches the earlier. closed_lost reaches nothing.
    A ladder out of that order ranks its own gates only."""
    journey = [m for m in MILESTONES if m != "closed_lost"]
    if any(g not in journey for g in ladder) or [g for g in journey if g in ladder] != list(ladder):
        return {g: i + 1 for i, g in enumerate(ladder)}
    ranks = {}
    for m in journey:
        reached = sum(journey.index(g) <= journey.index(m) for g in ladder)
        if reached:
            ranks[m] = reached
    return ranks


OPPORTUNITY_OUTCOMES = ("open", "won", "lost")
TOUCH_TYPES = ("call", "email", "meeting")
