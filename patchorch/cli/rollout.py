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
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.live import Live
from rich.table import Table

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
    console,
    console_err,
    print_json,
    require_inventory,
    state,
)
from patchorch.config import Settings
from patchorch.domain.fleet import Lifecycle
from patchorch.domain.gates import GateDecision
from patchorch.domain.outcomes import BatchOutcome, HostStatus
from patchorch.domain.plan import PackageSpec, RolloutPlan, Stage, UpdateScope, UpdateSpec
from patchorch.domain.policy import parse_span
from patchorch.domain.run import RunInputs, RunState, StageState
from patchorch.domain.vulnerability import Decision, HostVulnerability
from patchorch.errors import ConfigError, Problem
from patchorch.execution.base import HostEvent, TaskStatus
from patchorch.orchestrator.engine import RolloutReport
from patchorch.orchestrator.observers import LogObserver, Observer
from patchorch.orchestrator.workspace import Workspace

audit_app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def actor() -> str:
    """Who is acting: user@host, recorded with every run, approval and audit record."""
    return f"{getpass.getuser()}@{socket.gethostname()}"


def open_workspace(settings: Settings, *, max_wait: timedelta | None = None) -> Workspace:
    """The Workspace for these settings, with structured logs among the observers (displays are added later)."""
    return Workspace.open(
        settings.state_dir,
        store_url=settings.store_url,
        actor=actor(),
        observers=(LogObserver(),),
        template_dir=settings.template_dir,
        max_wait=max_wait,
    )


MaxWaitOption = Annotated[
    str,
    typer.Option(
        "--max-wait",
        help="Wait in this process for soak times and maintenance windows up to this long (30m, 2h, 0); a longer "
        "wait leaves the run 'waiting' (exit 3) to be resumed then.",
    ),
]


