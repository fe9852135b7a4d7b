"""`patchorch rollout`, `runs`, `status`, `show`, `approve`, `resume`, `abort` and `audit verify`.

Exit statuses of commands that drive a run: 0 every host patched, 1 halted, paused or host failures,
2 bad input, 3 waiting (for an approval, or for a soak or window longer than --max-wait), 130 interrupted.
"""

from __future__ import annotations

import getpass
import json
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from patchorch.cli._app import app
from patchorch.cli._common import (
    EXIT_AWAITING_APPROVAL,
    EXIT_BAD_INPUT,
    EXIT_FINDINGS,
    EXIT_OK,
    InventoryOption,
    JsonOption,
    LimitOption,
    PolicyOption,
    VaultIdOption,
    VaultPasswordFileOption,
    ask_credentials,
    configure_logging,
    console,
    console_err,
    owners_in,
    plain,
    print_json,
    require_inventory,
    state,
)
from patchorch.clock import Clock, DrillClock
from patchorch.config import Settings
from patchorch.domain.eligibility import left_alone
from patchorch.domain.fleet import Fleet
from patchorch.domain.gates import GateDecision
from patchorch.domain.outcomes import BatchOutcome, HostStatus
from patchorch.domain.plan import PackageSpec, RolloutPlan, Stage, UpdateScope, UpdateSpec
from patchorch.domain.run import AttemptRecord, RunInputs, RunRecord, RunState, StageState
from patchorch.domain.spans import parse_span
from patchorch.domain.vulnerability import Decision, HostVulnerability
from patchorch.errors import ConfigError, InputError, Problem
from patchorch.execution.base import Credentials, HostEvent, TaskStatus, VaultId
from patchorch.orchestrator.observers import LogObserver, Observer

# The engine and the workspace (the store, sqlalchemy, Ansible) load inside the commands that run something.
if TYPE_CHECKING:
    from patchorch.orchestrator.engine import RolloutReport
    from patchorch.orchestrator.workspace import Workspace

Driven = TypeVar("Driven")

audit_app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def actor() -> str:
    """Who is acting: user@host, recorded with every run, approval and audit record."""
    return f"{getpass.getuser()}@{socket.gethostname()}"


def owners_of(
    inventory: Sequence[str | Path], *, contact: bool = True, vault_ids: Sequence[VaultId] = ()
) -> dict[str, str] | None:
    """Each host's owner as 'team <contact>' (or the team alone) from the inventory as it reads now; None when it
    cannot be read."""
    from patchorch.sources.inventory import load_fleet

    if not inventory:
        return None
    try:
        fleet = load_fleet([Path(p) for p in inventory], vault_ids=vault_ids).fleet
    except InputError:
        return None
    return owners_in(fleet, contact=contact)


def recorded_owners(plan: RolloutPlan) -> dict[str, str]:
    """Each target's owner as the run's plan recorded it ('team <contact>'): what `status` and `show` name, without
    reading the inventory again (it may need vault ids, or have changed since the run)."""
    return {h.name: plain(h.owner) for h in plan.hosts if h.owner is not None}


def open_workspace(
    settings: Settings,
    *,
    max_wait: timedelta | None = None,
    credentials: Credentials | None = None,
    clock: Clock | None = None,
    claim_wait: timedelta | None = None,
) -> Workspace:
    """The Workspace for these settings, with structured logs among the observers (displays are added later)."""
    from patchorch.orchestrator.workspace import Leases, Workspace

    configure_logging(settings.log_format)
    return Workspace.open(
        settings.state_dir,
        store_url=settings.store_url,
        actor=actor(),
        observers=(LogObserver(),),
        template_dir=settings.template_dir,
        max_wait=max_wait,
        credentials=credentials,
        clock=clock,
        claim_wait=claim_wait,
        leases=Leases(run_lock_lease=settings.run_lock_lease, claim_lease=settings.claim_lease),
    )


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
    workspace: Workspace,
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


def _print_report(report: RolloutReport, out: Console | None = None) -> None:
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
    from patchorch.orchestrator.engine import new_run_id  # the engine loads only when a command runs

    run_id = new_run_id(workspace.clock.now())
    if announce is not None:
        announce(run_id)
    return drive(
        workspace, progress, lambda: start(run_id), settings=settings, run_id=run_id, live=live_display(as_json)
    )


def finish(report: RolloutReport, log_path: Path | None, *, as_json: bool) -> None:
    """Say where the run ends (JSON on stdout with `as_json`) and exit with the documented status."""
    if as_json:
        print_json(report_data(report))
    else:
        _print_report(report)
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


