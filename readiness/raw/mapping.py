"""Bring your own CRM export: a declarative mapping (YAML) from a user's files onto the raw tables.

A mapping names the export's files, then for each raw table (DESIGN.md section 3) the file it
comes from and how each of its columns is made:

    column: <name>                 the file's column, as is
    column + values: {...}         through a value map (their names onto ours; null = empty;
                                   matched as written, else up to case, spacing and
                                   underscores); a value the map does not cover is an error,
                                   unless the map has a "*" entry for "anything else"
    column + date_format: "%Y-%m-%d"   parsed as a date/time; a few values that do not parse
                                   are noted and their rows quarantined at ingest (most not
                                   parsing is an error: the format is wrong); a list of formats
                                   is tried in order, for a column written two ways
    column + fill: <value>         empty cells get this value
    key: <namespace> + column      their string ids numbered into our integer ids; the same
                                   namespace gives the same number in every file (a lead's mql_id
                                   in the deals file finds its lead); an id that is an e-mail
                                   address is matched whatever its case
    + split: ";"                   a cell listing several ids ("101;135;33", a deal's contacts):
                                   the first is taken (counted)
    + lookup: {file, match, take}  the cell holds another identifier of a record of `file` (an
                                   e-mail address where the id is its Record ID): the record whose
                                   `match` column holds it (case and spaces aside) gives its `take`
                                   column instead; a value no record holds is left empty (counted)
    value: <constant>              the same value on every row (a milestone from a date column)
    template: "text {column}"      text built from the file's columns
    row_number: true               1, 2, 3, ... (ids of events), continuing across the blocks
                                   of a table

A table may take rows from several files (a list of such blocks: milestones from a leads file
and a deals file), keep `distinct` rows (assets from the landing pages the leads arrived on) and
`skip_rows_without` some columns (a milestone only where its date column is filled). Tables the
export lacks are written empty: the pipeline trains on what exists and says what is missing.
A `distinct` block that still repeats an id (accounts off a contacts file) gives one row per id:
the earliest date, the first filled value. A milestone repeated for a lead is kept at its
earliest date. An open deal's close date is its expected close: left empty (counted). A deal
without an account takes its primary lead's. A column referring to another table numbers its
ids in that table's key namespace, or the mapping is refused; most of its ids unknown to that
table is refused too (a few are noted).

Files: a CSV's separator is read off its header, a byte-order mark and the spaces around a
header name do not count; `read_options` go to pandas.read_csv, shared or under a file's name.
An attribute's `decimal: ","` reads decimal commas.

Assets whose block leaves belief_stage or audience unset are tagged by the mapping's `tagging`
rules (from the title, the URL or any column of their file; readiness/raw/tagging.py), or get
`general` / `any`. Events whose asset_id is a key (a page, a URL) the assets table lacks create
their asset, titled by the file's title column (`title`, `Page Title`, ...) or else that name, and
tagged by the same rules. A URL is numbered as its canonical form (no tracking parameters, no
#fragment: `canonical_url`), so the same page reached from two campaigns is one asset.

Every mapping error names the mapping key, the file and the rows.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import pandas as pd
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from readiness.domain import EMPLOYEE_BANDS
from readiness.errors import ReadinessError
from readiness.raw import attributes, flat, tagging, vocabulary
from readiness.raw.io import CRM_IDS, ROW_ORIGINS
from readiness.raw.schemas import (
    KEYS,
    RAW_SCHEMAS,
    TABLES,
    columns_of,
    optional_vocabularies,
    timestamp_columns,
    utc_times,
)
from readiness.raw.tagging import Tagging

log = logging.getLogger(__name__)


def _header_name(name: object) -> str:
    """A column name as the import compares it: without a byte-order mark or the spaces around
    it (" Contact ID" in a header is Contact ID)."""
    return str(name).lstrip("\ufeff").strip()


class Lookup(BaseModel):
    """Another identifier of a record of `file`: the row whose `match` column holds the cell's
    value (case and surrounding spaces aside) gives its `take` column instead."""

    model_config = ConfigDict(extra="forbid")

    file: str
    match: str
    take: str

    @field_validator("match", "take")
    @classmethod
    def _header(cls, v: str) -> str:
        return _header_name(v)


class ColumnRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: str | None = None
    values: dict[str, Any] | None = None
    # one format, or several tried in order (an export mixing 2024-03-05 14:22 and 03/05/2024)
    date_format: str | list[str] | None = None
    fill: Any = None
    key: str | None = None
    value: Any = None
    template: str | None = None
    row_number: bool = False
    split: str | None = None  # a cell listing several ids: the first is taken
    lookup: Lookup | None = None  # the cell is another identifier of a record of another file

    @field_validator("column")
    @classmethod
    def _header(cls, v: str | None) -> str | None:
        return _header_name(v) if v is not None else None  # as _read reads the file's headers

    @model_validator(mode="after")
    def _one_source(self) -> ColumnRule:
        sources = [
            self.column is not None and self.key is None,
            self.key is not None,
            self.value is not None,
            self.template is not None,
            self.row_number,
        ]
        if sum(sources) != 1:
            raise ValueError(
                "give exactly one of: column (with optional values/date_format/fill), key + column, "
                "value, template, row_number"
            )
        if self.key is not None and self.column is None:
            raise ValueError("key needs the column that holds their id")
        if (self.split is not None or self.lookup is not None) and self.column is None:
            raise ValueError("split and lookup read a column: give the column")
        if self.split is not None and not self.split:
            raise ValueError("split is the text between the ids of a cell, e.g. ';'")
        if isinstance(self.date_format, list) and not self.date_format:
            raise ValueError('date_format is a format ("%Y-%m-%d") or a list of them, not empty')
        return self

    @property
    def date_formats(self) -> list[str]:
        """The date formats to try, in order."""
        f = self.date_format
        return [] if f is None else [f] if isinstance(f, str) else list(f)


class Block(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_: str = Field(alias="from")  # `from` is a Python keyword
    columns: dict[str, ColumnRule]
    distinct: bool = False
    skip_rows_without: list[str] = []


class AttributeRule(BaseModel):
    """One of the user's own columns as an attribute of a lead or an account (see
    readiness/raw/attributes.py for `type` and `known`)."""

    model_config = ConfigDict(extra="forbid")

    of: Literal["lead", "account"]
    from_: str = Field(alias="from")
    id: ColumnRule  # the lead's or account's id in that file (usually key + column)
    column: str
    type: Literal["numeric", "categorical", "boolean", "date"]
    known: Literal["at_creation", "history", "at_export"]
    description: str
    changed_at: ColumnRule | None = None  # history attributes: when each value took effect
    # values that mean "unknown" in this column (a form's "Select", a 999 code): read as empty
    missing_values: list[str] = []
    # a numeric column written with decimal commas ("1.234,5"): "," reads it so
    decimal: Literal[".", ","] = "."

    @field_validator("column")
    @classmethod
    def _header(cls, v: str) -> str:
        return _header_name(v)

    @model_validator(mode="after")
    def _dated_history(self) -> AttributeRule:
        if (self.known == "history") != (self.changed_at is not None):
            raise ValueError("changed_at is required for known: history, and only for it")
        return self


class FlatRule(BaseModel):
    """A flat export (readiness/raw/flat.py): one as-of date for the whole export."""

    model_config = ConfigDict(extra="forbid")

    as_of: date


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    source: str | None = None
    files: dict[str, str]
    tables: dict[str, Block | list[Block]]
    attributes: dict[str, AttributeRule] = {}
    read_options: dict[str, Any] = {}
    flat: FlatRule | None = None
    tagging: Tagging = Tagging()


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML keeps the last one
    silently: an attribute declared twice would vanish)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_mapping(path: Path) -> Mapping:
    """Read and check a mapping file; problems name the key."""
    if not path.is_file():
        raise ReadinessError(f"Mapping file {path} does not exist.")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader) or {}
        if not isinstance(raw, dict):
            raise ReadinessError(
                f"Mapping {path} must be a YAML mapping (name, files, tables), not a "
                f"{type(raw).__name__}."
            )
        mapping = Mapping(**raw)
    except UnicodeDecodeError as exc:
        raise ReadinessError(f"Mapping {path} is not UTF-8 text: {exc.reason}.") from exc
    except yaml.YAMLError as exc:  # also tags such as !!python/object: safe_load refuses them
        detail = " ".join(str(exc).split())
        raise ReadinessError(f"Mapping {path} is not valid YAML: {detail}") from exc
    except ValidationError as exc:
        union_noise = (
            "Input should be a valid list",
            "Input should be a valid dictionary or instance of Block",
        )
        problems = "; ".join(
            ".".join(str(x) for x in e["loc"] if x not in ("Block", "list[Block]"))
            + f": {e['msg']}"
            for e in exc.errors()
            if not e["msg"].startswith(union_noise)
        )
        raise ReadinessError(f"Mapping {path} is invalid: {problems}.") from exc
    wrong_tags = mapping.tagging.problems()
    if wrong_tags:
        raise ReadinessError(f"Mapping {path} is invalid: {'; '.join(wrong_tags)}.")
    for name, rule in mapping.attributes.items():
        if rule.from_ not in mapping.files:
            raise ReadinessError(
                f"Mapping {path}: attributes.{name}.from names file '{rule.from_}', which is not "
                f"under files ({', '.join(mapping.files)})."
            )
        if not name.isidentifier():
            raise ReadinessError(
                f"Mapping {path}: attributes.{name}: an attribute name is letters, digits and _ "
                "(it becomes a feature name)."
            )
    for table in mapping.tables:
        if table not in TABLES:
            raise ReadinessError(
                f"Mapping {path}: tables.{table} is not a raw table; known: {', '.join(TABLES)}."
            )
        for where, block in _blocks(mapping, table):
            if block.from_ not in mapping.files:
                raise ReadinessError(
                    f"Mapping {path}: {where}.from names file '{block.from_}', which is not under files "
                    f"({', '.join(mapping.files)})."
                )
            for c, col in block.columns.items():
                if col.lookup is not None and col.lookup.file not in mapping.files:
                    raise ReadinessError(
                        f"Mapping {path}: {where}.columns.{c}.lookup.file names file "
                        f"'{col.lookup.file}', which is not under files "
                        f"({', '.join(mapping.files)})."
                    )
            unknown = [c for c in block.columns if c not in columns_of(table)]
            if unknown:
                raise ReadinessError(
                    f"Mapping {path}: {where}.columns names {unknown}, not columns of raw table '{table}' "
                    f"({', '.join(columns_of(table))})."
                )
            lacking = [
                c
                for c in _required_columns(table)
                if c not in block.columns
                and (table, c) not in _MADE_WHEN_UNMAPPED
                and not (mapping.flat is not None and c in timestamp_columns(table))
            ]
            if lacking:
                raise ReadinessError(
                    f"Mapping {path}: {where}.columns lacks {', '.join(lacking)}, which every row "
                    f"of raw table '{table}' needs (ingest would quarantine them all): give "
                    + (" and ".join(lacking) if len(lacking) > 1 else "it")
                    + " a `column:` of the file, a `value:` or `row_number: true`."
                )
    _check_references(mapping, path)
    return mapping


# required columns the import makes when a block leaves them out: an account's creation (its
# first lead's), an asset's tags (the tagging rules, else general/any), a deal's account (its
# primary lead's)
_MADE_WHEN_UNMAPPED = {
    ("accounts", "created_at"),
    ("assets", "belief_stage"),
    ("assets", "audience"),
    ("opportunities", "account_id"),
}


def _required_columns(table: str) -> list[str]:
    """The raw table's columns no row may leave empty (its contract's non-nullable ones)."""
    return [n for n, c in RAW_SCHEMAS[table].to_schema().columns.items() if not c.nullable]


def _accounts_dated_by_their_leads(mapping: Mapping, out: Path, report: dict, notes: list) -> None:
    """An accounts table whose blocks give no created_at (HubSpot's companies file has no create
    date) takes the earliest creation of its leads: an account exists by its first lead, and
    nothing before it is measured. An account without a lead keeps none (ingest quarantines it,
    counted: there is nothing of it to score)."""
    blocks = _blocks(mapping, "accounts")
    if not blocks or any("created_at" in b.columns for _, b in blocks):
        return
    accounts = pd.read_parquet(out / "accounts.parquet")
    undated = accounts["created_at"].isna()
    if not undated.any():  # a flat export's accounts are dated by its as-of date
        return
    leads = pd.read_parquet(out / "leads.parquet", columns=["account_id", "created_at"])
    born = pd.to_datetime(leads["created_at"], errors="coerce", format="ISO8601")
    first = born.groupby(pd.to_numeric(leads["account_id"], errors="coerce")).min()
    dated = pd.to_numeric(accounts["account_id"], errors="coerce").map(first).where(undated)
    accounts["created_at"] = accounts["created_at"].astype(object).where(~undated, dated)
    accounts.to_parquet(out / "accounts.parquet", index=False)
    report["accounts_dated_by_first_lead"] = int(dated.notna().sum())
    notes.append(
        f"tables.accounts gives no created_at: {int(dated.notna().sum()):,} account(s) are dated "
        "by their first lead's creation"
        + (
            f"; {int((undated & dated.isna()).sum()):,} without a dated lead have none "
            "(quarantined at ingest)"
            if (undated & dated.isna()).any()
            else ""
        )
    )


def _blocks(mapping: Mapping, table: str) -> list[tuple[str, Block]]:
    """The blocks feeding raw table `table`, each with its mapping key (tables.x or tables.x[i]);
    none when the table is not mapped or mapped to an empty list."""
    spec = mapping.tables.get(table)
    if spec is None:
        return []
    if isinstance(spec, list):
        return [(f"tables.{table}[{i}]", b) for i, b in enumerate(spec)]
    return [(f"tables.{table}", spec)]


def _numbering(rule: ColumnRule) -> str:
    return f"key namespace '{rule.key}'" if rule.key is not None else "no key (used as written)"


def _check_references(mapping: Mapping, path: Path) -> None:
    """A column that refers to another table (a deal's account_id, an event's lead_id, an
    attribute's id) must number its ids as that table's own id column does: the same key
    namespace. Numbered in another namespace, contact C-17 would silently become whichever
    account got number 17."""
    from readiness.raw.ingest import REFERENCES

    refs = [
        (f"{where}.columns.{column}", block.columns[column], ref)
        for table, pairs in REFERENCES.items()
        for where, block in _blocks(mapping, table)
        for column, ref in pairs
        if column in block.columns
    ]
    refs += [
        (f"attributes.{name}.id", rule.id, f"{rule.of}s")
        for name, rule in mapping.attributes.items()
    ]
    for key, rule, ref in refs:
        if rule.value is not None:
            continue  # a constant (every deal of one account): nothing is numbered
        id_column = KEYS[ref][0]
        own = [
            (w, b.columns[id_column]) for w, b in _blocks(mapping, ref) if id_column in b.columns
        ]
        other = next(((w, r) for w, r in own if r.key != rule.key), None)
        if other is None:  # the same numbering, or the referenced table is not mapped
            continue
        w, r = other
        hint = (
            " Or leave opportunities.account_id out: a deal then takes its primary lead's account."
            if key.startswith("tables.opportunities") and ref == "accounts"
            else ""
        )
        raise ReadinessError(
            f"Mapping {path}: {key} refers to {ref} with {_numbering(rule)}, but "
            f"{w}.columns.{id_column} numbers them with {_numbering(r)}: the ids would point at "
            f"unrelated {ref}. Give it {'`key: ' + str(r.key) + '`' if r.key else 'the same numbering'} "
            f"on a column holding the {ref[:-1]}'s own id.{hint}"
        )


def _rows(index: pd.Index, limit: int = 5) -> str:
    """File data rows as people count them: the first data row is row 1 (line 2 of a CSV)."""
    return ", ".join(str(int(i) + 1) for i in index[:limit]) + (
        " ..." if len(index) > limit else ""
    )


# query parameters that say how a visitor arrived, not which page it is
_TRACKING_PARAMS = re.compile(
    r"^(utm_\w*|gclid|gbraid|wbraid|dclid|fbclid|msclkid|yclid|igshid|mc_cid|mc_eid|_hsenc|_hsmi"
    r"|hsctatracking|__hstc|__hssc|__hsfp|_ga|_gl|mkt_tok)$",
    re.IGNORECASE,
)


# a URL written without its scheme, as exports often keep them: "www.acme.com/pricing?utm_..." or
# "acme.com/pricing" (a dotted host, then a path or a query: "report.pdf" alone is no URL)
_SCHEMELESS_URL = re.compile(r"(?i)^(www\.[^\s/?#]+|[a-z0-9-]+(\.[a-z0-9-]+)+[/?#])\S*$")


# a path of the site itself, as web analytics write pages: "/pricing", "/blog/x?utm_source=y"
_SITE_PATH = re.compile(r"^/(?!/)\S*$")


def canonical_url(text: str) -> str:
    """A page URL as one page: without tracking parameters (utm_*, gclid, HubSpot's _hsenc, ...)
    or a #fragment, scheme and host in lower case, no trailing slash on the path; a URL written
    without its scheme (www.acme.com/pricing) likewise, and still without one. Other text is
    returned as it is; a site's own path (/blog/post?utm_source=x, as web analytics export
    pages) likewise, "/" staying "/"."""
    stripped = text.strip()
    schemeless = not re.match(r"(?i)^https?://", stripped)
    is_path = _SITE_PATH.match(stripped) is not None
    if schemeless and not is_path and not _SCHEMELESS_URL.match(stripped):
        return text
    parts = urlsplit(("//" if schemeless and not is_path else "") + stripped)
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = urlencode([(k, v) for k, v in query if not _TRACKING_PARAMS.match(k)])
    path = parts.path.rstrip("/") or ("/" if is_path else "")
    url = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, kept, ""))
    return url.removeprefix("//")


_EMAIL = r"[^@\s]+@[^@\s]+\.[^@\s]+"
# an address with its domain captured
_EMAIL_PARTS = r"[^@\s]+@([^@\s]+\.[^@\s]+)"


def _id_text(values: pd.Series) -> pd.Series:
    """Ids as text to compare: without surrounding spaces and without Excel's text marker
    ('00Q5g...), so a file saved through Excel and another not name the same records."""
    return values.astype("string").str.strip().str.replace(r"^'+", "", regex=True)


_SALESFORCE_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def _salesforce_twin(v: str) -> str | None:
    """The other form of a Salesforce record id: the 18-character id of a 15-character one (its
    case-safe suffix computed from which of its letters are capitals), the 15-character prefix
    of an 18-character one whose suffix checks; None for anything else."""
    if not v.isascii() or not v.isalnum() or len(v) not in (15, 18):
        return None
    suffix = "".join(
        _SALESFORCE_SUFFIX[sum(1 << i for i, ch in enumerate(v[k : k + 5]) if ch.isupper())]
        for k in (0, 5, 10)
    )
    if len(v) == 15:
        return v + suffix
    return v[:15] if v[15:] == suffix else None


class _Keys:
    """Their string ids -> our integer ids, one numbering per namespace, stable across files.
    A page URL is numbered as its canonical form (`canonical_url`): the same page reached from
    two campaigns is one asset."""

    def __init__(self):
        self.maps: dict[str, dict[str, int]] = {}

    def number(self, namespace: str, values: pd.Series) -> pd.Series:
        m = self.maps.setdefault(namespace, {})
        text = _id_text(values)
        text = text.where(text != "")
        # an e-mail address is one whatever its case (Ann@X.com in one file, ann@x.com in another)
        emails = text.str.fullmatch(_EMAIL).fillna(False)
        if emails.any():
            text = text.where(~emails, text.str.casefold())
        urls = (
            text.str.match(r"(?i)^https?://")
            | text.str.match(_SITE_PATH.pattern)
            | text.str.match(_SCHEMELESS_URL.pattern)
        ).fillna(False)
        if urls.any():
            distinct = pd.unique(text[urls].dropna())
            canonical = {v: canonical_url(str(v)) for v in distinct}
            text = text.where(~urls, text.map(canonical))
        for v in pd.unique(text.dropna().astype(str)):
            if v not in m:
                # a Salesforce id written in its 15-character form in one report and its
                # 18-character form in another is one record
                twin = _salesforce_twin(v)
                m[v] = m[twin] if twin is not None and twin in m else len(m) + 1
        return text.map(m).astype("Int64")

    def their_ids(self, namespace: object) -> dict[int, str]:
        """Our id -> their id in `namespace` (empty when nothing was numbered in it)."""
        return {ours: theirs for theirs, ours in self.maps.get(str(namespace), {}).items()}


def _column(
    frame: pd.DataFrame,
    rule: ColumnRule,
    where: str,
    file: str,
    keys: _Keys,
    mapping_path: Path,
    unparsed: list[str] | None = None,
    files: dict[str, pd.DataFrame] | None = None,
    notes: list[str] | None = None,
) -> pd.Series:
    """The column `rule` makes from `frame`. Given `unparsed`, a date column whose format parses
    most of its values passes the few it does not on as their text (ingest quarantines those rows
    with their value) and notes them there; otherwise, or when most do not parse, an error.
    `files`: the export's files, for a `lookup`; `notes`: where a split or a lookup says what it
    did."""
    if rule.value is not None:
        return pd.Series([rule.value] * len(frame), index=frame.index, dtype=object)
    if rule.row_number:
        return pd.Series(np.arange(1, len(frame) + 1), index=frame.index)
    if rule.template is not None:
        if frame.empty:
            return pd.Series([], index=frame.index, dtype=object)
        try:
            return frame.apply(lambda r: rule.template.format(**r.to_dict()), axis=1)
        except KeyError as exc:
            raise ReadinessError(
                f"Mapping {mapping_path}: {where}.template names column {exc} that {file} lacks "
                f"(it has: {', '.join(frame.columns)})."
            ) from exc
        except (ValueError, IndexError, AttributeError, TypeError) as exc:
            raise ReadinessError(
                f"Mapping {mapping_path}: {where}.template {rule.template!r} is not a valid template "
                f"({exc}): name columns in braces, e.g. 'Title {{title}}', and write a literal "
                "brace twice ({{ or }})."
            ) from exc
    if rule.column not in frame.columns:
        raise ReadinessError(
            f"Mapping {mapping_path}: {where}.column names column '{rule.column}' that {file} lacks "
            f"{_has(frame, str(rule.column))}"
        )
    s = frame[rule.column]
    if rule.split is not None:
        s = _first_listed(s, rule, where, file, notes)
    if rule.lookup is not None:
        s = _looked_up(s, rule, where, file, files or {}, mapping_path, notes)
    if rule.key is not None:
        if rule.fill is not None:  # an empty id gets the fill, then is numbered like the rest
            s = s.where(s.notna() & (s.astype("string").str.strip() != ""), rule.fill)
        return keys.number(rule.key, s)
    if rule.values is not None:
        present = s.notna()
        text = s.astype("string")
        # a value the map lacks as written but has up to case and spacing (" Paid search") is
        # read as that entry, unless two entries fold together onto different values
        folded: dict[str, list[Any]] = {}
        for k, v in rule.values.items():
            if k != "*":
                folded.setdefault(attributes.fold(k), []).append(v)
        unique = {k: vs[0] for k, vs in folded.items() if len(set(map(str, vs))) == 1}
        values = dict(rule.values)
        for v in pd.unique(text.dropna()):
            if v not in values and attributes.fold(v) in unique:
                values[v] = unique[attributes.fold(v)]
        known = text.isin(list(values)) | ~present
        if not known.all() and "*" not in values:
            bad = text[~known]
            raise ReadinessError(
                f"Mapping {mapping_path}: {where}.values does not cover {bad.nunique()} value(s) of column "
                f"'{rule.column}' in {file}: {', '.join(repr(v) for v in bad.unique()[:5])} "
                f"({len(bad)} rows: {_rows(bad.index)}). Add them to the value map (null leaves the cell empty)."
            )
        other = values.get("*")
        s = text.map(lambda v: values.get(v, other) if pd.notna(v) else None).astype(object)
    if rule.date_format is not None:
        formats = rule.date_formats
        shown = "' or '".join(formats)
        parsed = utc_times(s, formats[0])
        for other_format in formats[1:]:
            missed = parsed.isna() & s.notna()
            if not missed.any():
                break
            parsed = parsed.where(~missed, utc_times(s.where(missed), other_format))
        given = s.notna() & (s.astype("string").str.strip() != "")
        bad = given & parsed.isna()
        if bad.any() and unparsed is not None and bad.sum() * 2 < given.sum():
            # a value written as ISO 8601 (2024-03-05) is unambiguous: read as such, and said
            iso = utc_times(s.where(bad), "ISO8601")
            read_iso = bad & iso.notna()
            bad &= ~read_iso
            if read_iso.any():
                parsed = parsed.astype(object).where(~read_iso, iso.astype(object))
                unparsed.append(
                    f"{where}: {int(read_iso.sum())} value(s) of column '{rule.column}' in {file} "
                    f"are not in date_format '{shown}' but ISO 8601 dates, read as "
                    f"such (rows {_rows(s.index[read_iso])}; e.g. "
                    f"{', '.join(repr(v) for v in s[read_iso].head(3))})"
                )
            if bad.any():
                unparsed.append(
                    f"{where}.date_format '{shown}' does not parse {int(bad.sum())} of "
                    f"{int(given.sum())} value(s) of column '{rule.column}' in {file} (rows "
                    f"{_rows(s.index[bad])}; e.g. {', '.join(repr(v) for v in s[bad].head(3))}): "
                    "ingest quarantines those rows; if they are dates written another way, give "
                    "date_format a list of the formats, tried in order (e.g. "
                    f"['{formats[0]}', '%m/%d/%Y'])"
                )
            return _dates_with_text(parsed, s, bad)
        if bad.any():
            raise ReadinessError(
                f"Mapping {mapping_path}: {where}.date_format '{shown}' does not parse {int(bad.sum())} "
                f"value(s) of column '{rule.column}' in {file} (rows {_rows(s.index[bad])}; e.g. "
                f"{', '.join(repr(v) for v in s[bad].head(3))})."
            )
        s = parsed
    if rule.fill is not None:
        s = s.where(s.notna(), rule.fill)
    return s


def _amounts(amount: pd.Series, report: dict, notes: list[str]) -> pd.Series:
    """Deal amounts written as a CRM formats them ("$12,000", "€ 1.200.000,50") as plain
    numbers, read as attributes.read_numbers reads a numeric attribute; the rest left for ingest
    to quarantine. What changed is counted in `report` and said in `notes`."""
    if amount.isna().all() or pd.api.types.is_numeric_dtype(amount):
        return amount
    text = amount.astype("string").str.strip()
    present = text.dropna()
    changes: dict = {}
    text, _ = attributes.read_numbers(
        "the deals' amount", text, present[present != ""], ".", changes, notes, ranges=False
    )
    if changes:
        report["opportunity_amounts"] = changes
    return text.astype(object).where(text.notna(), None)


# free webmail domains: an address there says nothing of the lead's company (email_domain_type
# "free"); any other domain is read as the company's ("business")
FREE_EMAIL_DOMAINS = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "yahoo.de",
        "ymail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "hotmail.de",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "mail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "t-online.de",
        "freenet.de",
        "protonmail.com",
        "proton.me",
        "pm.me",
        "zoho.com",
        "yandex.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
        "126.com",
        "naver.com",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "libero.it",
        "virgilio.it",
        "uol.com.br",
        "bol.com.br",
        "terra.com.br",
        "comcast.net",
        "verizon.net",
        "att.net",
        "sbcglobal.net",
        "btinternet.com",
        "rediffmail.com",
        "fastmail.com",
        "hey.com",
        "tutanota.com",
    ]
)


