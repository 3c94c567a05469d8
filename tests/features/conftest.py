"""Fixtures of the feature tests: the tiny inline world of tests/helpers/feature_world.py."""

from __future__ import annotations

import pandas as pd
import pytest
from feature_world import frames


@pytest.fixture
def world() -> dict[str, pd.DataFrame]:
    return frames()
