"""The user's own columns: attributes declared in the mapping, imported, checked at ingest (bad
rows quarantined with reasons), turned into point-in-time profile features and screened by the
leakage guard."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from raw_export import DEALS, mapping

from features import profile
from models.guard import screen_features
from readiness.errors import ReadinessError
from readiness.params import IngestParams
from readiness.raw import attributes
from readiness.raw.ingest import check_reconciled, ingest_folder
from readiness.raw.mapping import import_export

T = pd.Timestamp
# c3's plan changes on 2024-02-10 and again on 2024-03-01 (a history attribute)
PLANS = """contact_id,plan,since
c3,free,2024-02-10
c3,pro,2024-03-01
c2,pro,2024-01-01
c1,basic,2024-01-02
"""
CONTACTS_WITH_ATTRIBUTES = """contact_id,created,stage,channel,company,page,employees,status
c1,2024-01-05,Lead,web,acme,/pricing,120,open
c2,2024-01-07,MQL,fair,acme,/blog,abc,open
c3,2024-02-01,SQL,web,beta,/pricing,,won
"""


def _attribute(column, type_, known="at_creation", **extra):
    return {
        "of": "lead",
        "from": "contacts",
        "id": {"key": "contact", "column": "contact_id"},
        "column": column,
        "type": type_,
        "known": known,
        "description": f"The contact's {column}",
        **extra,
    }


def _mapping_with_attributes() -> dict:
    m = mapping()
    m["files"]["plans"] = "plans.csv"
    m["attributes"] = {
        "landing_page": _attribute("page", "categorical"),
        "employees": _attribute("employees", "numeric"),
        "status": _attribute("status", "categorical", known="at_export"),
        "plan": {
            **_attribute("plan", "categorical", known="history"),
            "from": "plans",
            "changed_at": {"column": "since", "date_format": "%Y-%m-%d"},
        },
    }
    return m


@pytest.fixture
def export(tmp_path):
    (tmp_path / "contacts.csv").write_text(CONTACTS_WITH_ATTRIBUTES)
    (tmp_path / "deals.csv").write_text(DEALS)
    (tmp_path / "plans.csv").write_text(PLANS)
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(_mapping_with_attributes(), sort_keys=False))
    return tmp_path, path


def test_attributes_are_imported_checked_and_quarantined_with_reasons(export):
    folder, path = export
    report = import_export(path, folder / "raw")
    assert report["tables"]["attributes"]["attributes"]["employees"]["empty_cells"] == 1
    specs = attributes.read_declarations(folder / "raw")
    assert specs["plan"].known == "history" and specs["status"].known == "at_export"
    # c1's plan is dated before c1 was created (2024-01-05): quarantined at ingest
    rep = ingest_folder(folder / "raw", folder / "validated", folder / "quarantine", IngestParams())
    check_reconciled(rep)
    t = rep["tables"]["attributes"]
    assert t["read"] == 3 + 2 + 3 + 4 and t["read"] == t["accepted"] + t["quarantined"]
    q = pd.read_parquet(folder / "quarantine" / "attributes")
    reasons = dict(zip(q["value"], q["reasons"], strict=True))
    assert reasons["abc"] == "value: not a numeric value for 'employees'"
    assert reasons["pro"] == "changed_at: before its lead was created"  # c2: 2024-01-01 < 01-07
    assert reasons["basic"] == "changed_at: before its lead was created"
    assert sorted(q["source_row"]) == sorted(q["source_row"].unique())  # one row each
    # and the row of the user's file each came from: employees 'abc' is c2's (contacts row 2)
    where = {v: (f, r) for v, f, r in zip(q["value"], q["file"], q["file_row"], strict=True)}
    assert where == {
        "abc": ("contacts.csv", 2),
        "pro": ("plans.csv", 3),
        "basic": ("plans.csv", 4),
    }
    accepted = pd.read_parquet(folder / "validated" / "attributes")
    assert len(accepted) == t["accepted"] == 9 and t["quarantined"] == 3
    assert attributes.read_declarations(folder / "validated") == specs


def test_a_counter_declared_known_at_creation_is_noted_not_trusted_silently(export):
    """Trial 8: 'Number of Pageviews' declared at_creation (a counter at export, single-feature
    AUC 0.88) passed the guard and lifted the test AUCs by up to 0.026."""
    folder, _ = export
    m = _mapping_with_attributes()
    m["attributes"]["pageview_count"] = _attribute("employees", "numeric")
    path = folder / "mapping.yaml"
    path.write_text(yaml.safe_dump(m, sort_keys=False))
    notes = import_export(path, folder / "raw")["notes"]
    said = [n for n in notes if "reads like a value the CRM keeps current" in n]
    assert len(said) == 1 and said[0].startswith("attributes.pageview_count")
    # landing_page and employees (known at creation, named plainly) are not flagged, nor is the
    # status declared at_export
    assert not any("landing_page" in n or "attributes.status" in n for n in said)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"column": "nope"}, "attributes.landing_page.column names column 'nope'"),
        ({"from": "ghost"}, "attributes.landing_page.from names file 'ghost'"),
        ({"known": "history"}, "changed_at is required for known: history"),
        ({"type": "text"}, "attributes.landing_page.type"),
    ],
)
def test_a_bad_attribute_declaration_names_the_key(export, change, message):
    folder, path = export
    m = _mapping_with_attributes()
    m["attributes"]["landing_page"].update(change)
    path.write_text(yaml.safe_dump(m, sort_keys=False))
    with pytest.raises(ReadinessError, match=message.replace("(", r"\(")):
        import_export(path, folder / "raw")


def test_messy_values_are_cleaned_or_named_at_import(export, caplog):
    caplog.set_level("DEBUG")  # logged at debug level (the CLI prints them as notes)
    folder, path = export
    # a form's placeholder, a case variant of a page and a numeric code for "unknown"
    rows = ["contact_id,created,stage,channel,company,page,employees,status"]
    pages = ["/pricing", "/Pricing ", "Select", "/blog"]
    for i in range(40):
        employees = "9999" if i % 4 == 0 else str(10 + i)
        rows.append(f"c{i},2024-01-05,Lead,web,acme,{pages[i % 4]},{employees},open")
    (folder / "contacts.csv").write_text("\n".join(rows) + "\n")
    report = import_export(path, folder / "raw")
    t = report["tables"]["attributes"]
    page = t["attributes"]["landing_page"]
    assert page["merged_spellings"] == {"/Pricing": "/pricing"} and page["merged_cells"] == 10
    assert any("'Select' on 10 row(s)" in w and "missing_values" in w for w in t["warnings"])
    assert any("9999 on 10 row(s)" in w and "looks like a code" in w for w in t["warnings"])
    assert any("merged" in r.message for r in caplog.records)
    values = pd.read_parquet(folder / "raw" / "attributes.parquet")
    assert set(values.loc[values["attribute"] == "landing_page", "value"]) == {
        "/pricing",
        "Select",
        "/blog",
    }
    # declared as unknown: the cells become empty, counted, and no warning is left
    m = _mapping_with_attributes()
    m["attributes"]["landing_page"]["missing_values"] = ["Select"]
    m["attributes"]["employees"]["missing_values"] = ["9999"]
    path.write_text(yaml.safe_dump(m, sort_keys=False))
    t = import_export(path, folder / "raw")["tables"]["attributes"]
    assert t["attributes"]["landing_page"]["missing_values_cleared"] == 10
    assert t["attributes"]["employees"]["missing_values_cleared"] == 10
    assert t["attributes"]["employees"]["empty_cells"] == 10
    assert not [w for w in t["warnings"] if "placeholder" in w or "looks like a code" in w]


def test_an_attribute_declared_twice_is_an_error(export):
    folder, path = export
    text = path.read_text().replace("attributes:\n", "attributes:\n  employees:\n    of: lead\n", 1)
    path.write_text(text)
    with pytest.raises(ReadinessError, match="'employees' is given twice"):
        import_export(path, folder / "raw")


def _meta(specs: dict, attrs: pd.DataFrame) -> dict:
    used, excluded = profile.plan(specs, accept_at_export=())
    return {
        "attributes": {n: s.model_dump() for n, s in used.items()},
        "vocabulary": profile.vocabularies(attrs, used),
        "excluded": excluded,
    }


def test_profile_features_are_point_in_time():
    spec = {
        "plan": attributes.AttributeSpec(
            of="lead", type="categorical", known="history", description="plan"
        ),
        "size": attributes.AttributeSpec(
            of="account", type="numeric", known="at_creation", description="size"
        ),
        "status": attributes.AttributeSpec(
            of="lead", type="categorical", known="at_export", description="status"
        ),
    }
    attrs = pd.DataFrame(
        {
            "entity": ["lead", "lead", "account", "lead"],
            "entity_id": [1, 1, 7, 1],
            "attribute": ["plan", "plan", "size", "status"],
            "value": ["free", "pro", "250", "won"],
            "changed_at": [T("2024-02-10 09:00"), T("2024-03-01"), pd.NaT, pd.NaT],
        }
    )
    meta = _meta(spec, attrs)
    assert "status" in meta["excluded"] and "status" not in meta["attributes"]
    snaps = pd.DataFrame(
        {
            "lead_id": [1, 1, 1, 2],
            "account_id": [7, 7, 7, 8],
            "cutoff": [T("2024-02-10"), T("2024-02-11"), T("2024-03-01"), T("2024-03-02")],
        }
    )
    out = profile.profile_values(snaps, attrs, meta)
    vocab = meta["vocabulary"]["plan"]
    plan = [vocab[int(c)] if c >= 0 else None for c in out["attr_plan"]]
    # a change at 09:00 on the 10th is after that midnight cutoff; the change on 03-01 at
    # midnight is not strictly before the 03-01 cutoff
    assert plan == [None, "free", "free", None]
    assert out["attr_size"].tolist()[:3] == [250.0] * 3 and np.isnan(out["attr_size"].iloc[3])
    features = profile.profile_catalog(meta)
    assert [f.name for f in features] == ["attr_plan", "attr_size"]
    # accepted by name, an export-time value is used and says so wherever it is described
    used, excluded = profile.plan(spec, accept_at_export=("status",))
    assert "status" in used and not excluded
    risky = profile.profile_catalog({"attributes": {"status": used["status"].model_dump()}})
    assert risky[0].description.endswith(profile.AT_EXPORT_RISK)
    assert features[0].vocabulary == tuple(vocab) and features[0].categorical
    profile.profile_schema(features).validate(out)


def _feat(name, family, categorical=False):
    """A static feature of the screen's tests (an attribute when `name` starts with attr_)."""
    from features.catalog import Feature

    return Feature(
        name=name,
        family=family,
        window="static",
        description=name,
        direction=0,
        level="lead",
        kind=family,
        measure=name.removeprefix("attr_"),
        categorical=categorical,
        vocabulary=("a", "b", "c") if categorical else (),
    )


