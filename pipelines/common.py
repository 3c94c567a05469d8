"""Helpers shared by the stage wrappers: writing JSON files (metrics, settings, run records) the
same way everywhere, atomically and as strict JSON."""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

from readiness.errors import ReadinessError


def _json_safe(value: Any, path: Path, where: str) -> Any:
    """NaN (a figure the data cannot support) becomes null; an infinity is a bug upstream."""
    if isinstance(value, dict):
        return {k: _json_safe(v, path, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v, path, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value):
            return None
        raise ReadinessError(f"{path}: {where.lstrip('.')} is {value}; refusing to write it.")
    return value


def write_json(path: Path, payload: Any) -> Path:
    """Write `payload` as indented, strict JSON (NaN as null; one trailing newline), atomically:
    a reader or a killed run never sees half a file. Creates the parent folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    text = json.dumps(_json_safe(payload, path, ""), indent=2, default=str, allow_nan=False)
    tmp.write_text(text + "\n")
    os.replace(tmp, path)
    return path


def sha256_of(path: Path) -> str:
    """The file's SHA-256, read in 1 MiB blocks (an export's manifest entry)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
