"""The code base passes ruff (lint, import order and formatting) and the type checker (mypy, on
the four packages), as CI requires."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from type_check import MYPY, start_mypy

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("args", [["check", "."], ["format", "--check", "."]])
def test_ruff(args):
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    out = subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy(request):
    # started by tests/conftest.py when the session was collected, so it ran beside the others
    proc = request.config.stash.get(MYPY, None) or start_mypy()
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
