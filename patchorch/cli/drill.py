"""`patchorch drill`: rehearse the whole rollout path on the real hosts, read-only, and time it.

Exit statuses: 0 the drill completed without a blocker, 1 blockers were found (or the drill halted), 2 bad input,
3 the drill waits for an approval (`patchorch approve RUN`, then `patchorch resume RUN`), 130 interrupted.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from patchorch.cli._app import app
from patchorch.cli._common import (
    EXIT_AWAITING_APPROVAL,
    EXIT_FINDINGS,
    EXIT_OK,
    InventoryOption,
    LimitOption,
    PolicyOption,
    VaultIdOption,
    VaultPasswordFileOption,
    ask_credentials,
    console,
    console_err,
    plain,
    print_json,
    require_inventory,
    state,
)
from patchorch.cli.rollout import (
    ProgressObserver,
    drive_new_run,
    open_workspace,
    plan_and_show,
    run_inputs,
)
from patchorch.clock import DrillClock
from patchorch.domain.drill import DrillReport
from patchorch.domain.run import RunKind, RunState


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return "+" + str(timedelta(seconds=round(seconds)))


def print_drill(report: DrillReport, log_path: Path | None = None, out: Console | None = None) -> None:
    """The drill's findings for people: stages reached and projected, blockers with owners, what would change."""
    out = out or console
    colour = "green" if report.state == RunState.COMPLETED.value and not report.blockers else "red"
    if report.state == RunState.AWAITING_APPROVAL.value:
        colour = "yellow"
    head = Text(f"drill {report.run} ({report.mode}): ")
    head.append(report.state, style=colour)
    head.append(f", {report.targets} target(s), {len(report.blockers)} blocker(s)")
    out.print(head)
    if report.reason:
        out.print(Text(f"  {plain(report.reason)}", overflow="fold"))
    out.print(Text(f"  prepare took {_span(report.prepare_seconds)} (read-only: no download, no index refresh)"))
    out.print(Text("stages: reached in the drill / projected in the real rollout"))
    for stage in report.stages:
        out.print(
            Text(
                f"  {plain(stage.name)}  {_span(stage.reached_after_seconds)} / {_span(stage.projected_after_seconds)}",
                overflow="fold",
            )
        )
    bases = ", ".join(
        f"{sum(1 for b in report.duration_basis.values() if b == basis)} {basis}"
        for basis in ("measured", "drill", "drill-median", "plan")
        if basis in report.duration_basis.values()
    )
    out.print(
        Text(f"projected real rollout: {_span(report.projected_seconds)} (host durations: {bases})", style="bold")
    )
    if report.blockers:
        out.print(Text("blockers:", style="red"))
    for blocker in report.blockers:
        where = blocker.phase + (f" at {blocker.step}" if blocker.step else "")
        line = Text(f"  {plain(blocker.host)}  ", overflow="fold")
        line.append(f"{blocker.status} in {plain(where)}", style="red")
        line.append(f"  owner {plain(blocker.owner or 'unknown')}")
        if blocker.message:
            line.append(f"  {plain(blocker.message)}")
        out.print(line)
    if report.changes:
        out.print(Text("would change:"))
    for change in report.changes:
        before, after = change.versions_before, change.versions_after
        moved = [p for p in sorted(before.keys() | after.keys()) if before.get(p) != after.get(p)]
        out.print(Text(f"  {plain(change.host)}  {change.status}", overflow="fold"))
        for package in moved:
            out.print(
                Text(
                    f"    {plain(package)}  {plain(before.get(package, '-'))} -> {plain(after.get(package, '-'))}",
                    overflow="fold",
                )
            )
    for wait in report.waits_shortened:
        out.print(Text(f"shortened: {_span(wait.seconds)} ({plain(wait.reason)})", overflow="fold"))
    if report.approvals_skipped:
        out.print(Text(f"approvals skipped (--no-approvals): {', '.join(map(plain, report.approvals_skipped))}"))
    if report.state == RunState.AWAITING_APPROVAL.value:
        out.print(Text(f"  approve:  patchorch approve {report.run}"))
        out.print(Text(f"  then:     patchorch resume {report.run}"))
    if log_path is not None:
        out.print(Text(f"  log: {log_path}"), soft_wrap=True)


def drill_exit(report: DrillReport) -> int:
    """The documented exit status of a drill."""
    if report.state in (RunState.AWAITING_APPROVAL.value, RunState.WAITING.value):
        return EXIT_AWAITING_APPROVAL
    if report.state == RunState.COMPLETED.value and not report.blockers:
        return EXIT_OK
    return EXIT_FINDINGS


def finish_drill(report: DrillReport, log_path: Path | None, *, as_json: bool) -> None:
    """Print the drill's report (JSON on stdout with --json) and exit with its status."""
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        print_drill(report, log_path)
    raise typer.Exit(drill_exit(report))


@app.command()
def drill(
    ctx: typer.Context,
    inventory: InventoryOption = None,
    limit: LimitOption = None,
    policy: PolicyOption = None,
    emergency: Annotated[bool, typer.Option("--emergency", help="Rehearse the emergency path.")] = False,
    advisory: Annotated[
        str | None, typer.Option("--advisory", help="Rehearse the rollout for this imported advisory (ID or CVE).")
    ] = None,
    package: Annotated[
        list[str] | None,
        typer.Option(
            "--package", "-p", help="Rehearse updating only this package (NAME, NAME=VERSION, NAME>=VERSION)."
        ),
    ] = None,
    all_updates: Annotated[bool, typer.Option("--all-updates", help="Rehearse installing every update.")] = False,
    no_approvals: Annotated[
        bool,
        typer.Option("--no-approvals", help="Record approvals as skipped instead of asking the approvers."),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the drill's report as JSON on stdout (the plan goes to stderr).")
    ] = False,
    vault_id: VaultIdOption = None,
    vault_password_file: VaultPasswordFileOption = None,
) -> None:
    """Rehearse the whole rollout on the real hosts, read-only, and time it; recorded as a drill, never as patched.

    Prepare prechecks (reachability, disk, package manager lock, repositories), the check-mode update with what it
    would change, health checks, approvals (or --no-approvals) and soaks, which are skipped and reported instead of
    waited for. Hosts that fail to prepare are blockers, named with their owner; the drill goes on without them. The
    report projects the real rollout's duration from measured per-host times.
    """
    out = console_err if as_json else console
    settings = state(ctx).settings(inventory=inventory, policy=policy)
    sources = require_inventory(settings)
    # The drill's clock skips every wait: no soak or window is waited for, and nothing gives up waiting either.
    credentials = ask_credentials(False, vault_id, vault_password_file)
    workspace = open_workspace(settings, clock=DrillClock(), credentials=credentials)
    plan = plan_and_show(
        settings,
        sources,
        workspace,
        out,
        emergency=emergency,
        limit=limit,
        advisory=advisory,
        package=package,
        all_updates=all_updates,
        as_json=as_json,
        nothing="nothing to rehearse: the plan has no targets",
    )
    progress = ProgressObserver(plan)
    workspace.orchestrator.add_observer(progress)
    inputs = run_inputs(
        settings, sources, limit=limit, advisory=advisory, check=True, kind=RunKind.DRILL, skip_approvals=no_approvals
    )
    report, log_path = drive_new_run(
        workspace,
        progress,
        lambda run_id: workspace.drill(plan, inventory=sources, inputs=inputs, run_id=run_id),
        settings=settings,
        as_json=as_json,
    )
    finish_drill(report, log_path, as_json=as_json)