def max_wait_span(text: str) -> timedelta:
    """--max-wait as a duration; one clear error naming the flag when it is not one."""
    try:
        return parse_span(text, allow_zero=True)
    except ValueError as exc:
        raise ConfigError([Problem(str(exc), field="--max-wait", value=text, allowed="0, 30m, 2h, 1d")]) from None


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
        for column in ("stage", "hosts", "done", "failed", "elapsed", ""):
            table.add_column(column)
        elapsed = time.monotonic() - self._started
        for stage in self._plan.stages:
            done = len(self._done.get(stage.name, ()))
            failed = len(self._failed.get(stage.name, ()))
            marker = ">" if stage.name == self._stage else ""
            table.add_row(
                f"{marker}{stage.name}",
                str(len(stage.hosts)),
                str(done),
                f"[red]{failed}[/red]" if failed else "0",
                f"{elapsed:.0f}s" if stage.name == self._stage else "",
                self._note if stage.name == self._stage else "",
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


def _drive(workspace: Workspace, progress: ProgressObserver, action: Any) -> RolloutReport:
    """Run `action` with a live display; SIGTERM is handled like Ctrl-C (the stage is cancelled, exit 130)."""
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with Live(progress._table(), console=console_err, refresh_per_second=4, transient=False) as live:
            progress.live = live
            report: RolloutReport = action()
            return report
    finally:
        progress.live = None
        signal.signal(signal.SIGTERM, previous)


def _print_report(report: RolloutReport) -> None:
    colour = {RunState.COMPLETED: "green", RunState.AWAITING_APPROVAL: "yellow"}.get(report.state, "red")
    console.print(f"run [bold]{report.run_id}[/bold]: [{colour}]{report.state.value}[/{colour}] {report.reason}")
    if report.state is RunState.AWAITING_APPROVAL:
        console.print(f"  approve with: patchorch approve {report.run_id}, then: patchorch resume {report.run_id}")
    elif report.state is RunState.WAITING:
        console.print(f"  continue then with: patchorch resume {report.run_id}")
    elif report.state in (RunState.HALTED, RunState.PAUSED, RunState.INTERRUPTED):
        console.print(f"  inspect: patchorch show {report.run_id}; continue: patchorch resume {report.run_id}")
    if report.failed_hosts:
        console.print(f"  failed: {', '.join(report.failed_hosts)}")


def _confirm(yes: bool, question: str) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise ConfigError([Problem("refusing to run without a terminal to confirm; pass --yes", field="--yes")])
    if not typer.confirm(question, default=False):
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
    settings: Settings, sources: tuple[Path, ...], limit: str | None, advisory: str, workspace: Workspace
) -> tuple[set[str], UpdateSpec, list[HostVulnerability], Decision | None]:
    """The affected hosts, the fixing update, the planner's risk inputs and the decision for `advisory`."""
    from patchorch.cli.advisories import open_advisory_store
    from patchorch.orchestrator.exposure import advisory_targets, hosts_without_facts
    from patchorch.sources.inventory import load_fleet

    store = open_advisory_store(settings)
    fleet = load_fleet(list(sources), limit=limit).fleet
    now = workspace.clock.now()
    found = advisory_targets(store, fleet, advisory, now)
    unknown = [
        name
        for name in hosts_without_facts(store, fleet, now)
        if fleet.get(name).lifecycle is not Lifecycle.DECOMMISSIONED and not fleet.get(name).exclude
    ]
    decision = found.decision.value if found.decision else "none"
    console.print(f"advisory {advisory}: {len(found.targets)} affected host(s), decision {decision}")
    if unknown:
        console.print(
            f"[yellow]no fresh package facts for {', '.join(sorted(unknown))}: they are not targeted; "
            "run `patchorch facts refresh`[/yellow]"
        )
    return found.targets, found.update, list(found.vulnerabilities.values()), found.decision


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
) -> None:
    """Plan, show, confirm, then run a rollout stage by stage, recording every outcome.

    Without --package, --all-updates or --advisory the rollout installs security updates.
    """
    from patchorch.cli.plan import render_plan

    settings = state(ctx).settings(inventory=inventory, policy=policy)
    sources = require_inventory(settings)
    workspace = open_workspace(settings, max_wait=max_wait_span(max_wait))
    if advisory is not None:
        if package or all_updates:
            raise ConfigError(
                [Problem("--advisory chooses the packages; drop --package/--all-updates", field="--advisory")]
            )
        targets, update, vulnerabilities, decision = _advisory_inputs(settings, sources, limit, advisory, workspace)
        if decision is Decision.IMMEDIATE and not emergency:
            console.print(f"advisory {advisory}: decision immediate, so the emergency strategy is used")
            emergency = True
        plan = workspace.plan(
            sources,
            policy=settings.policy,
            emergency=emergency,
            limit=limit,
            targets=targets,
            update=update,
            vulnerabilities=vulnerabilities,
        )
    else:
        update = update_spec(package or [], all_updates=all_updates)
        plan = workspace.plan(sources, policy=settings.policy, emergency=emergency, limit=limit, update=update)
    console.print(render_plan(plan, policy_label=str(settings.policy) if settings.policy else "built-in default"))
    if not plan.targets:
        console.print("nothing to patch: the plan has no targets")
        raise typer.Exit(EXIT_OK)
    _confirm(yes, f"Patch {len(plan.targets)} host(s) in {len(plan.stages)} stage(s)?")
    progress = ProgressObserver(plan)
    workspace.orchestrator.add_observer(progress)
    inputs = RunInputs(
        inventory=tuple(str(p.resolve()) for p in sources),
        policy=str(settings.policy) if settings.policy else None,
        limit=limit,
        advisory=advisory,
        check=check,
        template_dir=str(settings.template_dir) if settings.template_dir else None,
    )
    report = _drive(workspace, progress, lambda: workspace.start(plan, inventory=sources, inputs=inputs))
    _print_report(report)
    raise typer.Exit(exit_status(report))


@app.command()
def resume(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run to continue.")],
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Dispatch hosts that failed again (default: acknowledge them).")
    ] = False,
    max_wait: MaxWaitOption = "1h",
) -> None:
    """Continue a halted, paused, approval-waiting or interrupted run: reconcile unknown hosts first."""
    settings = state(ctx).settings()
    workspace = open_workspace(settings, max_wait=max_wait_span(max_wait))
    progress = ProgressObserver(workspace.store.plan(run_id))
    workspace.orchestrator.add_observer(progress)
    report = _drive(workspace, progress, lambda: workspace.resume(run_id, retry_failed=retry_failed))
    _print_report(report)
    raise typer.Exit(exit_status(report))


@app.command()
def approve(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run waiting for approval.")],
    stage: Annotated[str | None, typer.Option("--stage", help="Stage to approve (default: the one waiting).")] = None,
    comment: Annotated[str, typer.Option("--comment", help="Change ticket or reason.")] = "",
) -> None:
    """Record who approved a stage; `patchorch resume RUN` then continues."""
    workspace = open_workspace(state(ctx).settings())
    record = workspace.approve(run_id, actor(), stage=stage, comment=comment)
    console.print(f"approved stage {record.stage} of run {run_id} as {record.approver}")


@app.command()
def abort(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run to end.")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the record.")] = "aborted by operator",
) -> None:
    """End a run for good: nothing more is dispatched."""
    open_workspace(state(ctx).settings()).abort(run_id, reason)
    console.print(f"run {run_id} aborted")


