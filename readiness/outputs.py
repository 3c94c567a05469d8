"""Output folders a stage may clear: only folders the stage itself created, replaced atomically.

A stage that replaces an output folder writes a marker file into it. Before deleting anything it
checks the marker (or, for folders written before markers existed, that the folder holds only the
names the stage writes) and otherwise refuses: a mistyped path in params.yaml (`paths.raw: .`)
must never delete params.yaml, the warehouse or anyone's files. Every stage writes its folders
through `replacing`: into a fresh folder beside the old one, swapped in only on success.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from readiness.errors import ReadinessError

MARKER = ".readiness-output"


def _marker_stage(folder: Path) -> str | None:
    try:
        return str(json.loads((folder / MARKER).read_text())["stage"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def claim_output(
    folder: Path,
    stage: str,
    *,
    setting: str,
    owned_names: Iterable[str] = (),
    also: Iterable[str] = (),
) -> None:
    """Make `folder` this stage's output folder (created when missing, marker written).

    A folder that exists and holds anything is accepted when its marker names `stage` (or one of
    `also`, stages writing the same output), or, without a marker, when every entry is one of
    `owned_names`; otherwise ReadinessError naming the folder and the params key `setting`.
    """
    owners = {stage, *also}
    if folder.is_file() or folder.is_symlink():
        raise ReadinessError(
            f"{setting} = {folder} is a file or a link, not a folder `readiness {stage}` "
            f"can write into: point {setting} at a new folder."
        )
    if folder.is_dir():
        marked = _marker_stage(folder)
        entries = [p.name for p in folder.iterdir() if p.name != MARKER]
        legacy = set(owned_names)
        unmarked_but_ours = marked is None and legacy and set(entries) <= legacy
        if entries and marked not in owners and not unmarked_but_ours:
            shown = ", ".join(sorted(entries)[:5]) + (" ..." if len(entries) > 5 else "")
            whose = f"written by `readiness {marked}`" if marked else "not written by Readiness"
            raise ReadinessError(
                f"Refusing to clear {folder} ({setting}): it holds {len(entries)} entr"
                f"{'y' if len(entries) == 1 else 'ies'} ({shown}) {whose}, and `readiness {stage}` "
                f"only deletes its own output. Point {setting} at a new or empty folder, or move "
                "those files away yourself."
            )
    folder.mkdir(parents=True, exist_ok=True)
    _mark(folder, stage)


def _mark(folder: Path, stage: str) -> None:
    (folder / MARKER).write_text(json.dumps({"stage": stage}) + "\n")


def clear_output(
    folder: Path,
    stage: str,
    *,
    setting: str,
    owned_names: Iterable[str] = (),
    also: Iterable[str] = (),
) -> None:
    """Empty `folder` for a fresh output of `stage`, after `claim_output`'s check."""
    claim_output(folder, stage, setting=setting, owned_names=owned_names, also=also)
    shutil.rmtree(folder)
    claim_output(folder, stage, setting=setting)


@dataclass(frozen=True)
class Output:
    """A folder a stage replaces as a whole: its params key (for messages), the names the stage
    writes into it (for folders written before markers existed) and the names to carry over from
    the previous output when this run does not write them (a partial rebuild)."""

    folder: Path
    setting: str
    owned_names: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    also: tuple[str, ...] = ()


@contextmanager
def replacing(stage: str, *outputs: Output) -> Iterator[tuple[Path, ...]]:
    """Fresh folders to write `outputs` into, moved into place only when the block finishes: a
    stage that fails midway (an error, a failed check, a kill) leaves every previous output
    whole (or none), never a mix that the next stage would read.

    Each old folder must be this stage's (see `claim_output`). What the new folder does not hold
    is carried over (hard links, no copy) from the old one: the names in `keep` (a part this run
    did not rebuild) and anything that is not one of `owned_names` (a file someone else put
    there is never deleted). The swap renames every old folder aside, then every new one into
    place; a run killed between those renames is repaired at the start of the next (the old
    folder is put back)."""
    resolved = [o.folder.resolve() for o in outputs]
    for i, a in enumerate(outputs):
        for j, b in enumerate(outputs):
            if i != j and resolved[i].is_relative_to(resolved[j]):
                raise ReadinessError(
                    f"{a.setting} ({a.folder}) is inside {b.setting} ({b.folder}); "
                    f"`readiness {stage}` replaces each folder whole: point them at separate folders."
                )
    partials = []
    for out in outputs:
        _recover(out.folder)
        claim_output(
            out.folder, stage, setting=out.setting, owned_names=out.owned_names, also=out.also
        )
        partial = _sibling(out.folder, "partial")
        shutil.rmtree(partial, ignore_errors=True)  # this stage's own, from a killed run
        partial.mkdir(parents=True)
        partials.append(partial)
    try:
        yield tuple(partials)
        for out, partial in zip(outputs, partials, strict=True):
            _carry_over(out, partial)
            _mark(partial, stage)
    except BaseException:
        for partial in partials:
            shutil.rmtree(partial, ignore_errors=True)
        raise
    for out in outputs:
        os.replace(out.folder, _sibling(out.folder, "old"))
    for out, partial in zip(outputs, partials, strict=True):
        os.replace(partial, out.folder)
    for out in outputs:
        shutil.rmtree(_sibling(out.folder, "old"))


def _sibling(folder: Path, kind: str) -> Path:
    return folder.with_name(f".{folder.name}.{kind}")


def _recover(folder: Path) -> None:
    """Undo a swap killed halfway: the output folder is missing but its old copy is there."""
    old = _sibling(folder, "old")
    if old.is_dir() and not folder.exists():
        os.replace(old, folder)
    elif old.is_dir():  # a swap that finished but was killed before the old copy was deleted
        shutil.rmtree(old)


def _carry_over(out: Output, partial: Path) -> None:
    """Hard-link into `partial` what it lacks of the old folder: `keep` names, and every entry
    the stage does not own."""
    if not out.folder.is_dir():
        return
    for entry in out.folder.iterdir():
        name = entry.name
        if name == MARKER or (partial / name).exists():
            continue
        if name in out.keep or name not in out.owned_names:
            _link(entry, partial / name)


def _link(source: Path, target: Path) -> None:
    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:  # a file system without hard links
            shutil.copy2(src, dst)

    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, target, symlinks=True, copy_function=link)
    elif source.is_symlink():
        os.symlink(os.readlink(source), target)
    else:
        link(str(source), str(target))


def replace_output(
    folder: Path,
    stage: str,
    write: Callable[[Path], None],
    *,
    setting: str,
    owned_names: Iterable[str] = (),
) -> None:
    """Replace `folder` with what `write` puts into a fresh folder, only once `write` has
    finished (see `replacing`)."""
    with replacing(stage, Output(folder, setting, tuple(owned_names))) as (partial,):
        write(partial)