def update_spec(packages: list[str], *, all_updates: bool) -> UpdateSpec:
    """What to install from --package / --all-updates; a malformed package is one clear error naming the flag."""
    if packages and all_updates:
        raise ConfigError([Problem("give --package or --all-updates, not both", field="--all-updates")])
    if all_updates:
        return UpdateSpec(scope=UpdateScope.ALL)
    if not packages:
        return UpdateSpec(scope=UpdateScope.SECURITY)
    specs = []
    for text in packages:
        name, op, version = _split_package(text)
        try:
            specs.append(
                PackageSpec(name=name, version=version if op == "=" else None, at_least=version if op == ">=" else None)
            )
        except ValidationError:
            problem = Problem(
                f"not a package name or version: {text!r}",
                field="--package",
                allowed="NAME, NAME=VERSION or NAME>=VERSION",
            )
            raise ConfigError([problem]) from None
    return UpdateSpec(scope=UpdateScope.PACKAGES, packages=tuple(specs))


def _split_package(text: str) -> tuple[str, str, str | None]:
    for op in (">=", "="):
        if op in text:
            name, _, version = text.partition(op)
            return name.strip(), op, version.strip()
    return text.strip(), "", None


def _advisory_inputs(
    settings: Settings,
    fleet: Fleet,
    advisory: str,
    workspace: Workspace,
    out: Console,
) -> tuple[set[str], UpdateSpec, list[HostVulnerability], Decision | None]:
    """The affected hosts, the fixing update, the planner's risk inputs and the decision for `advisory`."""
    from patchorch.cli.advisories import open_advisory_store
    from patchorch.orchestrator.exposure import advisory_targets, hosts_without_facts

    store = open_advisory_store(settings)
    now = workspace.clock.now()
    found = advisory_targets(store, fleet, advisory, now)
    unknown = [name for name in hosts_without_facts(store, fleet, now) if left_alone(fleet.get(name)) is None]
    decision = found.decision.value if found.decision else "none"
    out.print(Text(f"advisory {plain(advisory)}: {len(found.targets)} affected host(s), decision {decision}"))
    if unknown:
        out.print(
            Text(
                f"no fresh package facts for {', '.join(sorted(unknown))}: they are not targeted; "
                "run `patchorch facts refresh`",
                style="yellow",
            )
        )
    return found.targets, found.update, list(found.vulnerabilities.values()), found.decision


def plan_and_show(
    settings: Settings,
    sources: tuple[Path, ...],
    workspace: Workspace,
    out: Console,
    *,
    emergency: bool,
    limit: str | None,
    advisory: str | None,
    package: list[str] | None,
    all_updates: bool,
    as_json: bool,
    nothing: str,
) -> RolloutPlan:
    """Plan what `rollout` and `drill` run and show it on `out`; with no targets say `nothing` and exit 0.

    For `advisory`: its affected hosts and fixing update (an 'immediate' decision chooses the emergency strategy);
    else the update --package/--all-updates name (security updates by default) on every eligible host.
    """
    from patchorch.cli.plan import render_plan
    from patchorch.sources.inventory import load_fleet

    # Loaded once: the advisory's exposure, the plan and the owners shown all read this fleet.
    loaded = load_fleet(list(sources), limit=limit, vault_ids=workspace.vault_ids)
    if advisory is not None:
        if package or all_updates:
            raise ConfigError(
                [Problem("--advisory chooses the packages; drop --package/--all-updates", field="--advisory")]
            )
        targets, update, vulnerabilities, decision = _advisory_inputs(settings, loaded.fleet, advisory, workspace, out)
        if decision is Decision.IMMEDIATE and not emergency:
            out.print(Text(f"advisory {plain(advisory)}: decision immediate, so the emergency strategy is used"))
            emergency = True
        plan = workspace.plan(
            loaded,
            policy=settings.policy,
            emergency=emergency,
            targets=targets,
            update=update,
            vulnerabilities=vulnerabilities,
        )
    else:
        update = update_spec(package or [], all_updates=all_updates)
        plan = workspace.plan(loaded, policy=settings.policy, emergency=emergency, update=update)
    policy_label = str(settings.policy) if settings.policy else "built-in default"
    out.print(render_plan(plan, policy_label=policy_label, owners=owners_in(loaded.fleet, contact=False)))
    if not plan.targets:
        out.print(nothing)
        if as_json:
            print_json({"run": None, "state": None, "reason": "the plan has no targets", "hosts": {}})
        raise typer.Exit(EXIT_OK)
    return plan


