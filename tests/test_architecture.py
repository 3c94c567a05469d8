"""The house rules, checked on the source: imports only point down (readiness <- features <- models
<- pipelines), stages never import each other, and every dvc.yaml stage lists as deps every
first-party file its command runs and every data folder its code reads."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import code_graph as g
import pytest
import yaml

from readiness.params import load_params

ROOT = g.ROOT
DVC_FILES = [ROOT / "dvc.yaml", *sorted((ROOT / "examples").glob("*/dvc.yaml"))]
# paths.* keys a stage may read only when present, never produced by a stage of that project:
# the simulator's ground truth and the truth rolled out from it (absent on a user's export;
# evaluate and score then skip the comparison with the truth)
OPTIONAL_INPUTS = {"ground_truth", "truth"}
# metrics are single files, listed one by one where read (promotion.json, evaluate.json, ...)
FILE_LEVEL = {"metrics"}


def _first_party_files() -> list[Path]:
    return sorted(f for pkg in g.PACKAGES for f in (ROOT / pkg).rglob("*.py"))


def _layer(path: Path) -> str:
    return path.relative_to(ROOT).parts[0]


def _stage_folder(path: Path) -> str | None:
    parts = path.relative_to(ROOT).parts
    return parts[1] if parts[0] == "pipelines" and len(parts) > 2 else None


def test_imports_only_point_down() -> None:
    upward = [
        f"{f.relative_to(ROOT)} imports {t.relative_to(ROOT)}"
        for f in _first_party_files()
        for t in g.imports_of(f)
        if g.LAYERS[_layer(t)] > g.LAYERS[_layer(f)]
    ]
    assert not upward, "imports pointing up a layer:\n" + "\n".join(upward)


def test_stages_do_not_import_each_other() -> None:
    crossing = [
        f"{f.relative_to(ROOT)} imports {t.relative_to(ROOT)}"
        for f in _first_party_files()
        if _stage_folder(f)
        for t in g.imports_of(f)
        if _stage_folder(t) and _stage_folder(t) != _stage_folder(f)
    ]
    assert not crossing, "stages importing each other:\n" + "\n".join(crossing)


def test_the_layer_check_sees_an_upward_import(tmp_path: Path) -> None:
    """Control: the same check flags a base module that imports a stage."""
    for pkg in g.PACKAGES:
        shutil.copytree(ROOT / pkg, tmp_path / pkg)
    bad = tmp_path / "readiness" / "domain.py"
    bad.write_text(bad.read_text() + "\nfrom pipelines.score import routing  # noqa\n")
    targets = {t.relative_to(tmp_path).as_posix() for t in g.imports_of(bad, tmp_path)}
    assert "pipelines/score/routing.py" in targets
    assert g.LAYERS["pipelines"] > g.LAYERS["readiness"]


def _command_entry(cmd: str, dvc_dir: Path, root: Path) -> tuple[str, Path | None]:
    """('stage', None) for `readiness <stage> ...`; ('script', path) for `python <file>`."""
    words = cmd.split()
    if words[0] == "readiness":
        return words[1], None
    if words[0].startswith("python") and words[1].endswith(".py"):
        return "", (dvc_dir / words[1]).resolve()
    raise AssertionError(f"unknown command shape: {cmd}")


def missing_deps(dvc_file: Path, root: Path = ROOT) -> list[str]:
    """What each stage of `dvc_file` runs or reads but does not list as a dep."""
    dvc_dir = dvc_file.parent
    stages = yaml.safe_load(dvc_file.read_text())["stages"]
    cmd_params = re.compile(r"--params\s+(\S+)")
    problems = []
    produced: set[Path] = set()
    for spec in stages.values():
        for key in ("outs", "metrics", "plots"):
            for item in spec.get(key, []):
                produced.add(
                    (dvc_dir / (next(iter(item)) if isinstance(item, dict) else item)).resolve()
                )
    for name, spec in stages.items():
        deps = [(dvc_dir / str(d).split("#")[0].strip()).resolve() for d in spec.get("deps", [])]
        outs = [
            (dvc_dir / (next(iter(item)) if isinstance(item, dict) else item)).resolve()
            for key in ("outs", "metrics", "plots")
            for item in spec.get(key, [])
        ]
        stage, script = _command_entry(spec["cmd"], dvc_dir, root)
        code = g.closure(script, root) if script else g.stage_code(stage, root)
        for f in sorted(code):
            if not g.covered(f.resolve(), deps):
                problems.append(f"{dvc_file.name}:{name}: code {f.relative_to(root)} not in deps")
        if not stage:
            continue
        m = cmd_params.search(spec["cmd"])
        project = load_params((dvc_dir / m.group(1)) if m else root / "params.yaml")
        for key in sorted(g.stage_paths(stage, root) - FILE_LEVEL):
            folder = project.resolve(getattr(project.params.paths, key)).resolve()
            if any(o == folder or folder in o.parents for o in outs):
                continue  # the stage's own output
            if key in OPTIONAL_INPUTS and not any(
                folder == p or folder in p.parents for p in produced
            ):
                continue
            if not any(d == folder or folder in d.parents or d in folder.parents for d in deps):
                problems.append(f"{dvc_file.name}:{name}: reads paths.{key} ({folder}) not in deps")
    return problems


@pytest.mark.parametrize("dvc_file", DVC_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_stage_lists_what_it_runs_and_reads(dvc_file: Path) -> None:
    problems = missing_deps(dvc_file)
    assert not problems, (
        "incomplete dvc.yaml deps (python tests/helpers/code_graph.py prints each stage's code deps):\n"
        + "\n".join(problems)
    )


def test_removing_a_dep_fails_the_check(tmp_path: Path) -> None:
    """Control, on a copy: drop one code dep and one data dep and the check names both."""
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    spec["stages"]["evaluate"]["deps"].remove("models/promotion.py")
    spec["stages"]["publish"]["deps"].remove("data/features")
    copy = ROOT / f".dvc-copy-{tmp_path.name}.yaml"
    try:
        copy.write_text(yaml.safe_dump(spec))
        problems = missing_deps(copy)
    finally:
        copy.unlink()
    assert any("evaluate: code models/promotion.py" in p for p in problems), problems
    assert any("publish: reads paths.features" in p for p in problems), problems
    assert len(problems) == 2, problems
