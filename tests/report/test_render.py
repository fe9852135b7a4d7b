"""The report's HTML page and CSV files: outside strings escaped, plots embedded, sections complete."""

from __future__ import annotations

import csv
import json
import re
from datetime import timedelta
from pathlib import Path

from patchorch.domain.compliance import AdvisoryDates, build_report
from patchorch.domain.outcomes import HostStatus
from patchorch.domain.run import ApprovalRecord
from patchorch.report import render_html, write_csv
from tests.domain.test_compliance import T0, _inputs, _plan, _run
from tests.report.chromium import render

EVIL = '</script><script>alert("x")</script><img src=x onerror=alert(1)>'


def _report():  # type: ignore[no-untyped-def]
    plan = _plan({"mx1": ("high", timedelta(hours=1))}, advisory="WID-1")
    approval = ApprovalRecord(run_id="r1", stage="wave-1", approver="=cmd|' /C calc'!A0", at=T0, comment=EVIL)
    run = _run("r1", plan, {"mx1": (HostStatus.PATCHED, timedelta(hours=2))}, approvals=(approval,), advisory="WID-1")
    advisory = AdvisoryDates(id="WID-1", title=EVIL, published=T0 - timedelta(days=1), imported_at=T0)
    return build_report(_inputs(run, advisories=(advisory,)))


def test_outside_strings_are_escaped_in_the_page_and_its_plot_data() -> None:
    """A comment or advisory title carrying markup appears as text: no injected tag survives, in HTML or JSON."""
    page = render_html(_report())
    assert "<img src=x" not in page
    assert 'alert("x")</script>' not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the comment, escaped, in the approvals table
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", page, flags=re.S)
    # plotly.js, the report's JSON and the plot call: the payload never closes a script element early.
    assert len(scripts) == 3


def test_page_embeds_plotly_and_both_plots_and_the_report_data() -> None:
    """plotly.js is inline (no network), both plot divs are there, and the JSON block parses back to the report."""
    report = _report()
    page = render_html(report)
    assert "<script src=" not in page
    assert 'id="sla-plot"' in page
    assert 'id="ttp-plot"' in page
    assert "Plotly.newPlot" in page
    block = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, flags=re.S)
    assert block is not None
    assert json.loads(block.group(1)) == report.model_dump(mode="json")


def test_csv_files_hold_every_section_and_defuse_formulas(tmp_path: Path) -> None:
    """One CSV per section; a cell a spreadsheet would run as a formula is written as text."""
    files = write_csv(_report(), tmp_path / "csv")
    assert sorted(f.name for f in files) == [
        "approvals.csv",
        "audit.csv",
        "decommissioned_answering.csv",
        "drills.csv",
        "rehearsals.csv",
        "sla.csv",
        "sla_classes.csv",
        "standing.csv",
        "time_to_patch.csv",
    ]
    with (tmp_path / "csv" / "approvals.csv").open(newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert row["approver"] == "'=cmd|' /C calc'!A0"
    assert row["comment"] == EVIL
    with (tmp_path / "csv" / "sla.csv").open(newline="") as handle:
        [late] = list(csv.DictReader(handle))
    assert (late["host"], late["late"]) == ("mx1", "True")


def test_page_renders_its_plots_in_headless_chromium(tmp_path: Path) -> None:
    """Chromium runs the embedded plotly.js: both plots become SVG with bars, and a screenshot is kept."""
    page = tmp_path / "report.html"
    page.write_text(render_html(_report()), encoding="utf-8")
    rendered = render(page, tmp_path / "chromium")
    for plot in ("sla-plot", "ttp-plot"):
        section = rendered.dom.split(f'id="{plot}"', 1)[1].split("</svg>", 1)[0]
        assert 'class="main-svg"' in section
    assert rendered.dom.count('class="trace bars"') >= 2
    assert EVIL not in rendered.dom
    assert "onerror=alert(1)&gt;" in rendered.dom  # shown as text
    assert rendered.screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