def run_inputs(settings: Settings, sources: tuple[Path, ...], **fields: Any) -> RunInputs:
    """What a run is started from: the resolved inventory, policy and templates, and `fields` (limit, check...)."""
    return RunInputs(
        inventory=tuple(str(p.resolve()) for p in sources),
        policy=str(settings.policy) if settings.policy else None,
        template_dir=str(settings.template_dir) if settings.template_dir else None,
        **fields,
    )


@app.command()
def rollout(
    ctx: typer.Context,
    inventory: InventoryOption = None,
    limit: LimitOption = None,
    policy: PolicyOption = None,
    emergency: Annotated[bool, typer.Option("--emergency", help="Compressed emergency path; windows ignored.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Run every stage in Ansible check mode (read-only).")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before running.")] = False,
    package: Annotated[
        list[str] | None,
        typer.Option(
            "--package", "-p", help="Update only this package: NAME, NAME=VERSION or NAME>=VERSION; repeatable."
        ),
    ] = None,
    all_updates: Annotated[
        bool, typer.Option("--all-updates", help="Install every available update, not only security updates.")
    ] = False,
    advisory: Annotated[
        str | None,
        typer.Option(
            "--advisory",
            help="Patch exactly the hosts this imported advisory (ID or CVE) affects, with its fixed versions; "
            "an 'immediate' decision chooses the emergency strategy.",
        ),
    ] = None,
    max_wait: MaxWaitOption = "1h",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print where the run ends as JSON on stdout (the plan goes to stderr).")
    ] = False,
    ask_become_pass: AskBecomePassOption = False,
    vault_id: VaultIdOption = None,
    vault_password_file: VaultPasswordFileOption = None,
    wait_for_claims: WaitForClaimsOption = "0",
) -> None:
    """Plan, show, confirm, then run a rollout stage by stage, recording every outcome.

    Without --package, --all-updates or --advisory the rollout installs security updates. On a terminal a live
    display shows progress and the structured log goes to <state>/logs/<run>.log; otherwise log lines go to stderr.
    """
    # With --json, stdout carries only the JSON: everything for people goes to stderr.
    out = console_err if as_json else console
    settings = state(ctx).settings(inventory=inventory, policy=policy)
    sources = require_inventory(settings)
    claim_wait = claim_wait_span(wait_for_claims)
    credentials = ask_credentials(ask_become_pass, vault_id, vault_password_file)
    workspace = open_workspace(
        settings, max_wait=max_wait_span(max_wait), credentials=credentials, claim_wait=claim_wait
    )
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
        nothing="nothing to patch: the plan has no targets",
    )
    confirm(yes, f"Patch {len(plan.targets)} host(s) in {len(plan.stages)} stage(s)?", err=as_json)
    progress = ProgressObserver(plan)
    workspace.orchestrator.add_observer(progress)
    inputs = run_inputs(settings, sources, limit=limit, advisory=advisory, check=check)
    report, log_path = drive_new_run(
        workspace,
        progress,
        lambda run_id: workspace.start(plan, inventory=sources, inputs=inputs, run_id=run_id),
        settings=settings,
        as_json=as_json,
    )
    finish(report, log_path, as_json=as_json)


RunIdArgument = Annotated[str, typer.Argument(help="The run.", autocompletion=lambda: _recent_run_ids())]


def _recent_run_ids() -> list[str]:
    """Run ids for shell completion: the newest runs of the configured store (nothing when there is none yet)."""
    from patchorch.cli._common import State
    from patchorch.store.location import STORE_FILE
    from patchorch.store.runs import RunStore

    try:
        settings = State().settings()
        if settings.store_url is None and not (settings.state_dir / STORE_FILE).exists():
            return []
        return [r.id for r in RunStore.open(settings.database_url, actor=actor()).runs(20)]
    except Exception:  # completion must never break the shell, whatever the store says
        return []


