"""Figures of the evaluation (calibration, lift, ROC), one panel per gate, as PNG files."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

COLORS = {"model": "#1f6f8b", "logistic": "#e69f00", "your_columns": "#009e73", "points": "#999999"}
LABELS = {
    "model": "Readiness model",
    "logistic": "Logistic regression",
    "your_columns": "Logistic on your columns",
    "points": "Points score",
}


def _panels(
    data: pd.DataFrame,
    title: str,
    x: str,
    y: str,
    xlabel: str,
    ylabel: str,
    diagonal: bool,
    out: Path,
) -> Path:
    gates = list(dict.fromkeys(data["gate"]))
    fig, axes = plt.subplots(1, len(gates), figsize=(3.2 * len(gates), 3.2), squeeze=False)
    for ax, gate in zip(axes[0], gates, strict=True):
        g = data[data["gate"] == gate]
        for model, rows in g.groupby("model", sort=False):
            ax.plot(
                rows[x],
                rows[y],
                marker="o" if len(rows) <= 25 else None,
                ms=3,
                lw=1.5,
                color=COLORS.get(model),
                label=LABELS.get(model, model),
            )
        if diagonal:
            top = max(g[x].max(), g[y].max()) if len(g) else 1
            ax.plot([0, top], [0, top], ls="--", lw=0.8, color="black")
        ax.set_title(gate.replace("_", " "), fontsize=10)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].set_ylabel(ylabel, fontsize=8)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


# curve -> (title, x column, y column, x label, y label)
_FIGURES = {
    "calibration": (
        "Calibration on the test cohort: predicted vs observed rate",
        "predicted",
        "observed",
        "predicted probability",
        "observed rate",
    ),
    "lift": (
        "Cumulative gain: share of crossings found by targeting the top leads",
        "targeted",
        "recall",
        "share of snapshots targeted",
        "share of crossings found",
    ),
    "roc": ("ROC on the test cohort", "fpr", "tpr", "false positive rate", "true positive rate"),
}


def evaluation_figures(curves: dict[str, pd.DataFrame], folder: Path) -> list[Path]:
    """calibration.png, lift.png and roc.png in `folder` (each only when its curve has rows)."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        _panels(curves[name], title, x, y, xlabel, ylabel, True, folder / f"{name}.png")
        for name, (title, x, y, xlabel, ylabel) in _FIGURES.items()
        if len(curves[name])
    ]