# fields of ours read from the export's own words when they are not ours (readiness/raw/vocabulary)
_READERS = {
    ("leads", "seniority"): (
        "job titles by their words",
        lambda t: vocabulary.from_titles(t, "seniority"),
    ),
    ("leads", "persona"): (
        "job titles by their words",
        lambda t: vocabulary.from_titles(t, "persona"),
    ),
    ("accounts", "region"): ("countries (names and ISO codes)", vocabulary.from_countries),
}


def _as_ours(text: pd.Series, vocab: tuple[str, ...]) -> pd.Series:
    """Each value as the word of ours it spells (attributes.fold: case, spacing and underscores
    do not matter; nor do hyphens and slashes here: "North America" is north_america, "C-Level"
    is c_level); empty where it spells none."""
    ours = {attributes.fold(v): v for v in vocab}
    spelled = {
        v: ours.get(attributes.fold(re.sub(r"[-/]", " ", v))) for v in pd.unique(text.dropna())
    }
    return text.map(spelled)


def _our_vocabulary(
    table: str,
    built: pd.DataFrame,
    block: Block,
    where: str,
    file: str,
    mapping: Mapping,
    notes: list[str],
    email: bool = False,
) -> dict[str, int]:
    """The optional fields of fixed vocabulary (an account's industry, region, a lead's persona,
    seniority, source channel, email domain type, an asset's industry) in our words, in place in
    `built`: a value that is ours up to case and spacing is read as ours; an email address in
    email_domain_type is read as its domain's type (free webmail or business); any other value
    is left empty, counted and said, and when the column was mapped as it is (no value map) it is
    also kept whole as the user's own categorical attribute, known at creation, so that the
    model still learns from it. Before, such values quarantined their rows at ingest: in a
    trial, an Industry column took 98.8 % of the accounts, and their leads and events, with them.
    Returns the values left empty per field."""
    out: dict[str, int] = {}
    for c, vocab in optional_vocabularies(table).items():
        rule = block.columns.get(c)
        # company sizes are counts as often as bands: _employee_bands reads them
        if rule is None or rule.value is not None or c not in built or c == "employee_band":
            continue
        text = built[c].astype("string")
        given = text.notna() & (text.str.strip() != "")
        ours = text.isin(vocab)
        folded = _as_ours(text, vocab)
        by_fold = given & ~ours & folded.notna()
        if email and c == "email_domain_type":
            domain = text.str.extract(rf"^\s*{_EMAIL_PARTS}\s*$", expand=False).str.lower()
            address = given & ~ours & ~by_fold & domain.notna()
            kind = domain.map(lambda d: "free" if d in FREE_EMAIL_DOMAINS else "business")
            if address.any():
                built.loc[address, c] = kind[address]
                notes.append(
                    f"{where}.columns.{c}: {int(address.sum()):,} email address(es) of column "
                    f"'{rule.column}' in {file} read as their domain's type "
                    f"({int((kind[address] == 'free').sum()):,} free webmail, the rest business)"
                )
            # one person on two lead rows splits their history in two: said, never merged
            repeated = text[address].str.strip().str.casefold()
            shared = repeated[repeated.duplicated(keep=False)]
            if len(shared):
                notes.append(
                    f"{where}.columns.{c}: {shared.nunique():,} email address(es) of column "
                    f"'{rule.column}' in {file} are on more than one lead ({len(shared):,} rows, "
                    f"e.g. rows {_rows(shared.index)}): kept as separate leads, each with its "
                    "own history; if they are one person, merge them in the CRM or number the "
                    "leads by the address (`key:` on the email column)"
                )
        else:
            address = pd.Series(False, index=built.index)
        if by_fold.any():
            built.loc[by_fold, c] = folded[by_fold]
        titled = pd.Series(False, index=built.index)
        reader = _READERS.get((table, c))  # a Job Title column, a Country column
        if reader is not None:
            rest = given & ~ours & ~by_fold & ~address
            read = reader[1](text[rest])
            titled[read.index] = read.notna()
            if titled.any():
                built[c] = built[c].astype(object)
                built.loc[titled, c] = read[titled[read.index]]
                pairs = pd.DataFrame({"title": text[titled], "ours": built.loc[titled, c]})
                shown = pairs.value_counts().head(3).index
                notes.append(
                    f"{where}.columns.{c}: {int(titled.sum()):,} value(s) of column "
                    f"'{rule.column or c}' in {file} read as {reader[0]} ("
                    + ", ".join(f"{t!r} as {o}" for t, o in shown)
                    + "; map them yourself with `values:`)"
                )
        outside = given & ~ours & ~by_fold & ~address & ~titled
        if not outside.any():
            continue
        examples = ", ".join(repr(v) for v in text[outside].value_counts().index[:4])
        built[c] = built[c].astype(object)  # a true/false or number column takes an empty cell
        built.loc[outside, c] = None
        out[c] = int(outside.sum())
        # an email column is an identifier, never a feature
        kept = (
            None if c == "email_domain_type" else _keep_as_attribute(table, c, rule, block, mapping)
        )
        rows = (
            "their rows are then skipped: skip_rows_without names the field"
            if c in block.skip_rows_without
            else "rows are kept"
        )
        notes.append(
            f"{where}.columns.{c}: {int(outside.sum()):,} of {int(given.sum()):,} value(s) of "
            f"column '{rule.column or c}' in {file} are not among ours "
            f"({', '.join(vocab)}): e.g. {examples}. They are left empty in {table}.{c} ({rows})"
            + (f"; the column is {kept}" if kept else "")
            + f". Map them onto ours with `values:` under {where}.columns.{c} to use them as ours."
        )
    return out


