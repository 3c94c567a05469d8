"""Our words read from an export's own: a lead's seniority and persona from its job title, an
account's region from its country. Used by the mapping (readiness/raw/mapping.py) for a field of
ours whose values are not ours even up to case and spacing: what they read is said at import,
and what they cannot read is left empty (unknown), never guessed.
"""

from __future__ import annotations

import unicodedata

import pandas as pd

# A job title's words: a lead's seniority, the first rule that matches winning (an assistant to
# the CEO is no chief, a vice president no president, a product owner no owner)
_NOT_AN_OWNER = "product|process|account|project|content|data|service|system|application|risk"
_SENIORITY_WORDS = (
    (
        "individual_contributor",
        r"assistant to|(?:executive|personal|administrative|admin|ceo|office) assistant",
    ),
    ("vp", r"vp|svp|evp|avp|vice president"),
    (
        "c_level",
        r"chief|ceo|cfo|cto|cio|cmo|coo|cro|cso|ciso|cpo|cdo|founder|co founder|president|"
        r"managing director|general manager|(?:managing|founding|senior|equity) partner|"
        rf"^partner$|(?<!{_NOT_AN_OWNER.replace('|', ' )(?<!')} )owner",
    ),
    ("director", r"director|dir|head of|(?:department|division|unit|team) head"),
    ("manager", r"manager|mgr|supervisor|team lead"),
    (
        "individual_contributor",
        r"engineer|developer|programmer|analyst|specialist|associate|coordinator|consultant|"
        r"representative|rep|administrator|admin|architect|scientist|designer|accountant|"
        r"assistant|account executive|sales executive|officer|agent|technician|intern|"
        r"marketer|strategist|planner|buyer|clerk|writer|recruiter|advisor",
    ),
)
# ... and the personas a title says whatever the product (champions and end users it does not);
# a title with one of a persona's veto words is not that persona (a software sales rep)
_PERSONA_WORDS = (
    (
        "finance",
        r"cfo|finance|financial|controller|comptroller|accounting|accountant|treasurer|"
        r"procurement|purchasing|buyer",
        r"sales|recruit",
    ),
    (
        "technical",
        r"cto|cio|ciso|engineer|engineering|developer|devops|architect|technology|software|"
        r"infrastructure|sysadmin|programmer|data (?:engineer|scientist|architect|platform)|"
        r"security (?:engineer|architect|analyst)|technical (?:lead|director|manager|architect)",
        r"sales|recruit|talent|marketing|clerk|account executive",
    ),
)


def from_titles(text: pd.Series, field: str) -> pd.Series:
    """Job titles ("VP Marketing", "Sr. Data Engineer", "CFO") read as a lead's seniority or
    persona by their words, the first rule that matches winning; empty where none does (a
    "Student", a bare "Executive"). A persona is finance or technical by its words (IT in
    capitals), executive for any other chief or founder; champions and end users depend on the
    product, so no title says them."""
    words = text.str.lower().str.replace(r"[^a-z0-9]+", " ", regex=True).str.strip()

    def has(pattern: str) -> pd.Series:
        return words.str.contains(rf"\b(?:{pattern})\b", regex=True, na=False)

    out = pd.Series(None, index=text.index, dtype=object)
    if field == "seniority":
        for value, pattern in _SENIORITY_WORDS:
            out[out.isna() & has(pattern)] = value
        return out
    for value, pattern, veto in _PERSONA_WORDS:
        out[out.isna() & has(pattern) & ~has(veto)] = value
    it = text.str.contains(r"\bIT\b", regex=True, na=False)  # not the word "it"
    out[out.isna() & it & ~has(_PERSONA_WORDS[1][2])] = "technical"
    out[out.isna() & (from_titles(text, "seniority") == "c_level")] = "executive"
    return out


