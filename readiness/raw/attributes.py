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
        parsed = pd.to_datetime(s.where(~empty), errors="coerce", utc=True).dt.tz_localize(None)
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


# a number as a CRM formats it: a currency sign or code, thousands separated by commas (or
# spaces), a trailing percent sign; "(1,234)" is an accountant's negative
_FORMATTED_NUMBER = re.compile(
    r"^(?P<open>\()?\s*(?P<sign>[+-])?\s*(?:[$€£¥]|USD|EUR|GBP|CAD|AUD)?\s*"
    r"(?P<digits>\d{1,3}(?:[, ]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"\s*(?:[$€£¥]|USD|EUR|GBP|CAD|AUD)?\s*(?P<percent>%)?\s*(?P<close>\))?$",
    re.IGNORECASE,
)


def plain_number(text: str, decimal: str = ".") -> str | None:
    """A formatted number's plain text ("$26,541,386" -> "26541386", "1,078" -> "1078",
    "(1,200)" -> "-1200", "12.5 %" -> "12.5": a percentage keeps its scale), or None when the
    text is no such number. Decimal commas ("1.234,5") are not guessed: they stay unparsed,
    unless `decimal` is "," (the mapping's attributes.<name>.decimal), when "€3.676.725,16" is
    3676725.16 and "1.078" is 1078."""
    if decimal == ",":
        text = text.translate(str.maketrans(",.", ".,"))
    m = _FORMATTED_NUMBER.match(text.strip())
    if m is None or bool(m["open"]) != bool(m["close"]):
        return None
    digits = m["digits"].replace(",", "").replace(" ", "")
    negative = (m["sign"] == "-") != bool(m["open"])
    return ("-" if negative else "") + digits


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
        # formatted numbers ("$26,541,386", "1,078") read as numbers, not as unparseable text
        # that ingest would quarantine (leaving the big values unknown)
        plain = pd.to_numeric(present, errors="coerce")
        # with decimal commas every value is read as written ("1.234" is 1234, not 1.234)
        formatted = present if decimal == "," else present[plain.isna()]
        rewritten = formatted.map(lambda t: plain_number(t, decimal)).dropna()
        rewritten = rewritten[rewritten != formatted[rewritten.index]]
        if len(rewritten):
            s = s.copy()
            s.loc[rewritten.index] = rewritten.astype("string")
            changes["numbers_unformatted"] = int(len(rewritten))
            shown = ", ".join(
                f"{a!r} -> {b}"
                for a, b in list(
                    dict(zip(formatted[rewritten.index], rewritten, strict=True)).items()
                )[:3]
            )
            warnings.append(
                f"attribute '{name}': {len(rewritten)} formatted number(s) read without their "
                f"currency sign, thousands separators or percent sign ({shown})"
            )
            if decimal == ",":
                # '$767,315' is 767.315 with decimal commas, but 767315 if the column mixes in
                # thousands commas: read as the mapping says, and said
                ambiguous = formatted[rewritten.index][
                    formatted[rewritten.index].str.fullmatch(r"[^\d.,]*\d{1,3},\d{3}[^\d.,]*")
                ]
                if len(ambiguous):
                    changes["ambiguous_decimal_commas"] = int(len(ambiguous))
                    warnings.append(
                        f"attribute '{name}': {len(ambiguous)} value(s) such as "
                        f"{ambiguous.iloc[0]!r} are read with a decimal comma "
                        f"({rewritten[ambiguous.index[0]]}) as decimal: ',' says; if the column "
                        "also writes thousands with commas, these are 1000 times too small"
                    )
            present = s.dropna()
            present = present[present != ""]
        still = present[pd.to_numeric(present, errors="coerce").isna()]
        if len(still):
            changes["not_numbers"] = int(len(still))
            examples = ", ".join(repr(v) for v in pd.unique(still)[:5])
            hint = (
                f"Declare it categorical, or list the values in attributes.{name}.missing_values"
                if decimal == ","
                else f"Declare it categorical, list the values in attributes.{name}."
                f"missing_values, or, if the export writes decimal commas (1.234,5), set "
                f"attributes.{name}.decimal: ','"
            )
            warnings.append(
                f"attribute '{name}' is declared numeric, but {len(still)} value(s) are not "
                f"numbers ({examples}): ingest quarantines them and the leads' value is unknown, "
                f"unless another row of the lead or account has one. {hint}"
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