def _keep_as_attribute(
    table: str, field: str, rule: ColumnRule, block: Block, mapping: Mapping
) -> str | None:
    """Declare the column behind a lead's or account's field (`rule`, a column taken as it is)
    the user's own categorical attribute known at creation, unless it already is one; what
    became of it, in words (None: not kept)."""
    entity = {"accounts": "account", "leads": "lead"}.get(table)
    id_rule = block.columns.get(f"{entity}_id") if entity else None
    # only a column taken as it is: through a lookup, a split or a fill the attribute would read
    # the raw column (a company's name where the field looks up its industry)
    plain = (
        rule.column is not None
        and rule.key is None
        and not any((rule.values, rule.lookup, rule.split, rule.fill is not None, rule.date_format))
    )
    if entity is None or not plain or id_rule is None:
        return None
    if id_rule.row_number:  # numbered by row: the attribute's own numbering would differ
        return None
    for name, a in mapping.attributes.items():
        if a.from_ == block.from_ and a.column == rule.column and a.of == entity:
            return f"already your attribute '{name}' (known {a.known.replace('_', ' ')})"
    name, n = field, 1
    while name in mapping.attributes:  # another block's, or the user's own
        n += 1
        name = f"{field}_as_written" if n == 2 else f"{field}_as_written_{n - 1}"
    mapping.attributes[name] = AttributeRule.model_validate(
        {
            "of": entity,
            "from": block.from_,
            "id": id_rule,
            "column": rule.column,
            "type": "categorical",
            "known": "at_creation",
            "description": f"{rule.column} as the export writes it",
        }
    )
    return (
        f"kept as it is as your own attribute '{name}' (categorical, known at creation), which "
        "the model learns from"
    )