def test_a_many_valued_column_is_scored_out_of_fold_by_lead():
    """A lead's ten snapshots share its outcome: folds across them let a job title of one or two
    leads score its own outcome (a trial's no-effect title read 0.71 alone, 0.58 out of sample)."""
    rng = np.random.default_rng(1)
    leads = np.repeat(np.arange(600), 10)
    title = rng.integers(0, 400, 600)[leads].astype(float)  # no effect, ~1.5 leads per title
    y = (rng.random(600) < 0.2).astype(int)[leads]
    labels = pd.DataFrame({"y_mql": y.astype(float)})
    catalog = (_feat("attr_title", "profile", categorical=True),)
    kw = {"max_single_auc": 0.97, "max_fill_gap": 0.8}

    def auc(frame):
        (row,) = screen_features(frame, labels, catalog, ("mql",), np.ones(len(y), bool), **kw)
        return row["single_feature_auc"]

    assert auc(pd.DataFrame({"attr_title": title, "lead_id": leads})) < 0.56
    assert auc(pd.DataFrame({"attr_title": title})) > 0.65  # rows of one lead on both sides


def test_the_guard_leaves_out_an_attribute_filled_only_for_positives():

    rng = np.random.default_rng(0)
    n = 4000
    y = (rng.random(n) < 0.1).astype(int)
    signal = rng.normal(size=n) + 0.8 * y  # a real, imperfect signal
    leaky = np.where(y == 1, rng.integers(0, 3, n), -1).astype(float)  # filled for wins only
    frame = pd.DataFrame({"attr_signal": signal, "attr_deal": leaky, "ladder_stage": 3.0 * y})
    labels = pd.DataFrame({"y_closed_won": y.astype(float)})

    catalog = (
        _feat("attr_signal", "profile"),
        _feat("attr_deal", "profile", categorical=True),
        _feat("ladder_stage", "progression"),
    )
    kw = {"max_single_auc": 0.97, "max_fill_gap": 0.8}
    rows = {
        r["feature"]: r
        for r in screen_features(frame, labels, catalog, ("closed_won",), np.ones(n, bool), **kw)
    }
    assert not rows["attr_signal"]["flagged"]
    assert rows["attr_deal"]["excluded"] and "filled for 100% of" in rows["attr_deal"]["reason"]
    # a built-in feature is reported, never dropped
    assert rows["ladder_stage"]["flagged"] and not rows["ladder_stage"]["excluded"]
    admitted = screen_features(
        frame, labels, catalog, ("closed_won",), np.ones(n, bool), admitted=("deal",), **kw
    )
    assert not next(r for r in admitted if r["feature"] == "attr_deal")["excluded"]
    # a strong column short of the flag (a sales tag at AUC ~0.95) is kept and named a suspect
    tag = y * 2.2 + rng.normal(size=n)
    strong = frame.assign(attr_tag=tag)
    catalog_tag = (*catalog, _feat("attr_tag", "profile"))
    suspects = {
        r["feature"]: r
        for r in screen_features(
            strong, labels, catalog_tag, ("closed_won",), np.ones(n, bool), suspect_auc=0.9, **kw
        )
    }
    tag_row = suspects["attr_tag"]
    assert 0.9 <= tag_row["single_feature_auc"] < 0.97
    assert tag_row["suspect"] and not tag_row["flagged"] and not tag_row["excluded"]
    assert "known: at_export" in tag_row["reason"]
    assert not suspects["attr_signal"]["suspect"] and not suspects["ladder_stage"]["suspect"]


