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
OPPORTUNITY_OUTCOMES = ("open", "won", "lost")
TOUCH_TYPES = ("call", "email", "meeting")
