"""Careless parameters: every numeric parameter has its valid range in the params model, and a
value outside it stops at load with one paragraph naming the key (never a traceback later)."""

from __future__ import annotations

import dataclasses
import typing

import pytest
import yaml

import readiness.params as params_module
from readiness.errors import ReadinessError
from readiness.params import Params, load_params

BAD = [
    ("publish", {"chunk_rows": -1}, "publish.chunk_rows"),
    ("publish", {"chunk_rows": 0}, "publish.chunk_rows"),
    ("ingest", {"batch_rows": 0}, "ingest.batch_rows"),
    ("evaluate", {"promotion": {"max_auc_drop": -0.2}}, "evaluate.promotion.max_auc_drop"),
    ("evaluate", {"promotion": {"max_ece": -1}}, "evaluate.promotion.max_ece"),
    ("train", {"lightgbm": {"learning_rate": -1}}, "train.lightgbm.learning_rate"),
    ("train", {"lightgbm": {"n_estimators": 0}}, "train.lightgbm.n_estimators"),
    ("train", {"lightgbm": {"feature_fraction": 1.5}}, "train.lightgbm.feature_fraction"),
    ("train", {"points": {"demo_requests_all": float("nan")}}, "train.points.demo_requests_all"),
    ("labels", {"horizon_days": 0}, "labels.horizon_days"),
    ("features", {"recency_days": float("nan")}, "features.recency_days"),
    ("score", {"top_drivers": 0}, "score.top_drivers"),
    ("score", {"routing": {"dormant_below": 2}}, "score.routing.dormant_below"),
    ("score", {"routing": {"sla": {"hours": -4}}}, "score.routing.sla.hours"),
    ("simulate", {"drift": float("inf")}, "simulate.drift"),
]


@pytest.mark.parametrize("section, value, key", BAD)
def test_a_numeric_parameter_out_of_range_names_its_key(tmp_path, section, value, key):
    """Issue 12 item 14 (and item 2: chunk_rows -1 published an empty run)."""
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({section: value}))
    with pytest.raises(ReadinessError, match=rf"params\.yaml is invalid: {key}: ") as err:
        load_params(tmp_path / "params.yaml")
    assert "\n" not in str(err.value)


def _numeric_fields(cls, prefix=""):
    hints = typing.get_type_hints(cls, vars(params_module))
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            yield from _numeric_fields(kind, f"{prefix}{f.name}.")
        elif kind in (int, float):
            yield f"{prefix}{f.name}", cls.__pydantic_fields__[f.name]


def test_every_numeric_parameter_has_a_valid_range():
    unbounded = []
    for key, info in _numeric_fields(Params):
        names = {type(m).__name__ for m in info.metadata}
        bounded = names & {"Gt", "Ge", "Lt", "Le"}
        finite = info.annotation is int or "AllowInfNan" in names
        if not (bounded or key.endswith("at_least")) or not finite:
            unbounded.append(key)
    assert not unbounded, f"numeric params without a range: {unbounded}"


def test_bad_params_on_the_command_line_exit_2_with_one_paragraph(tmp_path, cli):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"publish": {"chunk_rows": -1}}))
    out = cli("publish", "--params", str(tmp_path / "params.yaml"))
    assert out.returncode == 2
    assert "publish.chunk_rows: Input should be greater than or equal to 1" in out.stderr
    assert "Traceback" not in out.stderr and out.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("simulate: !!python/object/apply:os.system ['touch /tmp/pwned']\n", "not valid YAML"),
        ("- a\n- list\n", "must hold a mapping of sections"),
        ("publish: {chunk_rows: many}\n", "publish.chunk_rows: Input should be a valid integer"),
    ],
)
def test_hostile_or_malformed_params_files_are_refused(tmp_path, text, fragment):
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(ReadinessError, match=fragment):
        load_params(tmp_path / "params.yaml")
