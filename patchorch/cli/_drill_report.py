"""A drill's report for people and its exit status: what `drill` ends with, and `resume` of a drill too."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from patchorch.cli._common import EXIT_AWAITING_APPROVAL, EXIT_FINDINGS, EXIT_OK, console, plain, print_json
from patchorch.domain.drill import DrillReport
from patchorch.domain.run import RunState


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