def _employee_bands(band: pd.Series, report: dict, notes: list[str]) -> pd.Series:
    """A company size column as exports write it, put in our bands (EMPLOYEE_BANDS): a band of
    ours stays; an employee count ("1,200"), a range ("51-100", "1.001-5.000") or a bound
    ("10,000+", "<10"), read as attributes.read_numbers reads them (a range as its midpoint), is
    put in the band it falls in; no count (0) and other text are left empty (unknown), said,
    their rows kept. Without it, an export's counts quarantined every account they were written on
    (and its leads), and the disqualifiers and deal sizes by band had nothing to read."""
    text = band.astype("string").str.strip()
    # a band of ours written with spaces or thousands separators ("5,000+", "1.001 - 5.000")
    squeezed = text.str.replace(r"[\s,.']", "", regex=True)
    ours = text.isin(EMPLOYEE_BANDS) | text.isna() | (text == "")
    written = ~ours & squeezed.isin(EMPLOYEE_BANDS)
    band = band.astype(object).where(~written, squeezed)
    ours |= written
    if ours.all():
        return band
    other = text[~ours]
    changes: dict = {}
    numbers, _ = attributes.read_numbers(
        "accounts.employee_band", other, other, ".", changes, notes, ranges=True
    )
    count = pd.to_numeric(numbers, errors="coerce").astype(float)
    # "1000+" is more than 1000 employees: the band above its bound
    count = count.where(~other.str.match(attributes.AT_LEAST.pattern, case=False), count + 0.5)
    edges = [0, *(float(b.split("-")[1]) for b in EMPLOYEE_BANDS[:-1]), np.inf]
    banded = pd.cut(count, edges, labels=list(EMPLOYEE_BANDS), right=True).astype(object)
    out = band.astype(object).copy()
    read = count.notna() & (count > 0)
    out.loc[read[read].index] = banded[read].to_numpy()
    zero = count.notna() & (count <= 0)
    out.loc[zero[zero].index] = None
    unread = count.isna()
    out.loc[unread[unread].index] = None
    out = out.where(out.notna(), None)
    report["employee_bands_from_counts"] = int(read.sum())
    if unread.any():
        report["employee_bands_not_read"] = int(unread.sum())
    notes.append(
        f"{int(read.sum()):,} company size(s) in accounts.employee_band are counts, ranges or "
        f"bounds (e.g. {', '.join(repr(v) for v in other[read].head(3))}), put in the bands they "
        f"fall in ({', '.join(EMPLOYEE_BANDS)})"
        + (f"; {int(zero.sum()):,} of no employees left empty (unknown)" if zero.any() else "")
        + (
            f"; {int(unread.sum()):,} that are no size (e.g. "
            f"{', '.join(repr(v) for v in other[unread].unique()[:3])}) left empty (unknown), "
            "their rows kept"
            if unread.any()
            else ""
        )
    )
    return out


def _first_listed(
    s: pd.Series, rule: ColumnRule, where: str, file: str, notes: list[str] | None
) -> pd.Series:
    """The first id of a cell that lists several ("101;135;33" -> "101"), counted in `notes`."""
    text = s.astype("string")
    parts = text.str.split(str(rule.split), regex=False)
    listed = (parts.str.len() > 1).fillna(False)
    first = parts.str[0].str.strip()
    if listed.any() and notes is not None:
        notes.append(
            f"{where}.split: {int(listed.sum())} cell(s) of column '{rule.column}' in {file} list "
            f"several ids (e.g. {text[listed].iloc[0]!r}): the first of each is taken"
        )
    return first.where(text.notna())