def test_the_guard_auc_is_scikit_learns_with_ties():
    from sklearn.metrics import roc_auc_score

    from models.guard import single_feature_auc

    rng = np.random.default_rng(3)
    for values in (3, 50, 10_000):
        y = (rng.random(5000) < 0.2).astype(int)
        score = rng.integers(0, values, 5000) + 0.5 * y * rng.random(5000).round()
        assert abs(single_feature_auc(y, score) - roc_auc_score(y, score)) < 1e-12


def test_the_shift_screen_leaves_out_a_feature_the_test_rows_have_outgrown():
    """A lead's age when leads stopped arriving: every test row is older than any training row.
    The screen leaves it out (built-in or not), keeps a stable feature, names the index in the
    reason, re-admits by name, and never reads the test rows' labels."""
    from models.guard import screen_features

    rng = np.random.default_rng(1)
    n = 6000
    test = np.arange(n) >= 4000
    y = (rng.random(n) < 0.15).astype(float)
    age = np.where(test, rng.uniform(400, 600, n), rng.uniform(0, 300, n))
    frame = pd.DataFrame(
        {"lead_age_days": age, "attr_size": rng.lognormal(3, 1, n) * (1 + 0.5 * y)}
    )
    catalog = (_feat("lead_age_days", "progression"), _feat("attr_size", "profile"))
    kw = {"max_single_auc": 0.97, "max_fill_gap": 0.8, "test_rows": test, "max_shift_psi": 1.0}

    def screen(labels, **extra):
        return {
            r["feature"]: r
            for r in screen_features(frame, labels, catalog, ("mql",), ~test, **{**kw, **extra})
        }

    rows = screen(pd.DataFrame({"y_mql": y}))
    age_row, size_row = rows["lead_age_days"], rows["attr_size"]
    assert age_row["shifted"] and age_row["excluded"] and age_row["excluded_for"] == ["shift"]
    assert age_row["test_psi"] > 1.0 and f"{age_row['test_psi']:.2f} > 1.0" in age_row["reason"]
    assert "train.admit_shifted" in age_row["reason"] and not age_row["flagged"]
    assert not size_row["shifted"] and not size_row["excluded"] and size_row["test_psi"] < 0.1
    # the test rows' labels are never read: blanking or flipping them changes nothing
    for other in (np.where(test, np.nan, y), np.where(test, 1 - y, y)):
        assert screen(pd.DataFrame({"y_mql": other})) == rows
    readmitted = screen(pd.DataFrame({"y_mql": y}), admitted_shifted=("lead_age_days",))
    assert readmitted["lead_age_days"]["shifted"] and not readmitted["lead_age_days"]["excluded"]
    assert "re-admitted by train.admit_shifted" in readmitted["lead_age_days"]["reason"]
    # off (null in params): nothing is left out for shift
    off = screen(pd.DataFrame({"y_mql": y}), max_shift_psi=None)
    assert not off["lead_age_days"]["excluded"] and off["lead_age_days"]["test_psi"] > 1.0


