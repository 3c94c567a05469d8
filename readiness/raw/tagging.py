"""Belief tags for a user's own content: rules in the mapping, coverage at ingest, usage lists.

A real export's web pages, PDFs and webinars carry no belief stage or audience. The mapping's
`tagging` section derives them from the asset's title, URL or any column of the file it comes
from (a category, a content type), one rule set per tag:

    tagging:
      belief_stage:
        rules:                                      # the first rule that matches wins
          - {column: title, keywords: [pricing, "cost of"], value: urgency}
          - {column: url, pattern: "/case-stud(y|ies)/", value: capability}
          - {column: content_type, values: {Webinar: category, "ROI calculator": alignment}}
        default: general                            # explicit: what no rule matches
      audience:
        rules: [{column: title, keywords: [CFO, budget], value: finance}]
        default: any

`keywords` match case-insensitively anywhere in the text, `pattern` is a regular expression
(searched, case-insensitive), `values` maps whole values (trimmed, case-insensitive); a value the
map does not name falls through to the next rule. A column is looked up in the asset's source file
first, then among the asset's own columns (`title`); for an asset created from events (an event
naming a page or URL the assets table lacks), the columns are those of the event's file (its
first event naming the page), and `title` and `url` are the page's name where that file has no
such column. Tags the assets block sets itself win over the rules.

At ingest, `coverage` reports the share of consumed events whose asset carries a belief tag (not
`general`), per belief; `readiness assets` lists assets with their tags and consumption
(`--untagged`: the most-consumed untagged ones, to tag first).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, model_validator

from readiness.domain import AUDIENCES, BELIEF_STAGES, BELIEFS

UNTAGGED = "general"
TARGETS: dict[str, tuple[str, ...]] = {"belief_stage": BELIEF_STAGES, "audience": AUDIENCES}
# what an asset gets when neither its block nor a rule sets the tag
DEFAULTS = {"belief_stage": UNTAGGED, "audience": "any"}


class TagRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: str
    keywords: list[str] | None = None
    pattern: str | None = None
    values: dict[str, str] | None = None
    value: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> TagRule:
        kinds = [self.keywords is not None, self.pattern is not None, self.values is not None]
        if sum(kinds) != 1:
            raise ValueError("give exactly one of: keywords, pattern, values")
        if (self.values is None) != (self.value is not None):
            raise ValueError(
                "keywords and pattern need `value` (the tag they set); values maps do not"
            )
        if self.keywords is not None and not [k for k in self.keywords if k.strip()]:
            raise ValueError("keywords is empty")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(
                    f"pattern {self.pattern!r} is not a regular expression: {exc}"
                ) from exc
        return self

    def describe(self) -> str:
        if self.keywords is not None:
            return f"{self.column} contains {' / '.join(self.keywords)} -> {self.value}"
        if self.pattern is not None:
            return f"{self.column} matches /{self.pattern}/ -> {self.value}"
        return f"{self.column} value map ({len(self.values or {})} values)"

    def tags(self) -> list[str]:
        return list((self.values or {}).values()) if self.values is not None else [str(self.value)]


class TagSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[TagRule] = []
    default: str


class Tagging(BaseModel):
    model_config = ConfigDict(extra="forbid")

    belief_stage: TagSet | None = None
    audience: TagSet | None = None

    def problems(self) -> list[str]:
        """Tags that are not allowed values, as 'key: message' (checked when the mapping loads)."""
        out = []
        for target, allowed in TARGETS.items():
            tagset: TagSet | None = getattr(self, target)
            if tagset is None:
                continue
            bad = (
                [(f"tagging.{target}.default", tagset.default)]
                if tagset.default not in allowed
                else []
            )
            for i, rule in enumerate(tagset.rules):
                bad += [
                    (f"tagging.{target}.rules[{i}]", t) for t in rule.tags() if t not in allowed
                ]
            out += [f"{key}: {tag!r} is not a {target} ({', '.join(allowed)})" for key, tag in bad]
        return out


def apply(tagset: TagSet, frame: pd.DataFrame) -> tuple[pd.Series, dict[str, int], set[int]]:
    """Each row's tag from the first matching rule (the default where none matches), how many
    rows each rule tagged, and the rules whose column `frame` lacks (they match nothing here:
    assets from a pages file and from an event log have different columns)."""
    tag = pd.Series(pd.NA, index=frame.index, dtype="string")
    hits: dict[str, int] = {}
    absent: set[int] = set()
    for i, rule in enumerate(tagset.rules):
        if rule.column not in frame.columns:
            absent.add(i)
            continue
        text = frame[rule.column].astype("string")
        if rule.values is not None:
            lowered = {str(k).strip().lower(): v for k, v in rule.values.items()}
            found = text.str.strip().str.lower().map(lowered).astype("string")
        else:
            if rule.keywords is not None:
                regex = "|".join(re.escape(k.strip()) for k in rule.keywords if k.strip())
            else:
                regex = str(rule.pattern)
            compiled = re.compile(regex, re.IGNORECASE)
            matched = text.map(
                lambda v, rx=compiled: v is not pd.NA and rx.search(v) is not None, na_action=None
            )
            found = pd.Series(pd.NA, index=frame.index, dtype="string").mask(
                matched.astype(bool), str(rule.value)
            )
        new = tag.isna() & found.notna()
        hits[rule.describe()] = int(new.sum())
        tag = tag.where(~new, found)
    rest = tag.isna()
    hits[f"default -> {tagset.default}"] = int(rest.sum())
    return tag.fillna(tagset.default).astype(object), hits, absent


def usage(assets: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Assets with their tags and consumption: events naming them and distinct leads, most
    consumed first (then by id)."""
    named = events.dropna(subset=["asset_id"])
    counts = named.groupby("asset_id").agg(events=("lead_id", "size"), leads=("lead_id", "nunique"))
    out = assets.set_index("asset_id").join(counts)
    out[["events", "leads"]] = out[["events", "leads"]].fillna(0).astype(int)
    out["tagged"] = out["belief_stage"] != UNTAGGED
    out = out.reset_index().sort_values(["events", "asset_id"], ascending=[False, True])
    cols = ["asset_id", "title", "belief_stage", "audience", "format", "events", "leads", "tagged"]
    return out[[c for c in cols if c in out.columns]].reset_index(drop=True)


