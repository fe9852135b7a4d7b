"""The compliance report: gather the records, compute the report (pure, in `patchorch.domain.compliance`), and
render it as one self-contained HTML page (Jinja2 with autoescape, plots by plotly.js embedded), JSON or CSV files.

    >>> from patchorch.report import gather, render_html                       # doctest: +SKIP
    >>> report = gather(run_store, advisory_store, fleet, policy, now=now)     # doctest: +SKIP
    >>> Path("report.html").write_text(render_html(report))                   # doctest: +SKIP
"""

from __future__ import annotations

from patchorch.report._csv import write_csv
from patchorch.report._gather import gather
from patchorch.report._html import render_html

__all__ = ["gather", "render_html", "write_csv"]