def test_formatted_numbers_are_read_and_a_repeated_contact_keeps_its_first_row(export):
    folder, path = export
    (folder / "contacts.csv").write_text(
        "contact_id,created,stage,channel,company,page,employees,status\n"
        'c1,2024-01-05,Lead,web,acme,/pricing,"1,078",open\n'
        'c2,2024-01-07,MQL,web,acme,/blog,"$26,541,386",open\n'
        'c3,2024-02-01,SQL,web,beta,/pricing,"(1,200)",won\n'
        'c4,2024-02-01,SQL,web,beta,/pricing,"1.234,5",won\n'
        "c1,2024-01-05,Lead,web,acme,/blog,7,open\n"  # c1 again, other values: ingest keeps row 1
        "c5,2024-02-01,SQL,web,beta,/pricing,n/a,won\n"  # c5's first number is on its next row
        "c5,2024-02-01,SQL,web,beta,/pricing,50,won\n"
    )
    report = import_export(path, folder / "raw")
    t = report["tables"]["attributes"]
    employees = t["attributes"]["employees"]
    assert employees["numbers_unformatted"] == 4 and employees["not_numbers"] == 1
    assert employees["mixed_decimal_conventions"] == {"point": 1, "comma": 1}
    assert any("'$26,541,386' -> 26541386" in w for w in t["warnings"])
    # a decimal comma beside thousands points can only be read one way: read so, and said
    assert any("mixes decimal points" in w and "'1.234,5'" in w for w in t["warnings"])
    # '1,078' either convention could write: the column's majority (here a tie) or the mapping's
    # decimal decides, and it is said
    assert any("such as '1,078' could be written with either" in w for w in t["warnings"])
    assert any("the first row's value is kept" in w for w in t["warnings"])
    keys = pd.read_parquet(folder / "raw" / "_keys" / "contact.parquet")
    contact = dict(zip(keys["our_id"], keys["their_id"], strict=True))
    values = pd.read_parquet(folder / "raw" / "attributes.parquet")
    by = {
        (contact[r.entity_id], r.attribute): r.value
        for r in values.itertuples()
        if r.attribute in ("employees", "landing_page")
    }
    assert by[("c1", "employees")] == "1078" and by[("c1", "landing_page")] == "/pricing"
    assert by[("c2", "employees")] == "26541386" and by[("c3", "employees")] == "-1200"
    assert by[("c5", "employees")] == "50"  # not lost to the unreadable 'n/a' before it
    # ingest reads them all as numbers
    rep = ingest_folder(folder / "raw", folder / "validated", folder / "quarantine", IngestParams())
    check_reconciled(rep)
    accepted = pd.read_parquet(folder / "validated" / "attributes")
    numbers = accepted.loc[accepted["attribute"] == "employees", "value"].astype(float)
    assert sorted(numbers) == [-1200.0, 50.0, 1078.0, 1234.5, 26541386.0]