@app.command()
def resume(
    ctx: typer.Context,
    run_id: RunIdArgument,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Dispatch hosts that failed again (default: acknowledge them).")
    ] = False,
    max_wait: MaxWaitOption = "1h",
    as_json: JsonOption = False,
    ask_become_pass: AskBecomePassOption = False,
    vault_id: VaultIdOption = None,
    vault_password_file: VaultPasswordFileOption = None,
    wait_for_claims: WaitForClaimsOption = "0",
    accept_inventory_change: Annotated[
        bool,
        typer.Option(
            "--accept-inventory-change",
            help="Go on with the frozen plan although the inventory changed under hosts still to patch (recorded).",
        ),
    ] = False,
) -> None:
    """Continue a halted, paused, approval-waiting or interrupted run: reconcile unknown hosts first.

    The inventory is read again: a host still to patch that is gone, decommissioned, excluded, marked unavailable or
    in another cluster refuses the resume (exit 2) unless --accept-inventory-change.
    A drill goes on as a drill: on a drill clock (no wait is waited for), ending with the drill's report."""
    settings = state(ctx).settings()
    claim_wait = claim_wait_span(wait_for_claims)
    credentials = ask_credentials(ask_become_pass, vault_id, vault_password_file)
    workspace = open_workspace(
        settings, max_wait=max_wait_span(max_wait), credentials=credentials, claim_wait=claim_wait
    )
    drilling = workspace.store.run(run_id).inputs.drill
    if drilling:
        workspace = open_workspace(settings, clock=DrillClock(), credentials=credentials, claim_wait=claim_wait)
    progress = ProgressObserver(workspace.store.plan(run_id))
    workspace.orchestrator.add_observer(progress)
    report, log_path = drive(
        workspace,
        progress,
        lambda: workspace.resume(run_id, retry_failed=retry_failed, accept_inventory_change=accept_inventory_change),
        settings=settings,
        run_id=run_id,
        live=live_display(as_json),
    )
    if drilling:
        from patchorch.cli.drill import finish_drill  # the drill command builds on this module

        finish_drill(workspace.drill_report(run_id), log_path, as_json=as_json)
    finish(report, log_path, as_json=as_json)


