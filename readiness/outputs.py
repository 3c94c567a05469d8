"""Output folders a stage may clear: only folders the stage itself created.

A stage that replaces an output folder writes a marker file into it. Before deleting anything it
checks the marker (or, for folders written before markers existed, that the folder holds only the
names the stage writes) and otherwise refuses: a mistyped path in params.yaml (`paths.raw: .`)
must never delete params.yaml, the warehouse or anyone's files.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
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


def replace_output(
    folder: Path,
    stage: str,
    write: Callable[[Path], None],
    *,
    setting: str,
    owned_names: Iterable[str] = (),
) -> None:
    """Replace `folder` with what `write` puts into a fresh folder, only once `write` has
    finished: a stage that fails midway leaves the previous output whole (or none), never a mix
    that the next stage would read. The old folder must be this stage's (see `claim_output`)."""
    claim_output(folder, stage, setting=setting, owned_names=owned_names)
    partial = folder.with_name(f".{folder.name}.partial")
    old = folder.with_name(f".{folder.name}.old")
    for leftover in (partial, old):  # this stage's own leftovers of a killed run
        shutil.rmtree(leftover, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        write(partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    _mark(partial, stage)
    os.replace(folder, old)
    os.replace(partial, folder)
    shutil.rmtree(old)