def _looked_up(
    s: pd.Series,
    rule: ColumnRule,
    where: str,
    file: str,
    files: dict[str, pd.DataFrame],
    mapping_path: Path,
    notes: list[str] | None,
) -> pd.Series:
    """The `take` column of the row of `lookup.file` whose `match` column holds each value (case
    and surrounding spaces aside; the first such row); a value no row holds is left empty
    (counted in `notes`), and most of them unmatched is an error: the wrong column."""
    lk = rule.lookup
    assert lk is not None
    other = files[lk.file]
    for part, column in (("match", lk.match), ("take", lk.take)):
        if column not in other.columns:
            raise ReadinessError(
                f"Mapping {mapping_path}: {where}.lookup.{part} names column '{column}' that file "
                f"'{lk.file}' lacks {_has(other, column)}"
            )

    def norm(values: pd.Series) -> pd.Series:
        return _id_text(values).str.casefold()

    table = pd.Series(other[lk.take].to_numpy(), index=norm(other[lk.match]).to_numpy())
    table = table[table.index.notna() & table.notna().to_numpy()]
    # one identifier held by rows of different records (two contacts with one address): the
    # first row's is taken, and said
    takes = table.astype("string").groupby(level=0).nunique()
    ambiguous = takes[takes > 1].index
    table = table[~table.index.duplicated(keep="first")]
    if len(ambiguous) and notes is not None:
        hit = int(norm(s).isin(ambiguous).sum())
        notes.append(
            f"{where}.lookup: {len(ambiguous)} value(s) of '{lk.match}' in file '{lk.file}' belong "
            f"to rows with different '{lk.take}' (e.g. {ambiguous[0]!r}): the first row's is "
            f"taken for the {hit} row(s) of {file} that hold one"
        )
    key = norm(s)
    given = key.notna() & (key != "")
    out = key.map(table).where(given)
    missed = given & out.isna()
    if missed.any() and missed.sum() * 2 > given.sum():
        raise ReadinessError(
            f"Mapping {mapping_path}: {where}.lookup: {int(missed.sum())} of {int(given.sum())} "
            f"value(s) of column '{rule.column}' in {file} are in no row's '{lk.match}' of file "
            f"'{lk.file}' (rows {_rows(s.index[missed])}; e.g. "
            f"{', '.join(repr(v) for v in s[missed].head(3))}): is '{lk.match}' the column that "
            "holds them?"
        )
    if missed.any() and notes is not None:
        notes.append(
            f"{where}.lookup: {int(missed.sum())} of {int(given.sum())} value(s) of column "
            f"'{rule.column}' in {file} are in no row's '{lk.match}' of file '{lk.file}' (rows "
            f"{_rows(s.index[missed])}; e.g. {', '.join(repr(v) for v in s[missed].head(3))}): "
            "left empty, ingest quarantines those rows"
        )
    return out.astype(object)


def _has(frame: pd.DataFrame, column: str) -> str:
    """What a file has instead of `column`: the nearest names, and a hint when the file came in
    as one column (another separator: read_options.sep)."""
    names = [str(c) for c in frame.columns]
    near = difflib.get_close_matches(column.casefold(), [n.casefold() for n in names], n=3)
    near_names = [n for n in names if n.casefold() in near]
    text = f"(it has {len(names)} column(s): {', '.join(repr(n) for n in names[:30])}"
    text += ", ...)" if len(names) > 30 else ")"
    text += f"; did you mean {' or '.join(repr(n) for n in near_names)}?" if near_names else "."
    if len(names) == 1 and any(sep in names[0] for sep in _SEPARATORS):
        text += (
            " The file was read as one column: give its separator as "
            "read_options: {<file>: {sep: ...}}"
        )
    return text


def _dates_with_text(parsed: pd.Series, text: pd.Series, bad: pd.Series) -> pd.Series:
    """Parsed dates as ISO 8601 text, and the values that did not parse as they were written:
    ingest parses the one and quarantines the other, naming the value."""
    return parsed.map(_as_text).where(~bad, text.astype("string")).astype(object)


def _as_text(v: object) -> object:
    """A parsed date as ISO 8601 text, a missing one as None, text as it is."""
    if v is pd.NaT or v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return v.isoformat() if isinstance(v, datetime) else v


def _inside(folder: Path, name: str, key: str, mapping_path: Path) -> Path:
    """The export file `name` under `folder`; a name that leaves the folder (absolute, `..`, a
    link pointing elsewhere) is refused: a mapping reads the export, nothing else on the disk."""
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts or not name.strip():
        raise ReadinessError(
            f"Mapping {mapping_path}: files.{key} is {name!r}; files are named relative to the "
            f"export folder {folder}, without '..' or an absolute path. Copy the file into the "
            "export folder (or pass --source) instead."
        )
    path = folder / relative
    if not path.resolve().is_relative_to(folder.resolve()):
        raise ReadinessError(
            f"Mapping {mapping_path}: files.{key} ({name!r}) is a link to {path.resolve()}, outside "
            f"the export folder {folder}; copy the file into the export folder instead."
        )
    return path


def _file_options(options: dict[str, Any], key: str, files: dict[str, str]) -> dict[str, Any]:
    """pandas.read_csv options for file `key`: the mapping's read_options, where an entry named
    after a file (`contacts: {sep: ";"}`) is that file's own and overrides the shared ones."""
    shared = {k: v for k, v in options.items() if k not in files}
    own = options.get(key, {})
    return {**shared, **(own if isinstance(own, dict) else {})}


_SEPARATORS = (",", ";", "\t", "|")


def _separator(path: Path, encoding: str) -> str:
    """The CSV's separator, read off its header line: of , ; tab and |, the one it holds most of
    (a comma when it holds none)."""
    try:
        with path.open(encoding=encoding, errors="replace", newline="") as f:
            header = f.readline()
    except OSError:
        return ","
    counts = {sep: header.count(sep) for sep in _SEPARATORS}
    best = max(_SEPARATORS, key=lambda sep: counts[sep])  # ties: the earlier, the comma first
    return best if counts[best] > 0 else ","


def _read(path: Path, options: dict[str, Any]) -> pd.DataFrame:
    """An export file as text columns. A CSV's separator is read off its header unless
    read_options give one; a byte-order mark is dropped (utf-8-sig unless read_options give an
    encoding); a header's surrounding spaces do not count."""
    if not path.exists():
        raise ReadinessError(
            f"Export file {path} (named under the mapping's files) does not exist."
        )
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            options = {"encoding": "utf-8-sig", **options}
            if "sep" not in options and "delimiter" not in options:
                options["sep"] = _separator(path, str(options["encoding"]))
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], **options)
    except pd.errors.EmptyDataError as exc:
        raise ReadinessError(
            f"Export file {path} is empty: it needs at least a header row."
        ) from exc
    except UnicodeDecodeError as exc:
        raise ReadinessError(
            f"Export file {path} is not UTF-8 text ({exc.reason} at byte {exc.start}): export it "
            "as UTF-8, or set read_options.encoding in the mapping (e.g. latin-1)."
        ) from exc
    except TypeError as exc:  # an unknown read option
        raise ReadinessError(
            f"Mapping read_options {options} are not options of pandas.read_csv ({exc})."
        ) from exc
    except Exception as exc:  # pandas and pyarrow raise several types for a damaged file
        detail = " ".join(str(exc).split())[:300]
        raise ReadinessError(
            f"Export file {path} is not readable ({type(exc).__name__}: {detail}); it is damaged "
            "or truncated (an unbalanced quote in a CSV, corrupt Parquet pages): export it again."
        ) from exc
    names = [_header_name(c) for c in frame.columns]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ReadinessError(
            f"Export file {path} has two columns named {', '.join(repr(n) for n in twice)} "
            "(ignoring surrounding spaces): rename one in the export."
        )
    frame.columns = names
    return frame


