"""The project's first-party import graph and what each pipeline stage reads, from the source (ast).

Used by the architecture tests: the layers only point down, and every dvc.yaml stage lists as
deps every first-party file its command imports and every data folder it reads.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("readiness", "features", "models", "pipelines")
# lower index = lower layer; an import may only point to its own layer or a lower one
LAYERS = {name: rank for rank, name in enumerate(PACKAGES)}
# the stage key of dvc.yaml / CLI sub-command -> its folder under pipelines/
STAGE_FOLDER = {"import": "importer"}


def module_file(module: str, root: Path = ROOT) -> Path | None:
    """The file of a first-party module name (a package's __init__.py), None when not ours."""
    if module.split(".")[0] not in PACKAGES:
        return None
    base = root.joinpath(*module.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _imported_modules(tree: ast.AST, top_level_only: bool) -> set[str]:
    nodes = tree.body if top_level_only else ast.walk(tree)  # type: ignore[attr-defined]
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            # `from pipelines.score import routing` imports a submodule
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


@cache
def imports_of(path: Path, root: Path = ROOT, top_level_only: bool = False) -> frozenset[Path]:
    """First-party files `path` imports directly, with the packages' __init__ files on the way."""
    tree = ast.parse(path.read_text())
    files: set[Path] = set()
    for module in _imported_modules(tree, top_level_only):
        parts = module.split(".")
        for i in range(1, len(parts) + 1):
            f = module_file(".".join(parts[:i]), root)
            if f is not None:
                files.add(f)
    files.discard(path)
    return frozenset(files)


def closure(start: Path, root: Path = ROOT) -> set[Path]:
    """Every first-party file executed when `start` is imported (imports inside functions too)."""
    seen, todo = {start}, [start]
    while todo:
        for f in imports_of(todo.pop(), root):
            if f not in seen:
                seen.add(f)
                todo.append(f)
    return seen


def stage_entry(stage: str, root: Path = ROOT) -> Path:
    return root / "pipelines" / STAGE_FOLDER.get(stage, stage) / "stage.py"


def stage_code(stage: str, root: Path = ROOT) -> set[Path]:
    """The files a `readiness <stage>` command runs: the CLI's top-level imports, and the stage."""
    cli = root / "pipelines" / "cli.py"
    files = {cli} | set(imports_of(cli, root, top_level_only=True))
    for f in list(files):
        if f != cli:
            files |= closure(f, root)
    entry = stage_entry(stage, root)
    return files | closure(entry, root) | closure(entry.parent / "__init__.py", root)


def _paths_attributes(node: ast.AST) -> set[str]:
    """`x` of every `<...>.paths.x` attribute access under `node`."""
    return {
        n.attr
        for n in ast.walk(node)
        if isinstance(n, ast.Attribute)
        and (
            (isinstance(n.value, ast.Attribute) and n.value.attr == "paths")
            or (isinstance(n.value, ast.Name) and n.value.id == "paths")
        )
    }


def stage_paths(stage: str, root: Path = ROOT) -> set[str]:
    """The `paths.*` keys of params.yaml that the stage's own code names: its folder's modules and
    every first-party function or class they import by name (e.g. `load_training_frame`)."""
    keys: set[str] = set()
    for f in stage_entry(stage, root).parent.glob("*.py"):
        tree = ast.parse(f.read_text())
        keys |= _paths_attributes(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.ImportFrom) and node.module and node.level == 0):
                continue
            source = module_file(node.module, root)
            if source is None:
                continue
            defs = {
                n.name: n
                for n in ast.parse(source.read_text()).body
                if isinstance(n, ast.FunctionDef | ast.ClassDef)
            }
            for alias in node.names:
                if alias.name in defs:
                    keys |= _paths_attributes(defs[alias.name])
    return keys


def compact(files: set[Path], root: Path = ROOT) -> list[str]:
    """The shortest list of deps covering `files`: a folder where every module of it is needed."""
    out: set[Path] = set()
    for f in files:
        folder = f.parent
        while folder != root and set(folder.rglob("*.py")) <= files:
            f, folder = folder, folder.parent
        out.add(f)
    return sorted(str(x.relative_to(root)) for x in out)


def covered(path: Path, deps: list[Path]) -> bool:
    """Whether a dep (a file, or a folder holding it) covers `path`."""
    return any(path == d or d in path.parents for d in deps)


def _write_code_deps(dvc_file: Path, root: Path = ROOT) -> None:
    """Rewrite the first-party code deps of every `readiness <stage>` stage of `dvc_file` with
    what the stage runs (data deps and everything else stay as they are)."""
    import yaml

    prefix = "../" * len(dvc_file.parent.relative_to(root).parts)
    stages = yaml.safe_load(dvc_file.read_text())["stages"]
    lines, out, stage = dvc_file.read_text().splitlines(), [], None
    i = 0
    while i < len(lines):
        line = lines[i]
        head = line.strip().rstrip(":")
        if line.startswith("  ") and not line.startswith("   ") and head in stages:
            stage = head
        cmd = stages.get(stage or "", {}).get("cmd", "")
        if stage and cmd.startswith("readiness ") and line.strip() == "deps:":
            i += 1
            kept = []
            while i < len(lines) and lines[i].startswith("      - "):
                item = lines[i][len("      - ") :]
                path = item.split("#")[0].strip().removeprefix(prefix)
                if path.split("/")[0] not in PACKAGES:
                    kept.append(item)
                i += 1
            code = [prefix + c for c in compact(stage_code(cmd.split()[1], root), root)]
            out += [line, *(f"      - {d}" for d in [*code, *kept])]
            continue
        out.append(line)
        i += 1
    dvc_file.write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    # `python tests/helpers/code_graph.py` prints each stage's code deps; with --write it rewrites
    # them in dvc.yaml and examples/*/dvc.yaml (stages written as block lists of deps)
    import sys

    import yaml

    if "--write" in sys.argv:
        for f in [ROOT / "dvc.yaml", *sorted((ROOT / "examples").glob("*/dvc.yaml"))]:
            _write_code_deps(f)
    for name in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]:
        print(f"{name}: {compact(stage_code(name))}")
