"""Every stage writes its output folders atomically: into a fresh folder beside the old one,
moved into place only on success. A stage that fails midway leaves the previous output whole,
never a mix the next stage would read (issue 14 item 4)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from raw_export import CONTACTS, DEALS, mapping, tiny_tables, write

from readiness.errors import ReadinessError
from readiness.outputs import MARKER, Output, replacing
from readiness.params import load_params


def _contents(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_replacing_swaps_on_success_and_keeps_the_old_folder_on_failure(tmp_path):
    out = tmp_path / "out"
    with replacing("features", Output(out, "paths.features")) as (new,):
        (new / "scoring.parquet").write_text("v1")
        (new / "training").mkdir()
        (new / "training" / "part-0.parquet").write_text("v1")
    before = _contents(out)
    assert set(before) == {MARKER, "scoring.parquet", "training/part-0.parquet"}

    with (
        pytest.raises(RuntimeError, match="midway"),
        replacing("features", Output(out, "paths.features")) as (new,),
    ):
        (new / "scoring.parquet").write_text("v2")
        raise RuntimeError("killed midway")
    assert _contents(out) == before  # whole, not half v2
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no partial folder left behind

    # a partial rebuild: the part not rebuilt is carried over from the previous output
    keep = Output(out, "paths.features", keep=("training",))
    with replacing("features", keep) as (new,):
        (new / "scoring.parquet").write_text("v3")
    after = _contents(out)
    assert after["scoring.parquet"] == b"v3" and after["training/part-0.parquet"] == b"v1"


def test_two_folders_move_together_or_not_at_all(tmp_path):
    a, b = tmp_path / "validated", tmp_path / "quarantine"
    outputs = (Output(a, "paths.validated"), Output(b, "paths.quarantine"))
    with replacing("ingest", *outputs) as (na, nb):
        (na / "x").write_text("1")
        (nb / "y").write_text("1")
    with pytest.raises(ReadinessError), replacing("ingest", *outputs) as (na, nb):
        (na / "x").write_text("2")
        (nb / "y").write_text("2")
        raise ReadinessError("counts do not reconcile")
    assert (a / "x").read_text() == "1" and (b / "y").read_text() == "1"


def test_a_folder_that_is_not_the_stages_is_never_replaced(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with (
        pytest.raises(ReadinessError, match=r"Refusing to clear .*paths\.scores"),
        replacing("score", Output(mine, "paths.scores", ("leads.parquet",))),
    ):
        pytest.fail("the block must not run")
    assert _contents(mine) == {"notes.txt": b"keep me"}


def test_a_failed_import_leaves_the_previous_raw_tables_whole(tmp_path):
    from pipelines.importer import stage

    export = tmp_path / "export"
    export.mkdir()
    (export / "contacts.csv").write_text(CONTACTS)
    (export / "deals.csv").write_text(DEALS)
    path = export / "mapping.yaml"
    path.write_text(yaml.safe_dump(mapping(), sort_keys=False))
    (tmp_path / "params.yaml").write_text(
        yaml.safe_dump({"paths": {"raw": "raw"}, "import": {"mapping": str(path)}})
    )
    project = load_params(tmp_path / "params.yaml")
    stage.run(project)
    before = _contents(tmp_path / "raw")
    # the deals file breaks after accounts and leads were already built: the old import stays
    (export / "deals.csv").write_text(DEALS.replace("2024-03-01 10:00:00", "yesterday"))
    with pytest.raises(ReadinessError, match="does not parse"):
        stage.run(project)
    assert _contents(tmp_path / "raw") == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".raw.")]  # no partial left


def test_a_failed_ingest_leaves_the_previous_validated_tables_whole(tmp_path):
    from pipelines.ingest import stage

    tables = tiny_tables()
    write(tables, tmp_path / "raw")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"ingest": {"source": "raw"}}))
    project = load_params(tmp_path / "params.yaml")
    stage.run(project)
    validated = project.resolve(project.params.paths.validated)
    before = _contents(validated)
    # every lead of the new export breaks its contract: ingest stops, nothing is replaced
    bad = tables["leads"].assign(persona="wizard")
    write({**tables, "leads": bad}, tmp_path / "raw")
    with pytest.raises(ReadinessError, match="Raw table 'leads'.*no usable rows"):
        stage.run(project)
    assert _contents(validated) == before
    assert len(pd.read_parquet(validated / "leads")) == 3
    # the report of the failed run is written: it says why
    report = project.resolve(project.params.paths.metrics) / "ingest.json"
    assert '"quarantined": 3' in report.read_text()


def test_files_the_stage_does_not_own_survive_the_replacement(tmp_path):
    scores = tmp_path / "scores"
    owned = ("leads.parquet", "run.json")
    with replacing("score", Output(scores, "paths.scores", owned)) as (new,):
        (new / "leads.parquet").write_text("run 1")
    (scores / "readiness.db").write_text("the warehouse")  # someone else's, inside the folder
    with replacing("score", Output(scores, "paths.scores", owned)) as (new,):
        (new / "leads.parquet").write_text("run 2")
    assert _contents(scores) == {
        MARKER: (scores / MARKER).read_bytes(),
        "leads.parquet": b"run 2",
        "readiness.db": b"the warehouse",
    }


def test_nested_output_folders_are_refused_before_anything_is_touched(tmp_path):
    outer, inner = tmp_path / "evaluation", tmp_path / "evaluation" / "plots"
    inner.mkdir(parents=True)
    (inner / "roc.csv").write_text("x")
    outputs = (Output(outer, "paths.evaluation"), Output(inner, "paths.plots"))
    with (
        pytest.raises(ReadinessError, match=r"paths\.plots .* is inside paths\.evaluation"),
        replacing("evaluate", *outputs),
    ):
        pytest.fail("the block must not run")
    assert (inner / "roc.csv").read_text() == "x"


def test_a_swap_killed_halfway_is_repaired_by_the_next_run(tmp_path):
    out = tmp_path / "labels"
    with replacing("labels", Output(out, "paths.labels")) as (new,):
        (new / "labels.parquet").write_text("good")
    # killed after the old folder was moved aside, before the new one was moved in
    out.rename(tmp_path / ".labels.old")
    (tmp_path / ".labels.partial").mkdir()
    with pytest.raises(RuntimeError), replacing("labels", Output(out, "paths.labels")) as (new,):
        raise RuntimeError("fails again")
    assert (out / "labels.parquet").read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels"]