def import_export(mapping_path: Path, out: Path, source: Path | None = None) -> dict:
    """Write the raw tables the mapping describes into `out` (Parquet); return the import report:
    rows per table and file, tables absent from the export, empty columns of each file."""
    mapping = load_mapping(mapping_path)
    folder = source or (
        mapping_path.parent / mapping.source if mapping.source else mapping_path.parent
    )
    files = {
        k: _read(
            _inside(folder, v, k, mapping_path),
            _file_options(mapping.read_options, k, mapping.files),
        )
        for k, v in mapping.files.items()
    }
    keys = _Keys()
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {
        "mapping": mapping.name,
        "source": str(folder),
        "files": {
            k: {
                "file": mapping.files[k],
                "rows": len(df),
                "empty_columns": {
                    c: round(float(df[c].isna().mean()), 4)
                    for c in df.columns
                    if df[c].isna().mean() > 0.5
                },
            }
            for k, df in files.items()
        },
        "tables": {},
        "absent_tables": [],
    }
    tag_log = _TagLog()
    pages: list[tuple[pd.DataFrame, pd.Series, ColumnRule, str, str]] = []
    row_keys: list[pd.DataFrame] = []  # leads or accounts numbered by row: (file, row, our_id)
    unparsed: list[str] = []  # date values a column's date_format does not parse
    notes: list[str] = []  # what a split, a lookup or a reference found
    for table in TABLES:
        blocks = _blocks(mapping, table)
        cols = list(columns_of(table))
        if not blocks:  # not mapped, or mapped to no block at all: empty
            pd.DataFrame({c: pd.Series(dtype=object) for c in cols}).to_parquet(
                out / f"{table}.parquet", index=False
            )
            (out / ROW_ORIGINS / f"{table}.parquet").unlink(missing_ok=True)
            report["absent_tables"].append(table)
            report["tables"][table] = {"rows": 0, "absent": True}
            continue
        parts, per_block, origins = [], [], []
        noted = len(unparsed)
        numbered = 0  # row numbers run on across the table's blocks: ids never collide
        for where, block in blocks:
            frame = files[block.from_]
            file = folder / mapping.files[block.from_]
            built = pd.DataFrame(
                {
                    c: _column(
                        frame,
                        rule,
                        f"{where}.columns.{c}",
                        str(file),
                        keys,
                        mapping_path,
                        unparsed,
                        files,
                        notes,
                    )
                    for c, rule in block.columns.items()
                },
                index=frame.index,
            )
            for c, rule in block.columns.items():
                if rule.row_number:
                    built[c] += numbered
                    if table in ("leads", "accounts") and c == f"{table[:-1]}_id":
                        # no id of theirs to join scores back by: the file and its data row
                        row_keys.append(
                            pd.DataFrame(
                                {
                                    "file": mapping.files[block.from_],
                                    "row": np.arange(1, len(frame) + 1),
                                    "our_id": built[c].to_numpy(),
                                    "table": table,
                                }
                            )
                        )
            numbered += len(frame)
            not_ours = _our_vocabulary(
                table, built, block, where, str(file), mapping, notes, email=table == "leads"
            )
            skipped = 0
            skipped_values: dict[str, dict[str, int]] = {}
            if block.skip_rows_without:
                keep = built[block.skip_rows_without].notna().all(axis=1)
                skipped = int((~keep).sum())
                # what the skipped rows held in the columns that left them empty, commonest
                # first: the user sees what was left out (email sends, bounces, ...)
                for c in block.skip_rows_without:
                    col = block.columns[c].column
                    empty = ~keep & built[c].isna()
                    if col is not None and col in frame.columns and empty.any():
                        counts = (
                            frame.loc[empty[empty].index, col]
                            .astype("string")
                            .fillna("(empty)")
                            .value_counts()
                        )
                        skipped_values[col] = {str(k): int(v) for k, v in counts.head(5).items()}
                built = built[keep]
            merged = identical = 0
            if block.distinct:
                identical = len(built)
                built = built.drop_duplicates()
                identical -= len(built)
                before = len(built)
                built = _one_row_per_key(built, table)
                merged = before - len(built)
            if table == "assets":  # each kept asset, by the file row it came from
                built = built.copy()
                _tag(built, frame.loc[built.index], mapping, f"{where} ({file})", tag_log)
            asset_rule = block.columns.get("asset_id")
            if table == "events" and asset_rule is not None and asset_rule.key is not None:
                pages.append(
                    (frame.loc[built.index], built["asset_id"], asset_rule, where, str(file))
                )
            parts.append(built)
            origins.append(
                pd.DataFrame({"file": mapping.files[block.from_], "file_row": built.index + 1})
            )
            per_block.append(
                {
                    "from": block.from_,
                    "rows": len(built),
                    "skipped_rows_without_values": skipped,
                    **({"skipped_values": skipped_values} if skipped_values else {}),
                    **({"values_not_ours_left_empty": not_ours} if not_ours else {}),
                    **({"identical_rows_dropped": identical} if identical else {}),
                    **({"rows_merged_per_id": merged} if merged else {}),
                }
            )
        result = pd.concat(parts, ignore_index=True)
        for c in cols:
            if c not in result:
                result[c] = None
        result = result[cols]
        order = np.arange(len(result))
        if table == "milestones":
            order = _earliest_first(result)
            result = result.iloc[order].reset_index(drop=True)
        if table == "accounts":
            result["employee_band"] = _employee_bands(result["employee_band"], report, notes)
        if table == "opportunities":
            result, report["opportunity_accounts"] = _deal_accounts(result, out)
            # a CRM keeps an open deal's expected close date (HubSpot's Close Date): no close
            is_open = result["outcome"].astype("string").eq("open").fillna(False)
            expected = is_open & result["closed_at"].notna()
            if expected.any():
                result.loc[expected, "closed_at"] = None
                report["open_deals_close_dates_dropped"] = int(expected.sum())
                notes.append(
                    f"{int(expected.sum()):,} open deal(s) have a close date, read as the expected "
                    "close, not a close: left empty (the deal stays open)"
                )
            result["amount"] = _amounts(result["amount"], report, notes)
        if len(unparsed) > noted:  # a block passed dates it could not parse on as text
            for c in timestamp_columns(table):
                result[c] = result[c].map(_as_text)
        dated: dict[str, int] = {}
        if mapping.flat is not None:
            result, dated = _date_flat(result, table, mapping.flat.as_of, mapping_path)
        result.to_parquet(out / f"{table}.parquet", index=False)
        # where each row came from: ingest names the file's row beside a quarantined row
        (out / ROW_ORIGINS).mkdir(exist_ok=True)
        pd.concat(origins, ignore_index=True).iloc[order].to_parquet(
            out / ROW_ORIGINS / f"{table}.parquet", index=False
        )
        report["tables"][table] = {"rows": len(result), "from": per_block}
        if table == "milestones":
            report["tables"][table]["repeated_milestones_earliest_kept"] = int(
                (order != np.arange(len(order))).sum() // 2
            )
        if dated:
            report["tables"][table]["dated_by_flat_as_of"] = dated
        if table == "assets":
            report["tables"][table]["tagging"] = tag_log.hits
        if table == "events" and pages:
            _assets_from_events(pages, mapping, out, report, tag_log, mapping_path)
    tag_log.check(mapping, mapping_path)
    _accounts_dated_by_their_leads(mapping, out, report, notes)
    notes += _looks_current(mapping)
    report["unmatched_references"] = _check_reference_values(
        mapping, out, keys, mapping_path, notes
    )
    report["unparsed_dates"] = unparsed
    report["notes"] = notes
    # the CLI prints them as notes, and the report returns them: logged once more with -v only
    for note in [*unparsed, *notes]:
        log.debug("Mapping %s: %s", mapping_path, note)
    if "opportunities" in mapping.tables:
        opp = pd.read_parquet(out / "opportunities.parquet")
        if "amount" in opp and len(opp):
            amount = pd.to_numeric(opp["amount"], errors="coerce")
            report["zero_amount_opportunities"] = int((amount == 0).sum())
            report["blank_amount_opportunities"] = int(amount.isna().sum())
        report["lost_deals_without_closed_lost"] = _lost_deals_left_open(opp, out)
    if mapping.attributes:
        report["tables"][attributes.TABLE] = _import_attributes(
            mapping, files, folder, keys, mapping_path, out
        )
    if mapping.flat is not None:
        flat.write_flat(out, mapping.flat.as_of)
        report["flat_as_of"] = str(mapping.flat.as_of)
    report["key_namespaces"] = {k: len(v) for k, v in keys.maps.items()}
    # their ids next to ours, to join scores back to the CRM's records
    (out / "_keys").mkdir(exist_ok=True)
    for namespace, m in keys.maps.items():
        pd.DataFrame({"their_id": list(m), "our_id": list(m.values())}).to_parquet(
            out / "_keys" / f"{namespace}.parquet", index=False
        )
    if row_keys:  # ids numbered by row: the file's data row (1 = the first after the header)
        for table, frame in pd.concat(row_keys, ignore_index=True).groupby("table"):
            frame.drop(columns="table").to_parquet(
                out / "_keys" / f"{table}_rows.parquet", index=False
            )
    _write_crm_ids(mapping, keys, row_keys, out)
    (out / "_import.json").write_text(json.dumps(report, indent=2) + "\n")
    log.info(
        "import: %s -> %s (%s absent)",
        mapping.name,
        out,
        ", ".join(report["absent_tables"]) or "none",
    )
    return report


# a column named like a value that moves after the lead is created: a running count, a score,
# a current status or the latest of something (HubSpot's "Number of Pageviews", "HubSpot Score",
# "Lifecycle Stage", "Last Activity Date")
_CURRENT_VALUE_NAME = re.compile(
    r"(?i)\b(number of|num_|count|#|total|score|scoring|status|stage|lifecycle|last|latest|"
    r"recent|days since|times|rating|grade|priority|temperature)\b|_count\b|_score\b"
)


def _looks_current(mapping: Mapping) -> list[str]:
    """Notes on attributes declared known at creation whose column reads like a value the CRM
    keeps current (a counter, a score, a status): taken at export, such a value may reflect the
    outcome, and the leakage guard only catches the blatant ones (trial 8's page-view counter, a
    single-feature AUC of 0.88, passed it and lifted the test AUCs by up to 0.026)."""
    return [
        f"attributes.{name} (column '{rule.column}') is declared known at_creation, but its name "
        "reads like a value the CRM keeps current (a count, a score, a status, a latest date): "
        "if the export gives today's value, declare it `known: at_export` (left out of training "
        "unless accepted) or `history` with its change dates; as it is, its value after the "
        "outcome is trained on as if known before"
        for name, rule in mapping.attributes.items()
        if rule.known == "at_creation" and _CURRENT_VALUE_NAME.search(f"{name} {rule.column}")
    ]


def _write_crm_ids(mapping: Mapping, keys: _Keys, row_keys: list[pd.DataFrame], out: Path) -> None:
    """`_ids/leads.parquet` and `_ids/accounts.parquet`: each of our ids with the export's own
    (`crm_id`), which the scores carry so marketing can join them back to the CRM's records:
    their id for a keyed id column, the file and data row for ids numbered by row, and the id as
    written otherwise."""
    (out / CRM_IDS).mkdir(exist_ok=True)
    rows = pd.concat(row_keys, ignore_index=True) if row_keys else pd.DataFrame()
    for table in ("leads", "accounts"):
        id_column = KEYS[table][0]
        ours = pd.read_parquet(out / f"{table}.parquet", columns=[id_column])[id_column]
        ours = pd.to_numeric(ours, errors="coerce").dropna().astype("int64").drop_duplicates()
        crm = ours.astype("string")  # as written
        rules = [b.columns[id_column] for _, b in _blocks(mapping, table) if id_column in b.columns]
        if rules and rules[0].key is not None:
            theirs = keys.their_ids(rules[0].key)
            # every id of the namespace, also those no row of the table holds (a deal's contact
            # missing from the contacts file): ingest names the rows it quarantines by them
            ours = pd.Series(sorted({*ours.tolist(), *theirs}), dtype="int64")
            crm = ours.map(theirs).astype("string")
        elif rules and rules[0].row_number and len(rows):
            mine = rows[rows["table"] == table].drop_duplicates("our_id").set_index("our_id")
            crm = ours.map(mine["file"] + " row " + mine["row"].astype(str)).astype("string")
        pd.DataFrame({"our_id": ours.to_numpy(), "crm_id": crm.to_numpy()}).to_parquet(
            out / CRM_IDS / f"{table}.parquet", index=False
        )