def coverage(assets: pd.DataFrame, asset_ids: pd.Series) -> dict:
    """How much consumed content carries a belief tag: `asset_ids` are the asset ids of the
    events (empty for events that name no asset). Shares are of the events that name an asset."""
    consumed = pd.to_numeric(asset_ids, errors="coerce").dropna().astype(np.int64)
    stage = assets.set_index("asset_id")["belief_stage"]
    by = consumed.map(stage).fillna(UNTAGGED).value_counts()
    n = int(len(consumed))
    per_belief = {b: round(float(by.get(b, 0)) / n, 4) if n else None for b in BELIEFS}
    tagged = int(sum(by.get(b, 0) for b in BELIEFS))
    out: dict = {
        "assets": int(len(assets)),
        "tagged_assets": int((assets["belief_stage"] != UNTAGGED).sum()),
        "consumed_events": n,
        "tagged_share": round(tagged / n, 4) if n else None,
        "by_belief": per_belief,
        "untagged_share": round(float(by.get(UNTAGGED, 0)) / n, 4) if n else None,
    }
    if n == 0:
        out["reading"] = "no event names an asset: content coverage is unknown"
    elif tagged == 0:
        out["reading"] = (
            "no consumed content carries a belief tag: belief features and the weakest belief "
            "are unknown. Add tagging rules to the mapping (readiness assets --untagged lists "
            "the most-consumed untagged assets)."
        )
    else:
        missing = [b for b in BELIEFS if per_belief[b] == 0]
        out["reading"] = f"{tagged / n:.0%} of consumed events are on belief-tagged content" + (
            f"; no consumed content is tagged {', '.join(missing)}" if missing else ""
        )
    return out
