"""The `profile` family: the user's own attributes of leads and accounts, point in time.

Each declared attribute (readiness/raw/attributes.py) becomes one feature `attr_<name>`:
numeric and boolean attributes as their value (NaN when unknown: LightGBM routes missing values
itself and the logistic baseline imputes them), categorical ones as a code into a vocabulary
kept in the catalogue (-1 unknown; any number of categories; ordered by frequency), dates as
days from the date to the cutoff. Values known at creation apply at every cutoff; dated changes
count strictly before the cutoff, like events. Values known only at export never reach the
training snapshots unless params accept the risk by name (`features.accept_at_export`); then the
catalogue and everything downstream say so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa

from features.catalog import Feature, build_catalog
from features.schemas import profile_column
from readiness.raw.attributes import AttributeSpec, parse_values

FAMILY = "profile"
AT_EXPORT_RISK = " [known only at export: may reflect the outcome; accepted in params]"


def feature_name(attribute: str) -> str:
    return f"attr_{attribute}"


def vocabularies(attrs: pd.DataFrame, specs: dict[str, AttributeSpec]) -> dict[str, list[str]]:
    """Per categorical attribute, its values ordered by how many entities carry them (then by
    text): code i is the i-th value."""
    out = {}
    for name, spec in specs.items():
        if spec.type != "categorical":
            continue
        values = attrs.loc[attrs["attribute"] == name, "value"].dropna().astype(str)
        counts = values.value_counts()
        out[name] = sorted(counts.index, key=lambda v: (-counts[v], v))
    return out


def plan(
    specs: dict[str, AttributeSpec], accept_at_export: tuple[str, ...]
) -> tuple[dict[str, AttributeSpec], dict[str, str]]:
    """(attributes that become features, attributes left out with the reason)."""
    used, excluded = {}, {}
    for name, spec in specs.items():
        if spec.known == "at_export" and name not in accept_at_export:
            excluded[name] = (
                "known only at export (a current value that may have changed after the outcome); "
                "add it to features.accept_at_export to use it anyway"
            )
        else:
            used[name] = spec
    return used, excluded


def profile_catalog(meta: dict) -> tuple[Feature, ...]:
    """The profile features described by a catalogue's `profile` section."""
    out = []
    for name, raw in meta.get("attributes", {}).items():
        spec = AttributeSpec(**raw)
        risk = AT_EXPORT_RISK if spec.known == "at_export" else ""
        out.append(
            Feature(
                name=feature_name(name),
                family=FAMILY,
                window="static" if spec.known != "history" else "as_of",
                description=spec.description + risk,
                direction=0,
                level=spec.of,
                kind=FAMILY,
                measure=name,
                categorical=spec.type == "categorical",
                vocabulary=tuple(meta.get("vocabulary", {}).get(name, ())),
            )
        )
    return tuple(out)


def catalog_from_meta(meta: dict) -> tuple[Feature, ...]:
    """The full catalogue a features run wrote (catalog.json): the built-in families for its
    windows, then the dataset's profile features."""
    return build_catalog(tuple(meta["windows"])) + profile_catalog(meta.get("profile", {}))


def profile_values(
    snapshots: pd.DataFrame,
    attrs: pd.DataFrame,
    meta: dict,
) -> pd.DataFrame:
    """The profile features of (lead_id, account_id, cutoff) rows, as of each cutoff."""
    out = pd.DataFrame(index=snapshots.index)
    cut = pd.DataFrame(
        {
            "row": np.arange(len(snapshots)),
            "lead": snapshots["lead_id"].to_numpy(),
            "account": snapshots["account_id"].to_numpy(),
            "cutoff": pd.to_datetime(snapshots["cutoff"]).to_numpy(),
        }
    )
    for name, raw in meta.get("attributes", {}).items():
        spec = AttributeSpec(**raw)
        rows = attrs[attrs["attribute"] == name]
        parsed, _ = parse_values(spec, rows["value"])
        vals = pd.DataFrame(
            {
                "id": rows["entity_id"].to_numpy(),
                "value": parsed.to_numpy(),
                "changed_at": pd.to_datetime(rows["changed_at"]).to_numpy(),
            }
        )
        key = spec.of  # "lead" or "account": the snapshot column holding its id
        if spec.known == "history":
            v = vals.dropna(subset=["changed_at"]).sort_values("changed_at")
            left = cut.sort_values("cutoff")
            merged = pd.merge_asof(
                left,
                v.rename(columns={"id": key}),
                left_on="cutoff",
                right_on="changed_at",
                by=key,
                allow_exact_matches=False,  # strictly before the cutoff
            ).sort_values("row")
            value = merged["value"].to_numpy()
        else:
            constant = vals.drop_duplicates("id", keep="last").set_index("id")["value"]
            value = cut[key].map(constant).to_numpy()
        out[feature_name(name)] = _encode(spec, value, cut["cutoff"], meta, name)
    return out


def _encode(
    spec: AttributeSpec, value: np.ndarray, cutoff: pd.Series, meta: dict, name: str
) -> np.ndarray:
    if spec.type == "categorical":
        codes = {v: i for i, v in enumerate(meta.get("vocabulary", {}).get(name, []))}
        return np.array([codes.get(v, -1) if isinstance(v, str) else -1 for v in value], float)
    if spec.type == "date":
        when = pd.to_datetime(pd.Series(value))
        return ((cutoff.reset_index(drop=True) - when).dt.total_seconds() / 86400.0).to_numpy(
            dtype=float
        )
    return pd.to_numeric(pd.Series(value), errors="coerce").to_numpy(dtype=float)


def profile_schema(features: tuple[Feature, ...]) -> pa.DataFrameSchema:
    """The contract of the profile columns alone (see features.schemas.profile_column)."""
    return pa.DataFrameSchema({f.name: profile_column(f) for f in features})
