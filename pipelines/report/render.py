"""Self-contained HTML: figures embedded as PNG (base64), tables formatted for people, no network.

Every figure has a title, axis labels and a one-sentence reading shown under it.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

COLORS = ["#2f6690", "#d1495b", "#edae49", "#66a182", "#8d6a9f", "#3a7d44", "#7f7f7f"]


@dataclass
class Figure:
    title: str
    reading: str
    png_base64: str


@dataclass
class Section:
    id: str
    title: str
    intro: str
    blocks: list[str] = field(default_factory=list)
    # what the section contributes to report.json, and notes for the top of the page
    summary: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add_figure(self, fig: Figure) -> None:
        self.blocks.append(
            f'<figure><img alt="{html.escape(fig.title)}" src="data:image/png;base64,{fig.png_base64}">'
            f"<figcaption><b>{html.escape(fig.title)}.</b> {html.escape(fig.reading)}</figcaption></figure>"
        )

    def add_table(
        self, title: str, table: pd.DataFrame, formats: dict[str, str], reading: str = ""
    ) -> None:
        self.blocks.append(
            f"<h3>{html.escape(title)}</h3>{format_table(table, formats)}"
            + (f'<p class="reading">{html.escape(reading)}</p>' if reading else "")
        )

    def add_text(self, text: str) -> None:
        self.blocks.append(f"<p>{html.escape(text)}</p>")


def draw(title: str, reading: str, plot: Callable[[plt.Axes], None], size=(7.5, 3.6)) -> Figure:
    """A figure from a plotting function; the function must set the axis labels."""
    fig, ax = plt.subplots(figsize=size, dpi=100)
    plot(ax)
    ax.set_title(title, fontsize=11)
    if not ax.get_xlabel() or not ax.get_ylabel():
        raise ValueError(f"figure {title!r} needs both axis labels")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return Figure(title, reading, base64.b64encode(buf.getvalue()).decode())


def draw_grid(
    title: str,
    reading: str,
    panels: Sequence[tuple[str, Callable[[plt.Axes], None]]],
    cols: int = 3,
    panel_size: tuple[float, float] = (3.4, 2.9),
) -> Figure:
    """Small multiples (one panel per gate, say), each with its own labels."""
    rows = int(np.ceil(len(panels) / cols))
    w, h = panel_size
    fig, axes = plt.subplots(rows, cols, figsize=(w * cols, h * rows), dpi=100, squeeze=False)
    for ax, (name, plot) in zip(axes.ravel(), panels, strict=False):
        plot(ax)
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(panels) :]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return Figure(title, reading, base64.b64encode(buf.getvalue()).decode())


def fmt(value: Any, kind: str) -> str:
    """A number for people: pct (12.3 %), int (12,345), money ($12,345), float (0.812), days (12.5)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return "-"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    if kind == "pct":
        return f"{100 * float(value):.1f} %"
    if kind == "int":
        return f"{int(round(float(value))):,}"
    if kind == "money":
        return f"${float(value):,.0f}"
    if kind == "float":
        return f"{float(value):.3f}"
    if kind == "days":
        return f"{float(value):,.1f}"
    return html.escape(str(value).replace("_", " ") if kind == "label" else str(value))


def format_table(table: pd.DataFrame, formats: dict[str, str]) -> str:
    head = "".join(f"<th>{html.escape(str(c).replace('_', ' '))}</th>" for c in table.columns)
    body = []
    for row in table.itertuples(index=False):
        cells = []
        for c, v in zip(table.columns, row, strict=True):
            kind = formats.get(c, "text")
            cls = ' class="num"' if kind in ("pct", "int", "money", "float", "days") else ""
            cells.append(f"<td{cls}>{fmt(v, kind)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2733;background:#fff}
header{background:#2f6690;color:#fff;padding:24px 40px}
header h1{margin:0 0 6px 0;font-size:26px} header p{margin:2px 0;opacity:.92}
nav{padding:10px 40px;background:#eef3f7;font-size:14px} nav a{margin-right:18px;color:#2f6690}
main{padding:8px 40px 40px 40px;max-width:1200px}
section{margin-top:26px;border-top:1px solid #dde3ea} h2{color:#2f6690}
figure{margin:14px 0} figure img{max-width:100%;border:1px solid #e3e7ec}
figcaption,.reading{font-size:14px;color:#3b4a5a;max-width:900px}
table{border-collapse:collapse;font-size:13px;margin:6px 0} th,td{padding:4px 10px;border-bottom:1px solid #e5e9ee;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums} th{background:#f3f6f9}
.kpis{display:flex;gap:14px;flex-wrap:wrap;margin:14px 0}
.kpi{background:#f3f6f9;border-radius:8px;padding:10px 16px;min-width:150px}
.kpi b{display:block;font-size:22px;color:#2f6690} .note{background:#fff6e0;padding:8px 12px;border-left:4px solid #edae49}
"""


def page(
    title: str,
    subtitle: list[str],
    kpis: list[tuple[str, str]],
    notes: list[str],
    sections: list[Section],
) -> str:
    nav = "".join(f'<a href="#{s.id}">{html.escape(s.title)}</a>' for s in sections)
    kp = "".join(f'<div class="kpi"><b>{html.escape(v)}</b>{html.escape(k)}</div>' for k, v in kpis)
    nt = "".join(f'<p class="note">{html.escape(n)}</p>' for n in notes)
    body = "".join(
        f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2><p>{html.escape(s.intro)}</p>{"".join(s.blocks)}</section>'
        for s in sections
    )
    sub = "".join(f"<p>{html.escape(x)}</p>" for x in subtitle)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{CSS}</style></head><body><header><h1>{html.escape(title)}</h1>{sub}</header>"
        f'<nav>{nav}</nav><main><div class="kpis">{kp}</div>{nt}{body}</main></body></html>'
    )
