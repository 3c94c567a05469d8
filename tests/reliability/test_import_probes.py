"""The mapping-driven import under hostile input, and the guard on every folder a stage clears:
nothing outside the export is read, nothing the project did not write is deleted, and every
mistake is one paragraph naming the mapping key or the file."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import yaml
from raw_export import CONTACTS, DEALS, mapping

from readiness.errors import ReadinessError
from readiness.outputs import MARKER, claim_output, clear_output
from readiness.raw.mapping import import_export, load_mapping


@pytest.fixture
def export(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "contacts.csv").write_text(CONTACTS)
    (folder / "deals.csv").write_text(DEALS)

    def write(m: dict | str) -> Path:
        path = folder / "mapping.yaml"
        path.write_text(m if isinstance(m, str) else yaml.safe_dump(m, sort_keys=False))
        return path

    return folder, write


def test_import_refuses_to_delete_a_raw_folder_it_did_not_write(tmp_path, export, cli):
    """Issue 12 item 1: `paths.raw: .` deleted params.yaml (and `data` the warehouse), exit 0."""
    folder, write = export
    project = tmp_path / "project"
    project.mkdir()
    (project / "params.yaml").write_text(
        yaml.safe_dump({"paths": {"raw": "."}, "import": {"mapping": str(write(mapping()))}})
    )
    (project / "precious.db").write_text("the warehouse")
    out = cli("import", "--params", str(project / "params.yaml"))
    assert out.returncode == 2, out.stderr
    assert "Refusing to clear" in out.stderr and "paths.raw" in out.stderr
    assert "Traceback" not in out.stderr
    assert (project / "params.yaml").exists() and (project / "precious.db").exists()


def test_import_replaces_its_own_raw_folder_and_the_simulators(tmp_path, export):
    from pipelines.importer import stage
    from readiness.params import load_params

    folder, write = export
    (tmp_path / "params.yaml").write_text(
        yaml.safe_dump({"paths": {"raw": "raw"}, "import": {"mapping": str(write(mapping()))}})
    )
    project = load_params(tmp_path / "params.yaml")
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "events").mkdir()  # a simulator's folder from before markers existed
    (raw / "leads.parquet").write_bytes(b"old")
    stage.run(project)
    assert (raw / MARKER).exists() and not (raw / "events").exists()
    stage.run(project)  # its own output, marked: replaced again
    assert len(pd.read_parquet(raw / "leads.parquet")) == 3


@pytest.mark.parametrize(
    "marker, entries, refused",
    [
        (None, ["notes.txt"], True),
        ("report", ["leads.parquet"], True),
        ("import", ["anything.txt"], False),
        (None, [], False),
    ],
)
def test_a_folder_is_cleared_only_when_it_is_the_stages_output(tmp_path, marker, entries, refused):
    folder = tmp_path / "out"
    folder.mkdir()
    for name in entries:
        (folder / name).write_text("x")
    if marker:
        (folder / MARKER).write_text(f'{{"stage": "{marker}"}}')
    if refused:
        with pytest.raises(ReadinessError, match=r"Refusing to clear .*paths\.raw"):
            clear_output(folder, "import", setting="paths.raw", owned_names=("leads.parquet",))
        assert all((folder / n).exists() for n in entries)
    else:
        clear_output(folder, "import", setting="paths.raw")
        assert [p.name for p in folder.iterdir()] == [MARKER]


def test_ingest_refuses_validated_and_quarantine_folders_it_did_not_write(tmp_path):
    from raw_export import tiny_tables, write

    from readiness.params import IngestParams
    from readiness.raw.ingest import ingest_folder

    src = write(tiny_tables(), tmp_path / "raw")
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(ReadinessError, match=r"Refusing to clear .*paths\.validated"):
        ingest_folder(src, tmp_path, tmp_path / "q", IngestParams())
    assert (tmp_path / "mine.txt").exists() and (tmp_path / "raw" / "leads.parquet").exists()


def test_features_and_train_refuse_folders_they_did_not_write(tmp_path):
    """The other stages that rmtree an output folder check the same marker first."""
    (tmp_path / "params.yaml").write_text("x: 1\n")
    for stage, setting in (("features", "paths.features"), ("train", "paths.models")):
        with pytest.raises(ReadinessError, match=rf"Refusing to clear .*{setting}"):
            claim_output(tmp_path, stage, setting=setting, owned_names=("training",))
    assert (tmp_path / "params.yaml").exists()


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("../outside/secret.csv", "without '..' or an absolute path"),
        ("/etc/passwd", "without '..' or an absolute path"),
        ("sub/../../outside/secret.csv", "without '..' or an absolute path"),
    ],
)
def test_mapping_file_paths_stay_inside_the_export_folder(export, name, fragment):
    """Issue 12 item 8: `../outside/secret.csv` and `/etc/passwd` were read into raw tables."""
    folder, write = export
    outside = folder.parent / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.csv").write_text(CONTACTS)
    m = mapping()
    m["files"]["contacts"] = name
    with pytest.raises(ReadinessError, match=rf"files\.contacts .*{fragment}"):
        import_export(write(m), folder / "raw")
    assert not (folder / "raw" / "leads.parquet").exists()


def test_a_symlink_escaping_the_export_folder_is_refused(export):
    folder, write = export
    outside = folder.parent / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text(CONTACTS)
    os.symlink(outside / "secret.csv", folder / "linked.csv")
    m = mapping()
    m["files"]["contacts"] = "linked.csv"
    with pytest.raises(ReadinessError, match=r"files\.contacts .*is a link to .*outside"):
        import_export(write(m), folder / "raw")


@pytest.mark.parametrize("template", ["Title {", "Title }", "{0}", "{company:>>>}", "{company!z}"])
def test_a_broken_template_is_one_paragraph_naming_the_key(export, template):
    """Issue 12 item 9: a template like "Title {" raised ValueError with a traceback."""
    folder, write = export
    m = mapping()
    m["tables"]["assets"] = {
        "from": "contacts",
        "columns": {
            "asset_id": {"row_number": True},
            "title": {"template": template},
            "belief_stage": {"value": "general"},
            "audience": {"value": "any"},
        },
    }
    with pytest.raises(ReadinessError, match=r"tables\.assets\.columns\.title\.(template)"):
        import_export(write(m), folder / "raw")


@pytest.mark.parametrize(
    "text, fragment",
    [
        (
            "name: x\nfiles: !!python/object/apply:os.system ['touch /tmp/pwned']\n",
            "not valid YAML",
        ),
        ("!!python/object:readiness.params.Params {}\n", "not valid YAML"),
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("name: [unclosed\n", "not valid YAML"),
        ("name: x\nfiles: {}\ntables: {}\nshell: rm -rf /\n", "shell: Extra inputs"),
    ],
)
def test_hostile_or_malformed_mapping_yaml_is_refused_without_running_anything(
    export, text, fragment
):
    _, write = export
    with pytest.raises(ReadinessError, match=fragment) as err:
        load_mapping(write(text))
    assert "\n" not in str(err.value)
    assert not Path("/tmp/pwned").exists()


def test_a_mapping_that_is_not_utf8_is_one_paragraph(export):
    folder, _ = export
    (folder / "mapping.yaml").write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ReadinessError, match="is not UTF-8 text"):
        load_mapping(folder / "mapping.yaml")


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b'contact_id,created\n"c1,2024-01-05\nc2,2024-01-07\n', "is not readable"),
        (b"", "is empty"),
        (b"contact_id,created\nc1,caf\xe9\n", "is not UTF-8 text"),
    ],
)
def test_an_unreadable_export_file_is_one_paragraph_naming_it(export, content, fragment):
    folder, write = export
    (folder / "contacts.csv").write_bytes(content)
    with pytest.raises(ReadinessError, match=rf"contacts\.csv {fragment}"):
        import_export(write(mapping()), folder / "raw")


def test_a_corrupt_parquet_export_file_is_one_paragraph(export):
    folder, write = export
    (folder / "contacts.parquet").write_bytes(b"PAR1 this is not parquet PAR1")
    m = mapping()
    m["files"]["contacts"] = "contacts.parquet"
    with pytest.raises(ReadinessError, match=r"contacts\.parquet is not readable"):
        import_export(write(m), folder / "raw")


def test_a_deals_file_with_an_unknown_contact_still_reconciles_at_ingest(export, tmp_path):
    from readiness.params import IngestParams
    from readiness.raw.ingest import ingest_folder

    folder, write = export
    import_export(write(mapping()), folder / "raw")
    report = ingest_folder(folder / "raw", tmp_path / "v", tmp_path / "q", IngestParams())
    assert report["reconciled"]
    for t in report["tables"].values():
        assert t["read"] == t["accepted"] + t["quarantined"]
    assert DEALS.count("\n") - 1 == report["tables"]["opportunities"]["read"]


def test_the_import_command_says_what_rows_it_skipped_and_what_they_held(tmp_path, export, cli):
    folder, write = export
    project = tmp_path / "project"
    project.mkdir()
    (project / "params.yaml").write_text(
        yaml.safe_dump({"paths": {"raw": "raw"}, "import": {"mapping": str(write(mapping()))}})
    )
    out = cli("import", "--params", str(project / "params.yaml"))
    assert out.returncode == 0, out.stderr
    assert "note: milestones: 1 rows of contacts skipped" in out.stdout
    assert "they hold 'stage': Lead 1" in out.stdout