@app.command()
def runs(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List recorded runs, newest first."""
    records = open_workspace(state(ctx).settings()).runs()
    if as_json:
        print_json([r.model_dump(mode="json") for r in records])
        return
    table = Table("run", "created (UTC)", "by", "mode", "state", "reason", box=None, header_style="bold")
    for r in records:
        table.add_row(r.id, f"{r.created_at:%Y-%m-%d %H:%M}", r.created_by, r.mode.value, r.state.value, r.state_reason)
    console.print(table)


@app.command()
def status(
    ctx: typer.Context,
    run_id: Annotated[str | None, typer.Argument(help="The run (default: the newest).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Where a run stands: state, stages, counts."""
    workspace = open_workspace(state(ctx).settings())
    if run_id is None:
        newest = workspace.runs(1)
        if not newest:
            console.print("no runs recorded")
            return
        run_id = newest[0].id
    view = workspace.view(run_id)
    stages = workspace.store.stages(run_id)
    if as_json:
        print_json(
            {
                "run": view.run.model_dump(mode="json"),
                "stages": [s.model_dump(mode="json") for s in stages],
                "hosts": {h: (s.value if s else None) for h, s in view.report.hosts.items()},
            }
        )
        return
    _print_report(view.report)
    for record in stages:
        hosts = view.report.plan.stage(record.name).hosts
        done = sum(1 for h in hosts if (s := view.report.hosts.get(h)) is not None and s.is_success)
        failed = sum(1 for h in hosts if (s := view.report.hosts.get(h)) is not None and s.counts_as_failure)
        soak = f" soak until {record.soak_until:%H:%M:%S}" if record.state is StageState.SOAKING else ""
        console.print(f"  {record.name:<24} {record.state.value:<10} {done}/{len(hosts)} done, {failed} failed{soak}")


@app.command()
def show(ctx: typer.Context, run_id: Annotated[str, typer.Argument()], as_json: JsonOption = False) -> None:
    """Everything recorded about a run: plan hash, stages, every attempt with versions before and after."""
    workspace = open_workspace(state(ctx).settings())
    view = workspace.view(run_id)
    attempts = workspace.store.attempts(run_id)
    approvals = workspace.store.approvals(run_id)
    if as_json:
        print_json(
            {
                "run": view.run.model_dump(mode="json"),
                "plan": json.loads(view.report.plan.canonical_json()),
                "stages": [s.model_dump(mode="json") for s in workspace.store.stages(run_id)],
                "attempts": [a.model_dump(mode="json") for a in attempts],
                "approvals": [a.model_dump(mode="json") for a in approvals],
            }
        )
        return
    run = view.run
    console.print(f"run {run.id} ({run.mode.value}) by {run.created_by} at {run.created_at:%Y-%m-%d %H:%M:%S} UTC")
    console.print(f"plan {run.plan_hash[:16]}  state {run.state.value}  {run.state_reason}")
    table = Table("stage", "batch", "try", "host", "status", "before", "after", "note", box=None, header_style="bold")
    for a in attempts:
        outcome = a.outcome
        status_text = a.status.value if a.status else "dispatched (no outcome yet)"
        if a.status is not None and a.status.counts_as_failure:
            status_text = f"[red]{status_text}[/red]"
        before = ", ".join(f"{k} {v}" for k, v in (outcome.versions_before if outcome else {}).items())
        after = ", ".join(f"{k} {v}" for k, v in (outcome.versions_after if outcome else {}).items())
        note = (outcome.message or "") if outcome else ""
        table.add_row(a.stage, str(a.batch), str(a.attempt), a.host, status_text, before, after, note[:80])
    console.print(table)
    for approval in approvals:
        when = f"{approval.at:%Y-%m-%d %H:%M}"
        console.print(f"approved {approval.stage} by {approval.approver} at {when} {approval.comment}")
    pending = [h for h, s in view.report.hosts.items() if s is None or s is HostStatus.SKIPPED]
    if pending:
        console.print(f"not yet patched: {', '.join(pending)}")


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Verify the audit log's hash chain; exit 1 and name the first broken record if it was edited or cut."""
    from patchorch.errors import AuditChainError

    workspace = open_workspace(state(ctx).settings())
    try:
        count = workspace.verify_audit()
    except AuditChainError as exc:
        console_err.print(f"audit chain broken: {exc}", markup=False)
        raise typer.Exit(EXIT_FINDINGS) from None
    console.print(f"audit chain intact: {count} record(s)")
