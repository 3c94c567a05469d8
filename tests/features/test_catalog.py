"""The feature catalogue: one declaration per feature, in plain words, covering every family."""

from __future__ import annotations

import re

from features.catalog import FAMILIES, build_catalog, catalog_frame, catalog_version, feature_names


def test_every_family_of_the_design_is_covered():
    catalog = build_catalog((7, 30, 90))
    assert {f.family for f in catalog} == set(FAMILIES)
    assert len(feature_names(catalog)) == len(set(feature_names(catalog)))


def test_descriptions_are_plain_language_not_column_names():
    for f in build_catalog((7, 30, 90)):
        assert f.description and f.description[0].isupper(), f.name
        assert not re.search(r"\w+_\w+", f.description), (f.name, f.description)  # no snake_case
        assert f.direction in (-1, 0, 1)
        assert f.level in ("lead", "account")


def test_windows_come_from_params_and_change_the_version():
    a, b = build_catalog((7, 30, 90)), build_catalog((14, 60))
    assert "engaged_actions_14d" in feature_names(b) and "engaged_actions_14d" not in feature_names(
        a
    )
    assert catalog_version(a) != catalog_version(b)
    assert catalog_version(a) == catalog_version(build_catalog((90, 7, 30)))


def test_the_catalogue_names_the_design_signals():
    names = set(feature_names(build_catalog((7, 30, 90))))
    for signal in (
        "urgency_content_30d",
        "account_stakeholder_downloads_all",
        "account_personas_engaged",
        "capability_industry_proof_all",
        "momentum_30d",
        "touched_in_ladder_order",
        "competitor_email_domain",
    ):
        assert signal in names
    frame = catalog_frame(build_catalog((7, 30, 90)))
    assert list(frame.columns) == [
        "name",
        "family",
        "window",
        "direction",
        "description",
        "categorical",
    ]
    assert frame["categorical"].sum() == 6
