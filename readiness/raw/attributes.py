"""The user's own columns: custom attributes of leads and accounts, declared in the mapping.

An optional raw table `attributes` holds their values in long form, one row per (entity,
entity_id, attribute, changed_at):

    entity       lead | account
    entity_id    the lead's or account's id
    attribute    the declared name
    value        the value as text (parsed by the declared type at ingest)
    changed_at   when the value took effect; empty for values known at creation or at export

Beside it, `attributes.json` declares each attribute: whose it is (`of`), its `type` (numeric,
categorical, boolean, date), when it is `known` and a plain-language `description`:

- `at_creation`: fixed when the lead or account was created (lead source, first landing page):
  usable at every cutoff;
- `history`: dated changes (changed_at filled): the value as of a cutoff is the last change
  strictly before it, like events;
- `at_export`: the current value only (a status, a visit counter), which may have changed after
  the outcome: never used for training unless params accept the risk by name.

Ingest parses every value by its type and quarantines, with the reason, a value that does not
parse, a row of an undeclared attribute, a row whose lead or account was not accepted, and a dated
change before its entity was created.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series
from pydantic import BaseModel, ConfigDict, ValidationError

from readiness.errors import ReadinessError
from readiness.raw.schemas import utc_times

TABLE = "attributes"
DECLARATIONS = "attributes.json"
ENTITIES = ("lead", "account")
TYPES = ("numeric", "categorical", "boolean", "date")
KNOWN = ("at_creation", "history", "at_export")
_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}


class AttributeSpec(BaseModel):
    """One declared attribute."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    of: Literal["lead", "account"]
    type: Literal["numeric", "categorical", "boolean", "date"]
    known: Literal["at_creation", "history", "at_export"]
    description: str


class AttributesSchema(pa.DataFrameModel):
    """The raw `attributes` table (structure; values are checked against their declarations)."""

    entity: Series[str] = pa.Field(isin=ENTITIES)
    entity_id: Series[int] = pa.Field()
    attribute: Series[str] = pa.Field()
    value: Series[str] = pa.Field(nullable=True)
    changed_at: Series[pd.Timestamp] = pa.Field(nullable=True)

    class Config:
        coerce = True
        strict = "filter"


COLUMNS = tuple(AttributesSchema.to_schema().columns)


def empty_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "entity": pd.Series(dtype=object),
            "entity_id": pd.Series(dtype="int64"),
            "attribute": pd.Series(dtype=object),
            "value": pd.Series(dtype=object),
            "changed_at": pd.Series(dtype="datetime64[ns]"),
        }
    )


def read_declarations(folder: Path) -> dict[str, AttributeSpec]:
    """The attributes declared beside the tables in `folder` ({} when none are)."""
    path = folder / DECLARATIONS
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {name: AttributeSpec(**spec) for name, spec in raw["attributes"].items()}
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise ReadinessError(
            f"{path} does not declare attributes as {{'attributes': {{name: {{of, type, known, "
            f"description}}}}}}: {' '.join(str(exc).split())[:300]}"
        ) from exc


def write_declarations(folder: Path, specs: dict[str, AttributeSpec]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"attributes": {n: s.model_dump() for n, s in specs.items()}}
    (folder / DECLARATIONS).write_text(json.dumps(payload, indent=2) + "\n")


