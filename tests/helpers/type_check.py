"""The type checker as a background process: started by tests/conftest.py once a session that
includes tests/test_style.py::test_mypy is collected, read by that test."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MYPY = pytest.StashKey[subprocess.Popen]()


def start_mypy() -> subprocess.Popen:
    """mypy on the four packages, cold (--no-incremental: no cache can hide an error)."""
    mypy = shutil.which("mypy") or str(Path(sys.executable).parent / "mypy")
    return subprocess.Popen(
        [mypy, "--no-incremental"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
