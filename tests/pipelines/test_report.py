"""The report renders in headless Chromium with every section filled, and the notebooks run on the
small simulation's outputs without writing any."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).parents[2]
SECTIONS = ("drivers", "stall", "revenue", "trust", "routing")


def chromium_or_skip() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe:
        return exe
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("Chromium is not installed in CI (.ci/run installs Debian's chromium)")
    pytest.skip("Chromium is not installed (apt-get install chromium)")


class Sections(HTMLParser):
    """Per <section id>: its figures (non-empty base64 PNGs), captions and tables."""

    def __init__(self):
        super().__init__()
        self.current, self.found, self.in_caption = None, {}, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.current = a.get("id")
            self.found[self.current] = {"figures": 0, "captions": [], "tables": 0}
        elif self.current and tag == "img":
            src = a.get("src", "")
            if src.startswith("data:image/png;base64,") and len(src) > 5000:
                self.found[self.current]["figures"] += 1
        elif self.current and tag == "table":
            self.found[self.current]["tables"] += 1
        elif tag == "figcaption":
            self.in_caption = True

    def handle_endtag(self, tag):
        if tag == "figcaption":
            self.in_caption = False

    def handle_data(self, data):
        if self.in_caption and self.current:
            self.found[self.current]["captions"].append(data)


def render(exe: str, html: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            *args,
            html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_report_renders_in_chromium_with_every_section_filled(scored, tmp_path):
    exe = chromium_or_skip()
    html = Path(scored["report"]["file"])
    shot = tmp_path / "first_screen.png"
    out = render(exe, html, f"--screenshot={shot}", "--window-size=1280,900")
    assert shot.exists(), out.stderr[-2000:]
    import matplotlib.image as mpimg

    pixels = mpimg.imread(shot)[..., :3]
    non_white = (pixels < 0.95).any(axis=2).mean()
    assert pixels.std() > 0.1 and non_white > 0.1  # not blank: header, KPIs and a figure
    dom = render(exe, html, "--dump-dom", "--virtual-time-budget=5000").stdout
    parser = Sections()
    parser.feed(dom)
    assert set(SECTIONS) <= set(parser.found)
    for sid in SECTIONS:
        got = parser.found[sid]
        assert got["figures"] >= 1, sid
        assert all(c.strip() for c in got["captions"])
    assert parser.found["trust"]["tables"] >= 2 and parser.found["stall"]["tables"] >= 3
    # no section fell back to a note: the only notes are what the data says of itself (leads
    # closed by their account's win are not scored, which the simulation always has)
    notes = re.findall(r'<p class="note">(.*?)</p>', dom, flags=re.S)
    assert all("not scored because their account won a deal" in n for n in notes), notes


def test_the_report_summary_matches_the_run(scored):
    s = scored["report"]
    # no caveat but the leads closed by their account's win, which the simulation always has
    assert len(s["notes"]) == 1 and "because their account won a deal" in s["notes"][0]
    assert s["kpis"]["open leads scored"] == f"{scored['summary']['run']['leads']:,}"
    routes = s["sections"]["routing"]["routes"]
    assert routes == scored["summary"]["routes"]
    agreement = s["sections"]["drivers"]["agreement_with_exact_shap"]
    assert agreement and all(a["spearman_with_exact_shap"] > 0.5 for a in agreement)
    # the leakage guard's table: the simulated CRM's sales grade was left out
    guard = s["sections"]["trust"]["leakage_guard"]
    assert guard["left_out"] == ["attr_sales_rating"] and guard["screened"] > 90
    # the simulator tags its content: every belief is covered, the shares add up
    cov = s["sections"]["stall"]["content_coverage"]
    assert cov["consumed_events"] > 1000 and all(v > 0.02 for v in cov["by_belief"].values())
    assert sum(cov["by_belief"].values()) + cov["untagged_share"] == pytest.approx(1, abs=1e-3)


def snapshot(folder: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", ["exploration", "driver_review"])
def test_the_notebooks_run_on_the_pipeline_outputs_and_write_none(scored, name, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    folder = scored["folder"]
    monkeypatch.setenv("READINESS_PARAMS", str(folder / "params.yaml"))
    before = snapshot(folder / "data"), snapshot(folder / "artifacts")
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT / "notebooks")}},
    ).execute()
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert len(shown) >= 4
    assert (snapshot(folder / "data"), snapshot(folder / "artifacts")) == before
    assert np.isfinite(len(shown))