def _check_reference_values(
    mapping: Mapping, out: Path, keys: _Keys, mapping_path: Path, notes: list[str]
) -> dict[str, int]:
    """Ids a column refers to that its table does not hold (an event's lead, a deal's primary
    lead), per keyed reference: counted and noted (ingest quarantines those rows); most of a
    column's ids unknown is an error, since the column then holds another identifier than the
    table's ids (an e-mail where the leads are keyed by Record ID) and every row would be lost."""
    from readiness.raw.ingest import REFERENCES

    unmatched: dict[str, int] = {}
    for table, pairs in REFERENCES.items():
        for column, ref in pairs:
            rules = [
                (w, b.columns[column]) for w, b in _blocks(mapping, table) if column in b.columns
            ]
            keyed = [(w, r) for w, r in rules if r.key is not None]
            if not keyed:
                continue
            ids = pd.read_parquet(out / f"{ref}.parquet", columns=[KEYS[ref][0]])[KEYS[ref][0]]
            if ids.empty:
                continue  # the table is not mapped: ingest says so
            values = pd.read_parquet(out / f"{table}.parquet", columns=[column])[column]
            values = pd.to_numeric(values, errors="coerce")
            missing = values.notna() & ~values.isin(pd.to_numeric(ids, errors="coerce"))
            if not missing.any():
                continue
            where, rule = keyed[0]
            # the blocks' rows are one table here: name every block that keys the column
            name = " / ".join(f"{w}.columns.{column}" for w, _ in keyed)
            unmatched[f"{table}.{column}"] = int(missing.sum())
            theirs = keys.their_ids(rule.key)
            examples = ", ".join(
                repr(theirs.get(int(v), v)) for v in pd.unique(values[missing])[:3]
            )
            article = "an" if ref[0] in "aeiou" else "a"
            # the table's own ids beside them: a prefix, a case or a format the two differ by
            # shows at a glance
            # (same namespace: a reference across namespaces was refused above)
            own_ids = pd.to_numeric(pd.Series(pd.unique(ids.dropna())[:2]), errors="coerce")
            own = ", ".join(
                repr(theirs.get(int(n), v) if pd.notna(n) else v)
                for v, n in zip(pd.unique(ids.dropna())[:2], own_ids, strict=True)
            )
            text = (
                f"{name}: {int(missing.sum()):,} of {int(values.notna().sum()):,} row(s) name "
                f"{article} {ref[:-1]} that {ref} lacks (key '{rule.key}', e.g. {examples}; "
                f"{ref}' own ids read e.g. {own})"
            )
            listed = [
                sep
                for sep in (";", ",", "|")
                if any(sep in str(theirs.get(int(v), "")) for v in pd.unique(values[missing])[:50])
            ]
            if listed and all(r.split is None for _, r in keyed):
                text += f"; some list several ids: `split: {listed[0]!r}` takes the first"
            if missing.sum() * 2 > values.notna().sum() and missing.sum() >= 10:
                raise ReadinessError(
                    f"Mapping {mapping_path}: {text}. Most of column '{rule.column}' holds other "
                    f"identifiers than the {ref}' ids: give it the column holding the {ref[:-1]}'s "
                    f"own id, or a `lookup` from this identifier to it (`lookup: {{file: ..., "
                    f"match: <the column holding it>, take: <the id column>}}`)."
                )
            notes.append(f"{text}: ingest quarantines those rows")
    return unmatched


def _earliest_first(ms: pd.DataFrame) -> np.ndarray:
    """Row order for the milestones table in which a milestone repeated for a lead (a deal
    file's rows, a stage history) comes first at its earliest date: ingest keeps the first row
    of a repeated (lead, milestone) and quarantines the rest, so the label's date no longer
    depends on how the export is sorted. Only the first and the earliest row of such a repeat
    trade places; every other row keeps its own."""
    order = np.arange(len(ms))
    key = ["lead_id", "milestone"]
    dup = ms.duplicated(key, keep=False).to_numpy()
    if not dup.any():
        return order
    when = pd.to_datetime(ms["occurred_at"], errors="coerce", format="ISO8601", utc=True)
    rows = pd.DataFrame(
        {
            "lead": ms["lead_id"].to_numpy()[dup],
            "milestone": ms["milestone"].to_numpy()[dup],
            "at": when.fillna(pd.Timestamp.max.tz_localize("UTC")).to_numpy()[dup],
            "pos": order[dup],
        }
    )
    rows = rows.sort_values(["at", "pos"], kind="stable")  # the earliest, ties by file order
    groups = rows.groupby(["lead", "milestone"], sort=False, dropna=False)["pos"]
    first, earliest = groups.min().to_numpy(), groups.first().to_numpy()
    order[first], order[earliest] = earliest, first
    return order


def _one_row_per_key(built: pd.DataFrame, table: str) -> pd.DataFrame:
    """A `distinct` block's rows, one per id: accounts read off a contacts file repeat a company
    on every contact's row, with that contact's date. Left distinct by every column, each
    repeat would be quarantined as a duplicate id, and a company whose first row had a bad date
    lost with all its leads. Per id: the earliest of each date, the first filled value of the
    rest; the row keeps its first file row."""
    key = KEYS[table]
    if len(key) != 1 or key[0] not in built or not built[key[0]].duplicated().any():
        return built
    groups = built.groupby(key[0], sort=False, dropna=False)
    merged = groups.first()  # the first filled value of each column
    for c in timestamp_columns(table):
        if c not in built:
            continue
        if pd.api.types.is_datetime64_any_dtype(built[c]):
            merged[c] = groups[c].min()
            continue
        # dates passed on as text (a few did not parse): the earliest that did, as text; an id
        # none of whose dates parsed keeps its first, for ingest to name
        when = pd.to_datetime(built[c], errors="coerce", format="ISO8601", utc=True)
        earliest = when.groupby(built[key[0]], sort=False, dropna=False).min()
        text = earliest.map(_as_text)
        merged[c] = np.where(text.notna().to_numpy(), text.to_numpy(), merged[c].to_numpy())
    merged = merged.reset_index()[list(built.columns)]
    merged.index = built.index[~built[key[0]].duplicated()]
    return merged


def _deal_accounts(opp: pd.DataFrame, out: Path) -> tuple[pd.DataFrame, dict]:
    """A deal without an account (a deals file that names only the contact) takes its primary
    lead's account; a deal whose account differs from its primary lead's is counted (kept as
    mapped: a contact may buy for another company, but usually it is a wrong key)."""
    leads = pd.read_parquet(out / "leads.parquet", columns=["lead_id", "account_id"])
    leads = leads.dropna(subset=["lead_id"]).drop_duplicates("lead_id")  # as ingest keeps them
    lead_ids = pd.to_numeric(leads["lead_id"], errors="coerce")
    account_of = pd.Series(leads["account_id"].to_numpy(), index=lead_ids.to_numpy())
    # ids that are no numbers (ingest quarantines those leads) or collide once read as numbers
    account_of = account_of[account_of.index.notna() & ~account_of.index.duplicated()]
    lead = pd.to_numeric(opp["primary_lead_id"], errors="coerce")
    theirs = lead.map(account_of)
    blank = opp["account_id"].isna() & theirs.notna()
    opp = opp.copy()
    if blank.any():
        filled = opp["account_id"].astype(object).where(~blank, theirs.astype(object))
        opp["account_id"] = filled.map(lambda v: None if pd.isna(v) else v)
    given = pd.to_numeric(opp["account_id"], errors="coerce")
    differs = given.notna() & theirs.notna() & (given != pd.to_numeric(theirs, errors="coerce"))
    return opp, {
        "from_primary_lead": int(blank.sum()),
        "differ_from_primary_lead": int(differs.sum()),
    }


def _lost_deals_left_open(opp: pd.DataFrame, out: Path) -> int:
    """Lost deals whose primary lead has no closed_lost milestone in the import: such a lead
    stays open (only its own closed milestone or its account's won deal closes it) and is
    routed as a lead with sales. Counted and warned, not guessed: the mapping decides."""
    if not len(opp) or "outcome" not in opp or "primary_lead_id" not in opp:
        return 0
    lost = opp[opp["outcome"].astype("string").str.lower() == "lost"]
    milestones = out / "milestones.parquet"
    closed = set()
    if milestones.exists():
        ms = pd.read_parquet(milestones, columns=["lead_id", "milestone"])
        closed = set(ms.loc[ms["milestone"].isin(["closed_lost", "closed_won"]), "lead_id"])
    left_open = lost["primary_lead_id"].notna() & ~lost["primary_lead_id"].isin(closed)
    n = int(left_open.sum())
    if n:
        log.warning(
            "import: %d lost deal(s) have a primary lead without a closed_lost milestone: those "
            "leads stay open and are routed as leads with sales. Map a closed_lost milestone from "
            "the deals file (a `value: closed_lost` block with `skip_rows_without` its lost rows' "
            "date) if a lost deal ends the lead",
            n,
        )
    return n


class _TagLog:
    """What the tagging rules did across the assets' sources: hits per rule, and which rules could
    see their column somewhere (a rule whose column no source has is a mistake in the mapping)."""

    def __init__(self) -> None:
        self.hits: dict[str, dict[str, int]] = {}
        self.seen: dict[str, bool] = {}
        self.sources: list[str] = []

    def count(self, target: str, counted: dict[str, int]) -> None:
        for rule, n in counted.items():
            self.hits.setdefault(target, {})[rule] = self.hits.get(target, {}).get(rule, 0) + n

    def check(self, mapping: Mapping, mapping_path: Path) -> None:
        rules = [t for t in tagging.TARGETS if getattr(mapping.tagging, t) is not None]
        if rules and not self.sources:
            raise ReadinessError(
                f"Mapping {mapping_path}: tagging gives rules for {', '.join(rules)}, but the "
                "mapping makes no asset to tag: map tables.assets, or events whose asset_id is a "
                "key on a page or URL column."
            )
        blind = [key for key, seen in self.seen.items() if not seen]
        if blind:
            columns = {
                key: getattr(mapping.tagging, key.split(".")[1])
                .rules[int(key.split("[")[1].rstrip("]"))]
                .column
                for key in blind
            }
            raise ReadinessError(
                f"Mapping {mapping_path}: "
                + "; ".join(f"{key} names column '{c}'" for key, c in columns.items())
                + " that no asset's source has ("
                + "; ".join(self.sources)
                + ")."
            )