@pytest.mark.parametrize(
    "text, plain",
    [
        ("$26,541,386", "26541386"),
        ("1,078", "1078"),
        ("(1,200)", "-1200"),
        ("12.5 %", "12.5"),
        ("USD 1 200", "1200"),
        ("€5.5", "5.5"),
        # only one convention can write these: read by their own separators
        ("1.234,5", "1234.5"),
        ("12,34", "12.34"),
        ("1,2345", "1.2345"),
        ("1 234,5", "1234.5"),
        ("CHF 1'234.50", "1234.50"),
        ("'1078", "1078"),  # Excel's text marker
        ("(12", None),
        ("abc", None),
        ("1,23,4", None),
        ("12.", None),
        ("0,001", "0.001"),  # thousands never start with a 0: a decimal comma
        ("0.250", "0.250"),
    ],
)
def test_plain_number_reads_what_crms_write_by_its_own_separators(text, plain):
    assert attributes.plain_number(text) == plain


def test_a_column_mixing_conventions_and_ranges_is_read_in_order():
    """A German CRM export: decimal commas, thousands points, employee bands, a US-written value
    among them; every value read, bands at their midpoints, in the order the text means."""
    texts = ["1.234,5", "3,5", "1.078", "51-200", "1.001-5.000", "10.000+", "<10", "2,000.5"]
    values, changes, notes = attributes.clean_values("employees", pd.Series(texts), "numeric", [])
    assert values.astype(float).tolist() == [
        1234.5,
        3.5,
        1078.0,
        125.5,
        3000.5,
        10000.0,
        5.0,
        2000.5,
    ]
    assert changes["ranges_read_as_midpoints"] == 4
    assert changes["mixed_decimal_conventions"] == {"point": 1, "comma": 2}
    assert changes["ambiguous_decimal_commas"] == 1  # '1.078': most of the column says commas
    assert any("'51-200' -> 125.5" in n and "declare it categorical" in n for n in notes)
    assert "not_numbers" not in changes
    # a German count or amount without cents: no value shows the decimal separator, so one
    # either convention could write is a whole number, not 1000 times smaller, and said
    whole, changes, notes = attributes.clean_values(
        "employees", pd.Series(["1.078", "12.000", "500"]), "numeric", []
    )
    assert whole.astype(float).tolist() == [1078.0, 12000.0, 500.0]
    assert changes["ambiguous_read_as_whole_numbers"] == 2
    assert any("no value shows the decimal separator" in n for n in notes)
    # both ends of a range in one convention: whole numbers where both can be, else the one
    # that reads both
    bands, _, _ = attributes.clean_values(
        "x", pd.Series(["2.5-3.125", "0.100-0.250", "1.250-1.500"]), "numeric", []
    )
    assert bands.astype(float).tolist() == [2.8125, 0.175, 1375.0]
    # a range whose ends are not ordered, a date, a negative end: not numbers, left to ingest
    odd, changes, _ = attributes.clean_values(
        "employees", pd.Series(["5-1", "2025-01-31", "-5-10", "7"]), "numeric", []
    )
    assert odd.tolist() == ["5-1", "2025-01-31", "-5-10", "7"] and changes["not_numbers"] == 3


