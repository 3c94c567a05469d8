"""Readiness: calibrated, explained probabilities that each B2B lead crosses each buying threshold."""

import os

# Telemetry off for every entry point (CLI, tests, notebooks), and no download progress bars in
# batch logs; explicit settings still win.
for _name, _value in (
    ("MLFLOW_DISABLE_TELEMETRY", "true"),
    ("DO_NOT_TRACK", "true"),
    ("DVC_NO_ANALYTICS", "1"),
    ("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false"),
):
    os.environ.setdefault(_name, _value)

__version__ = "0.1.0"