def _tag(
    built: pd.DataFrame,
    frame: pd.DataFrame,
    mapping: Mapping,
    where: str,
    record: _TagLog,
) -> None:
    """Set the belief stage and audience the assets block leaves empty from the mapping's
    tagging rules (readiness/raw/tagging.py), or the untagged defaults; log each rule's hits."""
    lookup = frame.assign(**{c: built[c] for c in built.columns if c not in frame.columns})
    record.sources.append(f"{where} has {', '.join(lookup.columns)}")
    for target, fallback in tagging.DEFAULTS.items():
        tagset = getattr(mapping.tagging, target)
        current = (
            built[target].astype(object)
            if target in built
            else pd.Series(None, index=built.index, dtype=object)
        )
        unset = current.isna().to_numpy()
        if tagset is None:
            tags = pd.Series(fallback, index=built.index[unset], dtype=object)
            record.count(target, {f"untagged -> {fallback}": int(unset.sum())})
        else:
            tags, counted, absent = tagging.apply(tagset, lookup.loc[unset])
            record.count(target, counted)
            for i in range(len(tagset.rules)):
                key = f"tagging.{target}.rules[{i}]"
                record.seen[key] = record.seen.get(key, False) or i not in absent
        current.loc[unset] = tags.to_numpy()
        built[target] = current


# columns of an activity file that give a page's title, by their plain name (first found wins)
TITLE_COLUMNS = ("title", "page_title", "asset_title", "content_title", "page_name", "asset_name")


def _plain_name(column: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(column).strip().lower()).strip("_")


def _assets_from_events(
    pages: list[tuple[pd.DataFrame, pd.Series, ColumnRule, str, str]],
    mapping: Mapping,
    out: Path,
    report: dict,
    tag_log: _TagLog,
    mapping_path: Path,
) -> None:
    """Events that name a page or URL (asset_id from a key) the assets table lacks create their
    asset: its title is the event file's title column (`TITLE_COLUMNS`, by plain name: "Page
    Title" is page_title) or else the page's name, its tags come
    from the tagging rules (on the event file's columns; title and url are that name where the
    file has none)."""
    # events and assets number their ids alike (load_mapping's _check_references)
    assets = pd.read_parquet(out / "assets.parquet")
    known = set(pd.to_numeric(assets["asset_id"], errors="coerce").dropna().astype(int))
    created = []
    for source, ids, rule, where, file in pages:
        missing = ids.notna() & ~ids.isin(known)
        if not missing.any():
            continue
        first = ~ids[missing].duplicated()
        rows = source.loc[missing[missing].index[first.to_numpy()]].copy()
        name = rows[rule.column].astype(str).map(canonical_url)
        # the event file's own title (a column named like "Page Title") and URL, where it has them
        titled = {_plain_name(c): c for c in rows.columns}
        title = next((titled[t] for t in TITLE_COLUMNS if t in titled), None)
        if title is not None and title != "title":
            rows["title"] = rows[title]
        for column in ("title", "url"):
            rows[column] = rows[column].astype("string").fillna(name) if column in rows else name
        new = pd.DataFrame({"asset_id": ids[rows.index].astype("Int64"), "title": rows["title"]})
        _tag(new, rows, mapping, f"{where}.columns.asset_id (pages of {file})", tag_log)
        known |= set(new["asset_id"].astype(int))
        created.append(new)
    if not created:
        return
    new = pd.concat(created, ignore_index=True)
    for c in columns_of("assets"):
        if c not in new:
            new[c] = None
    new = new[list(columns_of("assets"))]
    if mapping.flat is not None:
        new, _ = _date_flat(new, "assets", mapping.flat.as_of, mapping_path)
    assets = pd.concat([assets, new], ignore_index=True) if len(assets) else new
    assets.to_parquet(out / "assets.parquet", index=False)
    entry = report["tables"].setdefault("assets", {})
    entry.pop("absent", None)
    entry.update(rows=len(assets), created_from_events=len(new), tagging=tag_log.hits)
    if "assets" in report["absent_tables"]:
        report["absent_tables"].remove("assets")


def _date_flat(
    result: pd.DataFrame, table: str, as_of: date, mapping_path: Path
) -> tuple[pd.DataFrame, dict[str, int]]:
    """A flat export's missing dates: outcomes (milestones, deals) on the as-of date, everything
    else the day before it. A date the export does carry must lie before the as-of date (an
    outcome's on or before it): the snapshot is taken there."""
    day = pd.Timestamp(as_of)
    dated = {}
    for c in timestamp_columns(table):
        outcome = c in flat.OUTCOME_COLUMNS.get(table, ())
        fill = day if outcome else day - pd.Timedelta(days=1)
        given = result[c]
        values = utc_times(given, "ISO8601")
        text = given.notna() & values.isna()  # a value its date_format did not parse: kept
        late = values.notna() & ((values > day) if outcome else (values >= day))
        if late.any():
            raise ReadinessError(
                f"Mapping {mapping_path}: flat.as_of is {as_of}, but {int(late.sum())} row(s) of "
                f"raw table '{table}' have {c} {'after' if outcome else 'on or after'} it (rows "
                f"{_rows(result.index[late])}): a flat export is a snapshot at its as-of date; "
                "move as_of after the export's last date."
            )
        empty = given.isna()
        if c == "closed_at":  # only a won or lost deal is closed
            empty &= result["outcome"].isin(["won", "lost"])
        if empty.any():
            values = values.where(~empty, fill)
            dated[c] = int(empty.sum())
        result[c] = _dates_with_text(values, given, text) if text.any() else values
    return result, dated


def _import_attributes(
    mapping: Mapping,
    files: dict[str, pd.DataFrame],
    folder: Path,
    keys: _Keys,
    mapping_path: Path,
    out: Path,
) -> dict:
    """The attributes table (long form) and its declarations from the mapping's `attributes`,
    with what was cleaned and warnings about values that look wrong (logged and reported)."""
    parts, per_attribute, origins = [], {}, []
    warnings: list[str] = []
    for name, rule in mapping.attributes.items():
        where = f"attributes.{name}"
        frame = files[rule.from_]
        file = str(folder / mapping.files[rule.from_])
        if rule.column not in frame.columns:
            raise ReadinessError(
                f"Mapping {mapping_path}: {where}.column names column '{rule.column}' that {file} "
                f"lacks {_has(frame, rule.column)}"
            )
        ids = _column(
            frame, rule.id, f"{where}.id", file, keys, mapping_path, files=files, notes=warnings
        )
        changed = (
            _column(frame, rule.changed_at, f"{where}.changed_at", file, keys, mapping_path)
            if rule.changed_at is not None
            else pd.Series(pd.NaT, index=frame.index)
        )
        values, changes, notes = attributes.clean_values(
            name, frame[rule.column], rule.type, rule.missing_values, rule.decimal
        )
        warnings.extend(notes)
        keep = values.notna() & (values != "") & ids.notna()
        part = pd.DataFrame(
            {
                "entity": rule.of,
                "entity_id": ids[keep],
                "attribute": name,
                "value": values[keep].astype(object),
                "changed_at": pd.to_datetime(changed[keep]),
            }
        )
        repeated = 0
        if rule.known != "history":  # one value per entity: the file may repeat an entity
            before = len(part)
            compared = part["value"]
            if rule.type == "numeric":  # a row whose value is a number before one whose is not
                compared = pd.to_numeric(part["value"], errors="coerce")  # 1200 is 1200.00
                number = compared.notna()
                part = part.loc[number.sort_values(ascending=False, kind="stable").index]
            conflicting = compared.groupby(part["entity_id"]).nunique() > 1
            # the first row, as ingest keeps a repeated id's first row and quarantines the rest
            part = part.drop_duplicates(["entity_id"], keep="first")
            repeated = before - len(part)
            if conflicting.any():
                warnings.append(
                    f"attribute '{name}': {int(conflicting.sum())} {rule.of}(s) appear more than "
                    f"once in {file} with different values; the first row's value is kept (for "
                    "a number, the first row that holds one), as ingest keeps the first row of a "
                    "repeated id"
                )
        parts.append(part)
        origins.append(
            pd.DataFrame({"file": mapping.files[rule.from_], "file_row": part.index + 1})
        )
        per_attribute[name] = {
            "rows": len(part),
            "empty_cells": int((~keep).sum()),
            "repeated_rows_dropped": repeated,
            **{k: v for k, v in changes.items() if v},
        }
    table = pd.concat(parts, ignore_index=True) if parts else attributes.empty_table()
    table.to_parquet(out / f"{attributes.TABLE}.parquet", index=False)
    if origins:
        (out / ROW_ORIGINS).mkdir(exist_ok=True)
        pd.concat(origins, ignore_index=True).to_parquet(
            out / ROW_ORIGINS / f"{attributes.TABLE}.parquet", index=False
        )
    attributes.write_declarations(
        out,
        {
            name: attributes.AttributeSpec(
                of=r.of, type=r.type, known=r.known, description=r.description
            )
            for name, r in mapping.attributes.items()
        },
    )
    for w in warnings:  # the CLI prints them as notes: logged once more with -v only
        log.debug("import: %s", w)
    return {"rows": len(table), "attributes": per_attribute, "warnings": warnings}
