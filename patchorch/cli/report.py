"""`patchorch report`: the compliance report as one HTML page, JSON or CSV files.

Exit statuses: 0 the report was written; 1 it was written and the audit chain does not verify; 2 bad input.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from patchorch.cli._app import app
from patchorch.cli._common import (
    EXIT_FINDINGS,
    EXIT_OK,
    InventoryOption,
    LimitOption,
    PolicyOption,
    VaultIdOption,
    VaultPasswordFileOption,
    ask_vault_ids,
    console,
    console_err,
    print_json,
    state,
)
from patchorch.cli._wiring import actor, store_location
from patchorch.errors import ConfigError, Problem

if TYPE_CHECKING:
    from patchorch.domain.compliance import ComplianceReport


def parse_since(value: str | None) -> datetime | None:
    """--since as a UTC time: a date (midnight UTC) or an ISO 8601 time; one clear error naming the flag otherwise."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time.min, tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        problem = Problem(
            f"not a date or time: {value!r}", field="--since", allowed="YYYY-MM-DD or ISO 8601, e.g. 2026-11-01T08:00Z"
        )
        raise ConfigError([problem]) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _summary(report: ComplianceReport) -> str:
    totals = report.totals
    standing = ", ".join(f"{count} {status}" for status, count in totals.standing.items() if count) or "none"
    audit = f"intact ({report.audit.records} records)" if report.audit.intact else "BROKEN"
    return (
        f"{totals.runs} run(s), {totals.rehearsals} rehearsal(s), {totals.drills} drill(s): "
        f"{totals.patched_within_sla} patched within SLA, "
        f"{totals.patched_late} late, {totals.overdue_unpatched} overdue; standing: {standing}; "
        f"{totals.decommissioned_answering} decommissioned host(s) answering; {totals.approvals} approval(s); "
        f"audit chain {audit}"
    )


@app.command("report")
def report_command(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the HTML page here (default: report.html).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON (the HTML page only with -o).")
    ] = False,
    csv_dir: Annotated[Path | None, typer.Option("--csv", help="Also write one CSV file per section here.")] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Count runs created since this date or time (UTC) in the period sections."),
    ] = None,
    inventory: InventoryOption = None,
    limit: LimitOption = None,
    policy: PolicyOption = None,
    vault_id: VaultIdOption = None,
    vault_password_file: VaultPasswordFileOption = None,
) -> None:
    """Compliance report: SLA per risk class, time to patch per advisory, hosts needing attention with owners and
    due dates, decommissioned hosts that still answer, approvals, rehearsals and drills, the audit chain's state.
    """
    from patchorch.report import gather, render_html, write_csv
    from patchorch.sources.inventory import load_fleet
    from patchorch.sources.policy import load_policy

    start = parse_since(since)
    settings = state(ctx).settings(inventory=inventory, policy=policy)
    resolved_policy = load_policy(settings.policy)
    vault_ids = ask_vault_ids(vault_id, vault_password_file)
    fleet = (
        load_fleet(list(settings.inventory), limit=limit, vault_ids=vault_ids).selected if settings.inventory else None
    )
    location = store_location(settings)
    report = gather(
        location.runs(actor=actor()), location.advisories(), fleet, resolved_policy, now=datetime.now(UTC), since=start
    )
    html_path = output if output is not None or as_json else Path("report.html")
    if html_path is not None:
        html_path.write_text(render_html(report), encoding="utf-8")
    written = write_csv(report, csv_dir) if csv_dir is not None else []
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        console.print(_summary(report), markup=False, highlight=False, soft_wrap=True)
        if html_path is not None:
            console.print(f"report written to {html_path}", markup=False, highlight=False, soft_wrap=True)
        if written:
            console.print(
                f"CSV files written to {csv_dir}: {len(written)}", markup=False, highlight=False, soft_wrap=True
            )
    if not report.audit.intact:
        console_err.print(f"audit chain broken: {report.audit.problem}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_FINDINGS)
    raise typer.Exit(EXIT_OK)