def test_decimal_commas_are_read_when_the_mapping_says_so():
    """A trial's revenue column ('€3.676.725,16') was 'not numbers' with no way to say so."""
    texts = ["€3.676.725,16", "1.078", "12,5", "1234", "(1.200,50)", "abc"]
    assert [attributes.plain_number(t, ",") for t in texts] == [
        "3676725.16",
        "1078",
        "12.5",
        "1234",
        "-1200.50",
        None,
    ]
    values, changes, notes = attributes.clean_values(
        "revenue", pd.Series(texts), "numeric", [], decimal=","
    )
    # every value read as written: "1.078" is 1078, not 1.078; 'abc' is left for ingest to name
    assert values.tolist()[:5] == ["3676725.16", "1078", "12.5", "1234", "-1200.50"]
    assert changes["numbers_unformatted"] == 4 and changes["not_numbers"] == 1
    # without the setting, the hint says how; with it, it does not repeat it
    _, _, plain_notes = attributes.clean_values("revenue", pd.Series(texts), "numeric", [])
    assert any("attributes.revenue.decimal: ','" in n for n in plain_notes)
    assert not any("decimal: ','" in n for n in notes)
    # '$767,315' in a column read with decimal commas is 767.315: read so, and said
    _, mixed, mixed_notes = attributes.clean_values(
        "revenue", pd.Series(["$767,315", "3.676.725,16"]), "numeric", [], decimal=","
    )
    assert mixed["ambiguous_decimal_commas"] == 1
    assert any(
        "'$767,315' could be written with either convention; read with a decimal comma (767.315)"
        in n
        for n in mixed_notes
    )


def test_spellings_compare_without_case_spacing_or_underscores():
    from readiness.raw.attributes import fold

    assert fold("PAID_SEARCH") == fold(" paid  search") == "paid search"
    assert fold("1-50") != fold("150")