# A country's names and codes (ISO 3166 alpha-2 and alpha-3, English and local names) by region:
# a Country column mapped onto an account's region is read through it
_COUNTRIES = {
    "north_america": (
        "united states|united states of america|us|usa|u s|u s a|america|ca|can|canada|"
        "north america|namer|nam"
    ),
    "latam": (
        "mexico|mx|mex|brazil|brasil|br|bra|argentina|ar|arg|chile|cl|chl|colombia|co|col|"
        "peru|pe|per|uruguay|uy|ury|venezuela|ve|ven|ecuador|ec|ecu|costa rica|cr|cri|panama|pa|"
        "pan|guatemala|gt|gtm|dominican republic|do|dom|puerto rico|pr|pri|bolivia|bo|bol|"
        "paraguay|py|pry|el salvador|sv|slv|honduras|hn|hnd|nicaragua|ni|nic|latin america|"
        "south america|central america"
    ),
    "emea": (
        "united kingdom|uk|gb|gbr|great britain|britain|england|scotland|wales|northern ireland|"
        "germany|deutschland|de|deu|france|fr|fra|spain|espana|es|esp|italy|italia|it|ita|"
        "netherlands|the netherlands|holland|nederland|nl|nld|belgium|belgie|belgique|be|bel|"
        "switzerland|schweiz|suisse|svizzera|ch|che|austria|osterreich|at|aut|sweden|sverige|se|"
        "swe|norway|norge|nor|denmark|danmark|dk|dnk|finland|suomi|fi|fin|ireland|ie|irl|"
        "portugal|pt|prt|poland|polska|pl|pol|czech republic|czechia|cz|cze|hungary|hu|hun|"
        "romania|ro|rou|greece|gr|grc|turkey|turkiye|tr|tur|israel|il|isr|"
        "united arab emirates|uae|ae|are|saudi arabia|ksa|sa|sau|qatar|qa|qat|kuwait|kw|kwt|"
        "egypt|eg|egy|south africa|za|zaf|rsa|nigeria|ng|nga|kenya|ke|ken|morocco|ma|mar|"
        "luxembourg|lu|lux|ukraine|ua|ukr|russia|russian federation|ru|rus|estonia|ee|est|"
        "latvia|lv|lva|lithuania|lt|ltu|slovakia|sk|svk|slovenia|si|svn|croatia|hr|hrv|"
        "bulgaria|bg|bgr|serbia|rs|srb|iceland|is|isl|cyprus|cy|cyp|malta|mt|mlt|europe|"
        "middle east|africa|eu"
    ),
    "apac": (
        "india|in|ind|china|cn|chn|japan|jp|jpn|australia|au|aus|new zealand|nz|nzl|singapore|"
        "sg|sgp|hong kong|hk|hkg|south korea|korea|republic of korea|kr|kor|taiwan|tw|twn|"
        "indonesia|id|idn|malaysia|my|mys|philippines|ph|phl|thailand|th|tha|vietnam|viet nam|"
        "vn|vnm|pakistan|pk|pak|bangladesh|bd|bgd|sri lanka|lk|lka|asia|asia pacific|oceania"
    ),
}
_REGION_OF = {name: region for region, names in _COUNTRIES.items() for name in names.split("|")}


def _plain(text: pd.Series) -> pd.Series:
    """Lower case without accents, punctuation as spaces: "U.S.A." is "u s a", "Österreich"
    "osterreich"."""

    def strip(v: str) -> str:
        return "".join(c for c in unicodedata.normalize("NFKD", v) if not unicodedata.combining(c))

    return (
        text.map(strip, na_action="ignore")
        .str.lower()
        .str.replace(r"[^a-z0-9]+", " ", regex=True)
        .str.strip()
    )


def from_countries(text: pd.Series) -> pd.Series:
    """Country names and codes ("USA", "DE", "Deutschland", "United Kingdom", "Brasil") read as
    an account's region (north_america, emea, apac, latam); empty where a value names no
    country the table knows."""
    return _plain(text).map(_REGION_OF)