def parse_values(spec: AttributeSpec, text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(parsed values, which rows do not parse) for one attribute's text values; an empty value
    parses to missing. Numbers must be finite; booleans are true/false, yes/no, 1/0; dates any
    ISO-like date."""
    s = text.astype("string").str.strip()
    empty = s.isna() | (s == "")
    if spec.type == "numeric":
        parsed = pd.to_numeric(s.where(~empty), errors="coerce").astype(float)
        bad = ~empty & (parsed.isna() | ~np.isfinite(parsed.fillna(0.0)))
        return parsed.where(~bad), bad
    if spec.type == "boolean":
        low = s.str.lower()
        parsed = pd.Series(np.nan, index=s.index)
        parsed[low.isin(_TRUE).fillna(False).to_numpy()] = 1.0
        parsed[low.isin(_FALSE).fillna(False).to_numpy()] = 0.0
        return parsed, ~empty & parsed.isna()
    if spec.type == "date":
        parsed = utc_times(s.where(~empty))
        return parsed, ~empty & parsed.isna()
    return s.where(~empty).astype(object), pd.Series(False, index=s.index)


# values a form or a CRM writes when nobody filled the field in
PLACEHOLDERS = frozenset(
    {
        "select",
        "please select",
        "-- select --",
        "n/a",
        "na",
        "null",
        "none",
        "nan",
        "-",
        "--",
        "?",
        "(blank)",
        "not provided",
        "not specified",
        "not available",
        "#n/a",
    }
)


# a number as a CRM formats it: a currency sign or code, thousands grouped by commas, points,
# spaces or apostrophes, a decimal point or comma, a trailing percent sign; "(1,234)" is an
# accountant's negative; a leading apostrophe is Excel's text marker
_CURRENCY = r"(?:[$€£¥]|USD|EUR|GBP|CAD|AUD|CHF)"
_FORMATTED_NUMBER = re.compile(
    rf"^'?(?P<open>\()?\s*(?P<sign>[+-])?\s*{_CURRENCY}?\s*"
    r"(?P<body>[.,]?\d(?:[\d.,' \u00a0\u202f]*\d)?)"
    rf"\s*{_CURRENCY}?\s*(?P<percent>%)?\s*(?P<close>\))?$",
    re.IGNORECASE,
)
_GROUPING = " '\u00a0\u202f"


def _as_plain(body: str, point: str) -> str | None:
    """`body` (digits and separators) read with `point` as its decimal separator and the other
    of "." and "," (or a space or apostrophe) grouping thousands in threes; None when it cannot
    be written so."""
    group = "," if point == "." else "."
    if body.count(point) > 1:
        return None
    whole, _, fraction = body.partition(point)
    if point in body and not fraction.isdigit():
        return None
    groups = re.split(f"[{re.escape(group + _GROUPING)}]", whole) if whole else [""]
    # thousands never start with a 0 ("0,001" is no 1)
    if len(groups) > 1 and not (
        1 <= len(groups[0]) <= 3
        and groups[0].isdigit()
        and not groups[0].startswith("0")
        and all(len(g) == 3 and g.isdigit() for g in groups[1:])
    ):
        return None
    if whole and not groups[0].isdigit():
        return None
    return "".join(groups) + (f".{fraction}" if fraction else "")


def number_readings(text: str) -> tuple[str | None, str | None]:
    """A formatted number's plain text read with a decimal point and read with a decimal comma
    (None where it cannot be written so): "1.234,5" -> (None, "1234.5"), "$26,541,386" ->
    ("26541386", None), "12.5 %" -> ("12.5", None) (a percentage keeps its scale; a lone
    separator followed by other than three digits is a decimal one), "1,078" -> ("1078",
    "1.078") (either), "(1,200)" -> ("-1200", "-1.200"), "1 200" -> ("1200", "1200")."""
    m = _FORMATTED_NUMBER.match(text.strip())
    if m is None or bool(m["open"]) != bool(m["close"]):
        return None, None
    negative = (m["sign"] == "-") != bool(m["open"])
    out = []
    for point in (".", ","):
        plain = _as_plain(m["body"], point)
        out.append(None if plain is None else ("-" if negative else "") + plain)
    return out[0], out[1]


def plain_number(text: str, decimal: str = ".") -> str | None:
    """A formatted number's plain text, or None when the text is no number: read by its own
    separators where only one reading exists ("1.234,5" -> "1234.5", "12,5" -> "12.5",
    "$26,541,386" -> "26541386"), and with `decimal` (the mapping's attributes.<name>.decimal)
    as the decimal separator where either could have written it ("1,078" -> "1078", or "1.078"
    with ",")."""
    point, comma = number_readings(text)
    if point is None or comma is None:
        return point or comma
    return comma if decimal == "," else point


# a range or a bound of a number as a form offers it: "51-200", "1.001 - 5.000", "10 to 50",
# "10,000+", "> 500", "<10", "up to 10"
_RANGE = re.compile(
    r"^(?P<low>[^-–—]*\d)\s*(?:-|–|—|to|bis)\s*(?P<high>[^-–—]*\d[^-–—]*)$", re.IGNORECASE
)
AT_LEAST = re.compile(
    r"^(?:(?:>=?|≥|over|more than|above|at least|über|ab)\s*(?P<a>.*\d)|(?P<b>.*\d)\s*\+)$",
    re.IGNORECASE,
)
_BELOW = re.compile(r"^(?:<=?|≤|under|less than|below|up to|unter)\s*(?P<a>.*\d)$", re.IGNORECASE)


def _range_value(text: str) -> float | None:
    """A range's midpoint ("51-200" -> 125.5), an open upper range's bound ("10,000+" ->
    10000), a bound below's half ("<10" -> 5: the middle of 0 to 10), so bands order with the
    exact numbers; None for any other text. Both ends are read in one convention, the one in
    which both are whole numbers where there is such ("1.001-5.000" and "1,001-5,000" are both
    1001 to 5000: bands are counts), else the one that reads both ("2.5-3.125")."""

    def read(*parts: str) -> list[float] | None:
        readings = [number_readings(part.strip()) for part in parts]
        # per convention (point, comma): every end's reading, when every end has one
        both: list[list[str]] = []
        for i in (0, 1):
            ends = [r[i] for r in readings]
            if all(e is not None and not e.startswith("-") for e in ends):
                both.append([str(e) for e in ends])
        whole = [ends for ends in both if not any("." in e for e in ends)]
        chosen = (whole or both)[0] if both else None
        return None if chosen is None else [float(e) for e in chosen]

    t = text.strip()
    if m := _RANGE.match(t):
        ends = read(m["low"], m["high"])
        return (ends[0] + ends[1]) / 2 if ends is not None and ends[0] <= ends[1] else None
    if m := AT_LEAST.match(t):
        ends = read(m["a"] or m["b"])
        return None if ends is None else ends[0]
    if m := _BELOW.match(t):
        ends = read(m["a"])
        return None if ends is None else ends[0] / 2
    return None


def fold(text: object) -> str:
    """A value as spellings compare it: case, runs of spaces and underscores for spaces do not
    matter (`PAID_SEARCH` is `paid search`; the value maps of the mapping and the merging of an
    attribute's spellings alike)."""
    return " ".join(str(text).replace("_", " ").split()).casefold()


def clean_values(
    name: str, values: pd.Series, kind: str, missing: list[str], decimal: str = "."
) -> tuple[pd.Series, dict, list[str]]:
    """One attribute column's text values as the import keeps them, what was changed, and
    warnings for what looks wrong but is kept (the user decides).

    - a value the mapping lists in `missing_values` (a form's "Select", a 999 code) becomes
      empty: unknown, not a category or a number;
    - categorical values that differ only in case or spacing ("google", "Google ") are one value,
      spelt as most rows spell it;
    - warned, not changed: a categorical value that looks like an unfilled placeholder, and a
      numeric value that looks like a code (999, -1 on many rows, far outside the rest)."""
    s = values.astype("string").str.strip()
    declared = s.isin([str(m).strip() for m in missing]).fillna(False)
    s = s.where(~declared)
    changes: dict = {"missing_values_cleared": int(declared.sum())}
    warnings: list[str] = []
    present = s.dropna()
    present = present[present != ""]
    if kind == "categorical" and len(present):
        # each distinct value once, most rows first (ties: first seen first)
        counts = present.value_counts().reindex(pd.unique(present))
        counts = counts.sort_values(ascending=False, kind="stable")
        key = pd.Series(counts.index, index=counts.index).map(fold)
        shared = key.duplicated(keep=False).to_numpy()
        spelling: dict[str, str] = {}
        for _, variants in key[shared].groupby(key[shared].to_numpy(), sort=False):
            for v in variants.index[1:]:  # the first is the most common spelling
                spelling[str(v)] = str(variants.index[0])
        if spelling:
            s = s.map(lambda v: spelling.get(v, v) if isinstance(v, str) else v).astype("string")
            changes["merged_spellings"] = dict(sorted(spelling.items())[:20])
            changes["merged_cells"] = int(present.isin(list(spelling)).sum())
            shown = ", ".join(f"{a!r} -> {b!r}" for a, b in sorted(spelling.items())[:5])
            warnings.append(
                f"attribute '{name}': {changes['merged_cells']} value(s) differ from another only "
                f"in case, spacing or underscores and were merged ({shown}{', ...' if len(spelling) > 5 else ''})"
            )
        low = present.str.casefold()
        for value in sorted(set(present[low.isin(PLACEHOLDERS)])):
            n = int((present == value).sum())
            warnings.append(
                f"attribute '{name}': {value!r} on {n} row(s) ({n / len(values):.0%}) looks like "
                f"an unfilled placeholder; it is kept as a category of its own. If it means "
                f"unknown, add it to attributes.{name}.missing_values in the mapping"
            )
    if kind == "numeric" and len(present):
        s, present = read_numbers(
            f"attribute '{name}'", s, present, decimal, changes, warnings, f"attributes.{name}"
        )
        still = present[pd.to_numeric(present, errors="coerce").isna()]
        if len(still):
            changes["not_numbers"] = int(len(still))
            examples = ", ".join(repr(v) for v in pd.unique(still)[:5])
            warnings.append(
                f"attribute '{name}' is declared numeric, but {len(still)} value(s) are not "
                f"numbers ({examples}): ingest quarantines them and the leads' value is unknown, "
                f"unless another row of the lead or account has one. Declare it categorical, or "
                f"list the values in attributes.{name}.missing_values"
            )
        num = pd.to_numeric(present, errors="coerce").dropna()
        if len(num) >= 20:
            share = num.value_counts(normalize=True)
            for v, frac in share[share >= 0.05].items():  # at most 20 values: the common ones
                rest = num[num != v]
                if not len(rest):
                    continue
                spread = max(float(rest.quantile(0.75) - rest.quantile(0.25)), 1.0)
                nines = abs(v) >= 99 and set(str(int(abs(v)))) == {"9"} and float(v).is_integer()
                far = v > rest.max() + 10 * spread or v < rest.min() - 10 * spread
                if nines or far or (v == -1 and rest.min() >= 0):
                    warnings.append(
                        f"attribute '{name}': {v:g} on {int(frac * len(num))} row(s) "
                        f"({frac:.0%}) looks like a code (never, unknown), not a quantity: the "
                        f"rest lie in [{rest.min():g}, {rest.max():g}]. It is read as a number; "
                        f"if it is a code, add '{v:g}' to attributes.{name}.missing_values in "
                        f"the mapping (the regressions then see it as its own 'unknown')"
                    )
    return s, changes, warnings


def read_numbers(
    label: str,
    s: pd.Series,
    present: pd.Series,
    decimal: str,
    changes: dict,
    warnings: list[str],
    setting: str | None = None,
    ranges: bool = True,
) -> tuple[pd.Series, pd.Series]:
    """A numeric column's text values as plain numbers (`s`, and its non-empty values), what was
    changed recorded in `changes` and said in `warnings` (each starting with `label`, e.g.
    "attribute 'revenue'"; `setting`, e.g. "attributes.revenue", is where its decimal is set):

    - formatted numbers ("$26,541,386", "1.234,5", "'1078") are read by their own separators;
      one that either convention could have written ("1,078", "1.078") is read with a decimal
      comma when `decimal` is "," or most values readable one way only are written so, else
      with a point; said when read with a comma or when the column mixes both conventions;
    - with `ranges`, ranges and bounds ("51-200", "10,000+", "<10") are read as their midpoint
      (a bound: itself, or half the bound below), so bands order with the exact numbers, and
      said;
    - what is still no number is left as it is (for ingest to quarantine)."""
    readings = {t: number_readings(t) for t in pd.unique(present)}
    only_point = [t for t, (p, c) in readings.items() if p is not None and c is None]
    only_comma = [t for t, (p, c) in readings.items() if c is not None and p is None]
    either = [t for t, (p, c) in readings.items() if p is not None and c is not None and p != c]
    weight = present.value_counts()
    n_point, n_comma = int(weight[only_point].sum()), int(weight[only_comma].sum())
    comma = decimal == "," or n_comma > n_point
    plain = {t: plain_number(t, "," if comma else ".") for t in readings}
    # no value shows the column's decimal separator ("1.078", "12.000", "500": a German count
    # or amount without cents): one either convention could write is a whole number, as a
    # count or an amount is, not 1000 times smaller
    guessed = either if decimal != "," and not n_point and not n_comma else []
    for t in guessed:
        plain[t] = next(r for r in readings[t] if r is not None and "." not in r)
    formatted = {t: v for t, v in plain.items() if v is not None and v != t}
    midpoints = {t: _range_value(t) for t, v in plain.items() if v is None and ranges}
    bands = {
        t: np.format_float_positional(v, trim="-") for t, v in midpoints.items() if v is not None
    }

    def rows_and_examples(rewrites: dict[str, str]) -> tuple[int, str]:
        """How many values `rewrites` changes, and the first three changes as text."""
        shown = ", ".join(f"{a!r} -> {b}" for a, b in list(rewrites.items())[:3])
        return int(weight[list(rewrites)].sum()), shown

    if formatted:
        changes["numbers_unformatted"], shown = rows_and_examples(formatted)
        warnings.append(
            f"{label}: {changes['numbers_unformatted']} formatted number(s) read "
            f"without their currency sign, thousands separators or percent sign ({shown})"
        )
    rewritten = formatted | bands
    if rewritten:
        s = s.map(lambda v: rewritten.get(v, v) if isinstance(v, str) else v).astype("string")
    if n_point and n_comma:
        changes["mixed_decimal_conventions"] = {"point": n_point, "comma": n_comma}
        warnings.append(
            f"{label} mixes decimal points ({n_point} value(s) such as "
            f"{only_point[0]!r}) and decimal commas ({n_comma}, such as {only_comma[0]!r}): each "
            "is read by its own separators"
        )
    elif comma and decimal != ",":
        warnings.append(
            f"{label} is read with decimal commas, as {n_comma} value(s) such as "
            f"{only_comma[0]!r} can only be read so"
            + (f"; set {setting}.decimal: ',' to say so" if setting else "")
        )
    if guessed:
        changes["ambiguous_read_as_whole_numbers"] = int(weight[guessed].sum())
        warnings.append(
            f"{label}: {changes['ambiguous_read_as_whole_numbers']} value(s) such as "
            f"{guessed[0]!r} could be written with either convention, and no value shows the "
            f"decimal separator: read as whole numbers ({plain[guessed[0]]}), the separator as "
            "thousands"
            + (
                f"; if they are decimals, set {setting}.decimal"
                if setting
                else "; if they are decimals, they are 1000 times off"
            )
        )
    # said where a comma reads them, or where the column mixes both conventions
    ambiguous = either if comma or (n_point and n_comma) else []
    if ambiguous:
        n = int(weight[ambiguous].sum())
        changes["ambiguous_decimal_commas" if comma else "ambiguous_decimal_points"] = n
        warnings.append(
            f"{label}: {n} value(s) such as {ambiguous[0]!r} could be written with "
            f"either convention; read with a decimal {'comma' if comma else 'point'} "
            f"({plain[ambiguous[0]]}), as "
            + (f"{setting}.decimal says" if decimal == "," else "most of the column is")
            + "; if that is wrong, they are 1000 times off"
        )
    if bands:
        changes["ranges_read_as_midpoints"], shown = rows_and_examples(bands)
        warnings.append(
            f"{label}: {changes['ranges_read_as_midpoints']} value(s) are ranges or "
            f"bounds ({shown}): a range is read as its midpoint, '10,000+' as 10000 and '<10' as "
            "5, so bands order with the exact numbers. If the bands matter as such, declare it "
            "categorical"
        )
    present = s.dropna()
    return s, present[present != ""]


def _problem(problems: dict[int, list[str]], rows: np.ndarray, reason: str) -> None:
    for r in rows:
        problems.setdefault(int(r), []).append(reason)


def validate_attributes(
    df: pd.DataFrame,
    specs: dict[str, AttributeSpec],
    *,
    created: dict[str, pd.Series],
    max_timestamp: pd.Timestamp,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accepted, quarantined) rows of the attributes table. `created` maps entity -> its accepted
    ids' creation times (a Series indexed by id). Quarantined rows keep their 1-based source row
    and every reason."""
    problems: dict[int, list[str]] = {}
    src = df.reset_index(drop=True)
    try:
        typed = AttributesSchema.validate(src, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        rowwise = fc[fc["index"].notna()]
        if len(rowwise) < len(fc):
            missing = fc[fc["index"].isna()]
            raise ReadinessError(
                "The attributes table breaks its contract: "
                + "; ".join(
                    f"{c}: {k}" for c, k in zip(missing["column"], missing["check"], strict=True)
                )
                + f" (columns: {', '.join(COLUMNS)})."
            ) from exc
        for _, f in rowwise.iterrows():
            _problem(
                problems,
                np.array([f["index"]]),
                f"{f['column']}: {f['check']} (value {f['failure_case']!r})",
            )
        ok = ~src.index.isin(list(problems))
        typed = AttributesSchema.validate(src[ok])
    undeclared = ~typed["attribute"].isin(list(specs))
    _problem(
        problems,
        typed.index[undeclared.to_numpy()],
        "attribute: not declared in the mapping's attributes",
    )
    for name, spec in specs.items():
        rows = typed["attribute"] == name
        if not rows.any():
            continue
        part = typed[rows]
        wrong_entity = part["entity"] != spec.of
        _problem(
            problems,
            part.index[wrong_entity.to_numpy()],
            f"entity: '{name}' is an attribute of a {spec.of}",
        )
        _, bad = parse_values(spec, part["value"])
        _problem(
            problems, part.index[bad.to_numpy()], f"value: not a {spec.type} value for '{name}'"
        )
        dated = part["changed_at"].notna()
        if spec.known == "history":
            _problem(
                problems,
                part.index[(~dated).to_numpy()],
                f"changed_at: '{name}' is a history attribute; its changes need a date",
            )
        else:
            _problem(
                problems,
                part.index[dated.to_numpy()],
                f"changed_at: '{name}' is known {spec.known}; it takes no dated changes",
            )
    for entity in ENTITIES:
        rows = typed["entity"] == entity
        ids = typed.loc[rows, "entity_id"]
        known = ids.isin(created[entity].index)
        _problem(
            problems,
            ids.index[(~known).to_numpy()],
            f"entity_id: not among the accepted {entity}s (value {{}})",
        )
        when = typed.loc[rows & typed["changed_at"].notna()]
        if len(when):
            born = when["entity_id"].map(created[entity])
            early = born.notna() & (when["changed_at"] < born)
            _problem(
                problems,
                when.index[early.to_numpy()],
                f"changed_at: before its {entity} was created",
            )
    future = typed["changed_at"].notna() & (typed["changed_at"] > max_timestamp)
    _problem(problems, typed.index[future.to_numpy()], "changed_at: in the future")
    key = ["entity", "entity_id", "attribute", "changed_at"]
    dup = typed.duplicated(key, keep="first")
    _problem(
        problems,
        typed.index[dup.to_numpy()],
        "duplicate (entity, entity_id, attribute, changed_at)",
    )
    bad_rows = sorted(problems)
    for r in bad_rows:  # name the offending id in the reference reason
        problems[r] = [p.replace("{}", repr(str(src.loc[r, "entity_id"]))) for p in problems[r]]
    quarantined = (
        src.loc[bad_rows]
        .astype(str)
        .assign(
            source_row=[r + 1 for r in bad_rows],
            reasons=["; ".join(problems[r]) for r in bad_rows],
        )
    )
    accepted = typed.drop(index=[r for r in bad_rows if r in typed.index])
    accepted = accepted.assign(value=accepted["value"].astype(object)).reset_index(drop=True)
    return accepted[list(COLUMNS)], quarantined
