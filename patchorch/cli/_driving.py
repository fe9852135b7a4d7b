"""Driving a run from a terminal, shared by the commands that run something (`rollout`, `resume`, `drill`,
`rollback`): their common options, the live progress display, SIGTERM as Ctrl-C, the log redirected to a file while
the display owns the terminal, and the documented exit status of where the run ends."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from patchorch.cli._common import (
    EXIT_AWAITING_APPROVAL,
    EXIT_BAD_INPUT,
    EXIT_FINDINGS,
    EXIT_OK,
    configure_logging,
    console,
    console_err,
    plain,
    print_json,
)
from patchorch.cli._wiring import recent_run_ids
from patchorch.config import Settings
from patchorch.domain.gates import GateDecision
from patchorch.domain.outcomes import BatchOutcome
from patchorch.domain.plan import RolloutPlan, Stage
from patchorch.domain.run import RunState
from patchorch.domain.spans import parse_span
from patchorch.errors import ConfigError, Problem
from patchorch.execution.base import HostEvent, TaskStatus
from patchorch.orchestrator.observers import Observer

# The engine and the workspace (the store, sqlalchemy, Ansible) load inside the commands that run something.
if TYPE_CHECKING:
    from patchorch.orchestrator.engine import RolloutReport
    from patchorch.orchestrator.workspace import Workspace

Driven = TypeVar("Driven")

RunIdArgument = Annotated[str, typer.Argument(help="The run.", autocompletion=lambda: recent_run_ids())]


AskBecomePassOption = Annotated[
    bool,
    typer.Option(
        "--ask-become-pass",
        "-K",
        help="Ask for the become (sudo) password; it is typed into Ansible's own prompt from memory, never written.",
    ),
]
MaxWaitOption = Annotated[
    str,
    typer.Option(
        "--max-wait",
        help="Wait in this process for soak times and maintenance windows up to this long (30m, 2h, 0); a longer "
        "wait leaves the run 'waiting' (exit 3) to be resumed then.",
    ),
]


WaitForClaimsOption = Annotated[
    str,
    typer.Option(
        "--wait-for-claims",
        help="Wait up to this long (10m, 1h) for a host another run claims, or for the run's lock another process "
        "holds, to be released; 0 (default) pauses the run, or refuses, naming the holder.",
    ),
]


def max_wait_span(text: str, flag: str = "--max-wait") -> timedelta:
    """--max-wait (or another duration flag) as a duration; one clear error naming the flag when it is not one."""
    try:
        return parse_span(text, allow_zero=True)
    except ValueError as exc:
        raise ConfigError([Problem(str(exc), field=flag, value=text, allowed="0, 30m, 2h, 1d")]) from None


def claim_wait_span(text: str) -> timedelta | None:
    """--wait-for-claims as a duration, None for 0 (do not wait)."""
    span = max_wait_span(text, "--wait-for-claims")
    return span or None


def exit_status(report: RolloutReport) -> int:
    """The documented exit status for where a run stands."""
    if report.state in (RunState.AWAITING_APPROVAL, RunState.WAITING):
        return EXIT_AWAITING_APPROVAL
    if report.state is RunState.COMPLETED and not report.failed_hosts:
        return EXIT_OK
    return EXIT_FINDINGS


class ProgressObserver(Observer):
    """A live line per stage: hosts done, failed, elapsed; thread-safe (host events come from the runner thread)."""

    def __init__(self, plan: RolloutPlan) -> None:
        self._plan = plan
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._stage: str = "-"
        self._done: dict[str, set[str]] = {}
        self._failed: dict[str, set[str]] = {}
        self._note = ""
        self.live: Live | None = None

    def _table(self) -> Table:
        table = Table(box=None, show_header=True, header_style="bold")
        for column in ("stage", "hosts", "done", "failed", "elapsed"):
            table.add_column(column, no_wrap=True)
        # The note (task, gate, wait) gives way first on a narrow terminal; the counts never do.
        table.add_column("", overflow="ellipsis", no_wrap=True, ratio=1)
        elapsed = time.monotonic() - self._started
        for stage in self._plan.stages:
            done = len(self._done.get(stage.name, ()))
            failed = len(self._failed.get(stage.name, ()))
            marker = ">" if stage.name == self._stage else ""
            table.add_row(
                f"{marker}{stage.name}",
                str(len(stage.hosts)),
                str(done),
                Text(str(failed), style="red" if failed else ""),
                f"{elapsed:.0f}s" if stage.name == self._stage else "",
                Text(plain(self._note)) if stage.name == self._stage else "",
            )
        return table

    def _refresh(self) -> None:
        if self.live is not None:
            self.live.update(self._table())

    def stage_started(self, run_id: str, stage: Stage) -> None:
        """Mark the stage current."""
        with self._lock:
            self._stage = stage.name
            self._note = "running"
            self._refresh()

    def batch_finished(self, run_id: str, stage: Stage, outcome: BatchOutcome) -> None:
        """Count the batch's hosts."""
        with self._lock:
            for host in outcome.outcomes:
                if host.status.is_success:
                    self._done.setdefault(stage.name, set()).add(host.host)
                elif host.status.counts_as_failure:
                    self._failed.setdefault(stage.name, set()).add(host.host)
            self._refresh()

    def host_event(self, event: HostEvent) -> None:
        """Show the task a host is on (skipped tasks say nothing about progress)."""
        if event.status is TaskStatus.SKIPPED:
            return
        with self._lock:
            self._note = f"{event.host}: {event.task[:40]} ({event.status.value})"
            self._refresh()

    def gate(self, run_id: str, stage: Stage, decision: GateDecision) -> None:
        """Show why the run stops or waits."""
        with self._lock:
            self._note = f"{decision.gate}: {decision.reason}"
            self._refresh()

    def waiting(self, run_id: str, until: datetime, reason: str) -> None:
        """Show what the run waits for."""
        with self._lock:
            self._note = f"waiting until {until:%H:%M:%S} UTC ({reason})"
            self._refresh()


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def _log_to_file(settings: Settings, run_id: str) -> Iterator[Path]:
    """While a live display owns the terminal, structured logs go to `<state>/logs/<run>.log` instead of stderr."""
    directory = settings.state_dir / "logs"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{run_id}.log"
    with path.open("a", encoding="utf-8") as stream:
        configure_logging(settings.log_format, stream)
        try:
            yield path
        finally:
            configure_logging(settings.log_format)