@app.command()
def approve(
    ctx: typer.Context,
    run_id: RunIdArgument,
    stage: Annotated[str | None, typer.Option("--stage", help="Stage to approve (default: the one waiting).")] = None,
    comment: Annotated[str, typer.Option("--comment", help="Change ticket or reason.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Record who approved a stage; `patchorch resume RUN` then continues."""
    workspace = open_workspace(state(ctx).settings())
    record = workspace.approve(run_id, actor(), stage=stage, comment=comment)
    if as_json:
        print_json(record.model_dump(mode="json"))
        return
    console.print(Text(f"approved stage {record.stage} of run {run_id} as {plain(record.approver)}"))


@app.command()
def abort(
    ctx: typer.Context,
    run_id: RunIdArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the record.")] = "aborted by operator",
    as_json: JsonOption = False,
) -> None:
    """End a run for good: nothing more is dispatched."""
    workspace = open_workspace(state(ctx).settings())
    workspace.abort(run_id, reason)
    if as_json:
        print_json(workspace.store.run(run_id).model_dump(mode="json"))
        return
    console.print(Text(f"run {run_id} aborted"))


@app.command()
def runs(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List recorded runs, newest first; drills and other rehearsals (check mode) say so."""
    records = open_workspace(state(ctx).settings()).runs()
    # A rollback is always newer than the run it undoes: both are among the newest runs listed, or the run is not.
    undone_by: dict[str, list[str]] = {}
    for r in reversed(records):
        if r.rollback_of is not None:
            undone_by.setdefault(r.rollback_of, []).append(r.id)
    if as_json:
        print_json([r.model_dump(mode="json") | {"rolled_back_by": undone_by.get(r.id, [])} for r in records])
        return
    table = Table("run", "created (UTC)", "by", "mode", "state", "reason", box=None, header_style="bold")
    for r in records:
        mode = r.mode.value + (" drill" if r.inputs.drill else " check" if r.inputs.check else "")
        if r.rollback_of is not None:
            mode += " rollback"
        table.add_row(
            r.id,
            f"{r.created_at:%Y-%m-%d %H:%M}",
            Text(plain(r.created_by)),
            mode,
            r.state.value,
            Text(plain(r.state_reason)),
        )
    console.print(table)
    # Below the table, whole: run ids in a narrow column would be cut.
    for r in records:
        if r.rollback_of is not None:
            console.print(Text(f"{r.id} rolls back {r.rollback_of}"), soft_wrap=True)


def _rehearsal_kind(run: RunRecord) -> str:
    return "a drill" if run.inputs.drill else "a rehearsal"


def _owner_text(owners: dict[str, str] | None, host: str) -> str:
    if owners is None:
        return "owner unknown (inventory not readable)"
    return plain(owners.get(host, "no owner"))


@app.command()
def status(
    ctx: typer.Context,
    run_id: Annotated[
        str | None, typer.Argument(help="The run (default: the newest).", autocompletion=lambda: _recent_run_ids())
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Where a run stands: state, stages, counts, and every host still needing attention with its owner."""
    workspace = open_workspace(state(ctx).settings())
    if run_id is None:
        newest = workspace.runs(1)
        if not newest:
            if as_json:
                print_json(None)
            else:
                console.print("no runs recorded")
            return
        run_id = newest[0].id
    view = workspace.view(run_id)
    stages = workspace.store.stages(run_id)
    owners = recorded_owners(view.report.plan)
    attention = {h: s for h, s in view.report.hosts.items() if s is None or not s.is_success}
    if as_json:
        print_json(
            {
                "run": view.run.model_dump(mode="json"),
                "stages": [s.model_dump(mode="json") for s in stages],
                "hosts": {h: (s.value if s else None) for h, s in view.report.hosts.items()},
                "owners": owners,
            }
        )
        return
    _print_report(view.report)
    if view.run.inputs.check:
        console.print(Text(f"  check mode: {_rehearsal_kind(view.run)}, nothing was installed", style="yellow"))
    for record in stages:
        hosts = view.report.plan.stage(record.name).hosts
        done = sum(1 for h in hosts if (s := view.report.hosts.get(h)) is not None and s.is_success)
        failed = sum(1 for h in hosts if (s := view.report.hosts.get(h)) is not None and s.counts_as_failure)
        soak = f", soak until {record.soak_until:%H:%M:%S}" if record.state is StageState.SOAKING else ""
        line = Text(f"  {record.name}  ", overflow="fold")
        line.append(record.state.value, style="bold")
        line.append(f"  {done}/{len(hosts)} done, {failed} failed{soak}")
        console.print(line)
    if attention:
        console.print(Text("hosts needing attention:"))
    for host, host_status in attention.items():
        line = Text(f"  {plain(host)}  ", overflow="fold")
        line.append(host_status.value if host_status else "not yet patched", style="red" if host_status else "yellow")
        line.append(f"  {_owner_text(owners, host)}")
        console.print(line)


def _attempt_lines(attempt: AttemptRecord, owners: dict[str, str] | None, width: int) -> list[Text]:
    """One attempt stacked over lines: where and what, the owner, each package's versions, the note.

    A package's versions share its line when they fit `width`; otherwise each version gets a line of its own.
    """
    outcome = attempt.outcome
    head = Text(f"{attempt.stage} · batch {attempt.batch} · try {attempt.attempt} · ", overflow="fold")
    head.append(plain(attempt.host), style="bold")
    head.append(" · ")
    if attempt.status is None:
        head.append("dispatched (no outcome yet)", style="yellow")
    else:
        head.append(attempt.status.value, style="red" if attempt.status.counts_as_failure else "green")
    lines = [head, Text(f"    owner  {_owner_text(owners, attempt.host)}", overflow="fold")]
    if outcome is not None:
        before, after = outcome.versions_before, outcome.versions_after
        for package in sorted(before.keys() | after.keys()):
            old, new = plain(before.get(package, "-")), plain(after.get(package, "-"))
            change = f"{old} -> {new}" if old != new else f"{old} (unchanged)"
            one_line = f"    {plain(package)}  {change}"
            if len(one_line) <= width:
                lines.append(Text(one_line))
            else:  # stacked: the package, then each version whole on a line of its own
                lines.append(Text(f"    {plain(package)}", overflow="fold"))
                lines.append(Text(f"      before {old}", overflow="fold"))
                lines.append(Text(f"      after  {new}" if old != new else "      after  (unchanged)", overflow="fold"))
        for name, hook in outcome.hooks.items():
            text = f"    hook   {plain(name)} {hook.status}" + (f", exit {hook.rc}" if hook.rc is not None else "")
            if hook.output:
                text += f": {plain(hook.output)}"
            lines.append(Text(text, overflow="fold"))
        if outcome.failed_step:
            lines.append(Text(f"    failed at {plain(outcome.failed_step)}", overflow="fold", style="red"))
        if outcome.message:
            lines.append(Text(f"    note   {plain(outcome.message)}", overflow="fold"))
    if attempt.acknowledged_at is not None:
        who = plain(attempt.acknowledged_by or "?")
        lines.append(
            Text(f"    acknowledged by {who} at {attempt.acknowledged_at:%Y-%m-%d %H:%M} UTC", overflow="fold")
        )
    return lines


@app.command()
def show(
    ctx: typer.Context,
    run_id: RunIdArgument,
    as_json: JsonOption = False,
) -> None:
    """Everything recorded about a run: plan hash, stages, every attempt with its owner and versions before and after.

    Each attempt is stacked over a few lines, so versions are never cut off on a narrow terminal.
    """
    workspace = open_workspace(state(ctx).settings())
    view = workspace.view(run_id)
    attempts = workspace.store.attempts(run_id)
    approvals = workspace.store.approvals(run_id)
    rolled_back_by = workspace.store.rollbacks_of(run_id)
    if as_json:
        print_json(
            {
                "run": view.run.model_dump(mode="json"),
                "rolled_back_by": rolled_back_by,
                "plan": json.loads(view.report.plan.canonical_json()),
                "stages": [s.model_dump(mode="json") for s in workspace.store.stages(run_id)],
                "attempts": [a.model_dump(mode="json") for a in attempts],
                "approvals": [a.model_dump(mode="json") for a in approvals],
            }
        )
        return
    run = view.run
    owners = recorded_owners(view.report.plan)
    console.print(
        Text(
            f"run {run.id} ({run.mode.value}) by {plain(run.created_by)} at {run.created_at:%Y-%m-%d %H:%M:%S} UTC",
            overflow="fold",
        )
    )
    console.print(
        Text(f"plan {run.plan_hash[:16]}  state {run.state.value}  {plain(run.state_reason)}", overflow="fold")
    )
    if run.inputs.check:
        console.print(Text(f"check mode: {_rehearsal_kind(run)}, nothing was installed", style="yellow"))
    if run.rollback_of is not None:
        console.print(Text(f"rolls back run {run.rollback_of}: its hosts go back to the versions before it"))
    for later in rolled_back_by:
        console.print(Text(f"rolled back by run {later}", style="yellow"))
    for attempt in attempts:
        for line in _attempt_lines(attempt, owners, console.width):
            console.print(line)
    for approval in approvals:
        when = f"{approval.at:%Y-%m-%d %H:%M}"
        console.print(
            Text(
                f"approved {approval.stage} by {plain(approval.approver)} at {when} {plain(approval.comment)}",
                overflow="fold",
            )
        )
    pending = [h for h, s in view.report.hosts.items() if s is None or s is HostStatus.SKIPPED]
    if pending:
        console.print(Text(f"not yet patched: {', '.join(plain(h) for h in pending)}", overflow="fold"))


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    as_json: JsonOption = False,
    against: Annotated[
        Path | None,
        typer.Option("--against", help="A signed export (`audit export`): the store must still hold its head."),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="The ed25519 public key the export must be signed with (.pub or PEM)."),
    ] = None,
) -> None:
    """Verify the audit chain and every run, stage, attempt and approval it covers; exit 1 and name the first record
    that does not match. With --against, also detect a store cut back or rewritten since that export."""
    from patchorch.errors import AuditChainError

    workspace = open_workspace(state(ctx).settings())
    try:
        count = workspace.verify_audit(against=against, trusted_key=public_key)
    except AuditChainError as exc:
        seq = exc.context.get("seq")
        if as_json:
            print_json({"intact": False, "records": None, "problem": str(exc), "first_bad_record": seq})
        else:
            console_err.print(f"audit chain broken: {exc}", markup=False)
        raise typer.Exit(EXIT_FINDINGS) from None
    if as_json:
        print_json({"intact": True, "records": count, "problem": None, "first_bad_record": None})
        return
    suffix = f", holding the head of {against}" if against else ""
    console.print(f"audit chain intact: {count} record(s){suffix}")


@audit_app.command("export")
def audit_export(
    ctx: typer.Context,
    key: Annotated[Path, typer.Option("--key", help="Your ed25519 private key (OpenSSH or PEM, no passphrase).")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the export: somewhere the database cannot reach.")
    ],
    records: Annotated[bool, typer.Option("--records", help="Also export the hash of every record.")] = False,
) -> None:
    """Sign the audit chain's head with your key and write it out, for `audit verify --against` later."""
    workspace = open_workspace(state(ctx).settings())
    export = workspace.export_audit(key, with_records=records)
    try:
        output.write_text(export.model_dump_json(indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(f"cannot be written ({exc.strerror})", file=str(output), field="--output")]) from exc
    console.print(f"audit head {export.head_seq} ({export.head_hash[:16]}) signed and written to {output}")
