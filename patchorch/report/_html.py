"""The compliance report as one self-contained HTML page.

Jinja2 renders it with autoescape on, so every string that came from outside (host names, owners, comments,
advisory titles) is escaped. The plots are plotly figures: their data travels as JSON through Jinja's `tojson`
filter (which escapes `<`, `>`, `&` and `'`), and plotly.js itself is embedded, so the page needs no network.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from plotly.offline import get_plotlyjs

from patchorch.domain.compliance import ComplianceReport


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("patchorch.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _figure_data(figure: go.Figure, *, empty: str | None = None) -> dict[str, Any]:
    """The figure as plain JSON data; with `empty`, a plot without data says so instead of showing bare axes."""
    if empty is not None:
        figure.add_annotation(text=empty, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        figure.update_xaxes(visible=False)
        figure.update_yaxes(visible=False)
    data: dict[str, Any] = json.loads(figure.to_json())
    return data


def sla_figure(report: ComplianceReport) -> dict[str, Any]:
    """Hosts patched within their SLA, late, and overdue unpatched targets, per risk class (stacked bars)."""
    classes = [c.risk_class for c in report.sla]
    figure = go.Figure(
        data=[
            go.Bar(name="within SLA", x=classes, y=[c.within for c in report.sla], marker_color="#2e7d32"),
            go.Bar(name="patched late", x=classes, y=[c.late for c in report.sla], marker_color="#c62828"),
            go.Bar(
                name="overdue, unpatched",
                x=classes,
                y=[c.overdue_unpatched for c in report.sla],
                marker_color="#ef6c00",
            ),
        ]
    )
    figure.update_layout(
        barmode="stack",
        title="Hosts patched per risk class",
        xaxis_title="risk class",
        yaxis_title="hosts",
        height=360,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
    )
    return _figure_data(figure, empty=None if report.sla else "no host was patched in this period")


def time_to_patch_figure(report: ComplianceReport) -> dict[str, Any]:
    """Hours from publication and from import to the last target patched, per advisory (grouped bars)."""
    names = [a.advisory + ("" if a.complete else " (open)") for a in report.time_to_patch]
    figure = go.Figure(
        data=[
            go.Bar(
                name="from publication",
                x=names,
                y=[a.hours_from_publication for a in report.time_to_patch],
                marker_color="#1565c0",
            ),
            go.Bar(
                name="from import",
                x=names,
                y=[a.hours_from_import for a in report.time_to_patch],
                marker_color="#6a1b9a",
            ),
        ]
    )
    figure.update_layout(
        barmode="group",
        title="Time to patch per advisory (hours to the last target patched)",
        xaxis_title="advisory",
        yaxis_title="hours",
        height=360,
        margin={"l": 60, "r": 20, "t": 50, "b": 80},
    )
    return _figure_data(figure, empty=None if report.time_to_patch else "no rollout for an advisory in this period")


def render_html(report: ComplianceReport) -> str:
    """The report as one HTML page with its plots, readable offline."""
    template = _environment().get_template("report.html.j2")
    return template.render(
        report=report,
        data=report.model_dump(mode="json"),
        late_hosts=[host for risk_class in report.sla for host in risk_class.hosts if host.late],
        sla_plot=sla_figure(report),
        ttp_plot=time_to_patch_figure(report),
        plotly_js=get_plotlyjs(),
    )