def drive(
    progress: ProgressObserver,
    action: Callable[[], Driven],
    *,
    settings: Settings,
    run_id: str,
    live: bool,
) -> tuple[Driven, Path | None]:
    """Run `action`; SIGTERM is handled like Ctrl-C (the stage is cancelled, exit 130).

    On a terminal (`live`) a progress display owns stderr and the logs go to a file, returned with the report;
    otherwise (no terminal, or --json) there is no display and log lines go to stderr as configured.
    """
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if not live:
            return action(), None
        with (
            _log_to_file(settings, run_id) as log_path,
            Live(progress._table(), console=console_err, refresh_per_second=4, transient=False) as display,
        ):
            progress.live = display
            return action(), log_path
    finally:
        progress.live = None
        signal.signal(signal.SIGTERM, previous)


def live_display(as_json: bool) -> bool:
    """A live display owns the terminal: stderr is one and no JSON is asked for."""
    return console_err.is_terminal and not as_json


def report_data(report: RolloutReport) -> dict[str, Any]:
    """Where a run stands, as JSON data: state, reason, each target's latest status, the failed hosts."""
    return {
        "run": report.run_id,
        "state": report.state.value,
        "reason": report.reason,
        "hosts": {h: (s.value if s else None) for h, s in report.hosts.items()},
        "failed_hosts": list(report.failed_hosts),
        "patched_hosts": list(report.patched_hosts),
    }


def print_report(report: RolloutReport, out: Console | None = None) -> None:
    out = out or console
    colour = {RunState.COMPLETED: "green", RunState.AWAITING_APPROVAL: "yellow"}.get(report.state, "red")
    line = Text("run ")
    line.append(report.run_id, style="bold")
    line.append(": ")
    line.append(report.state.value, style=colour)
    if report.reason:
        line.append(" " + plain(report.reason))
    out.print(line)
    hints: tuple[str, ...] = ()
    if report.state is RunState.AWAITING_APPROVAL:
        hints = (f"  approve:  patchorch approve {report.run_id}", f"  then:     patchorch resume {report.run_id}")
    elif report.state is RunState.WAITING:
        hints = (f"  continue then: patchorch resume {report.run_id}",)
    elif report.state in (RunState.HALTED, RunState.PAUSED, RunState.INTERRUPTED):
        hints = (f"  inspect:  patchorch show {report.run_id}", f"  continue: patchorch resume {report.run_id}")
    for hint in hints:
        out.print(Text(hint))
    if report.failed_hosts:
        out.print(Text(f"  failed: {', '.join(plain(h) for h in report.failed_hosts)}"))


def drive_new_run(
    workspace: Workspace,
    progress: ProgressObserver,
    start: Callable[[str], Driven],
    *,
    settings: Settings,
    as_json: bool,
    announce: Callable[[str], None] | None = None,
) -> tuple[Driven, Path | None]:
    """`drive` a new run: its id is chosen here (and `announce`d) so that Ctrl-C and the logs can name it while
    `start(run_id)` records and drives it."""
    run_id = workspace.new_run_id()
    if announce is not None:
        announce(run_id)
    return drive(progress, lambda: start(run_id), settings=settings, run_id=run_id, live=live_display(as_json))


def finish(report: RolloutReport, log_path: Path | None, *, as_json: bool) -> None:
    """Say where the run ends (JSON on stdout with `as_json`) and exit with the documented status."""
    if as_json:
        print_json(report_data(report))
    else:
        print_report(report)
        if log_path is not None:
            console.print(Text(f"  log: {log_path}"), soft_wrap=True)  # a path is never broken over lines
    raise typer.Exit(exit_status(report))


def confirm(yes: bool, question: str, *, err: bool = False) -> None:
    """Ask `question` on the terminal unless `yes`; no answer (or no terminal) stops the command, nothing ran."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise ConfigError([Problem("refusing to run without a terminal to confirm; pass --yes", field="--yes")])
    if not typer.confirm(question, default=False, err=err):
        raise typer.Exit(EXIT_BAD_INPUT)
