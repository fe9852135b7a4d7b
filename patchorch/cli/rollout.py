"""`patchorch rollout`, `runs`, `status`, `show`, `approve`, `resume`, `abort` and `audit verify`.

Exit statuses of commands that drive a run: 0 every host patched, 1 halted, paused or host failures,
2 bad input, 3 waiting (for an approval, or for a soak or window longer than --max-wait), 130 interrupted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from patchorch.cli._app import app
from patchorch.cli._common import (
    EXIT_FINDINGS,
    InventoryOption,
    JsonOption,
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
from patchorch.cli._drill_report import finish_drill
from patchorch.cli._driving import (
    AskBecomePassOption,
    MaxWaitOption,
    ProgressObserver,
    RunIdArgument,
    WaitForClaimsOption,
    claim_wait_span,
    confirm,
    drive,
    drive_new_run,
    finish,
    live_display,
    max_wait_span,
    print_report,
)
from patchorch.cli._rollout_plan import plan_and_show, run_inputs
from patchorch.cli._wiring import actor, open_workspace, recent_run_ids
from patchorch.clock import DrillClock
from patchorch.domain.outcomes import HostStatus
from patchorch.domain.plan import RolloutPlan
from patchorch.domain.run import AttemptRecord, RunRecord, StageState
from patchorch.errors import ConfigError, Problem

audit_app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def _recorded_owners(plan: RolloutPlan) -> dict[str, str]:
    """Each target's owner as the run's plan recorded it ('team <contact>'): what `status` and `show` name, without
    reading the inventory again (it may need vault ids, or have changed since the run)."""
    return {h.name: plain(h.owner) for h in plan.hosts if h.owner is not None}


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
    workspace.observe(progress)
    inputs = run_inputs(settings, sources, limit=limit, advisory=advisory, check=check)
    report, log_path = drive_new_run(
        workspace,
        progress,
        lambda run_id: workspace.start(plan, inventory=sources, inputs=inputs, run_id=run_id),
        settings=settings,
        as_json=as_json,
    )
    finish(report, log_path, as_json=as_json)


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
    drilling = workspace.run(run_id).inputs.drill
    if drilling:
        workspace = open_workspace(settings, clock=DrillClock(), credentials=credentials, claim_wait=claim_wait)
    progress = ProgressObserver(workspace.recorded_plan(run_id))
    workspace.observe(progress)
    report, log_path = drive(
        progress,
        lambda: workspace.resume(run_id, retry_failed=retry_failed, accept_inventory_change=accept_inventory_change),
        settings=settings,
        run_id=run_id,
        live=live_display(as_json),
    )
    if drilling:
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
        print_json(workspace.run(run_id).model_dump(mode="json"))
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
        str | None, typer.Argument(help="The run (default: the newest).", autocompletion=lambda: recent_run_ids())
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
    owners = _recorded_owners(view.report.plan)
    attention = {h: s for h, s in view.report.hosts.items() if s is None or not s.is_success}
    if as_json:
        print_json(
            {
                "run": view.run.model_dump(mode="json"),
                "stages": [s.model_dump(mode="json") for s in view.stages],
                "hosts": {h: (s.value if s else None) for h, s in view.report.hosts.items()},
                "owners": owners,
            }
        )
        return
    print_report(view.report)
    if view.run.inputs.check:
        console.print(Text(f"  check mode: {_rehearsal_kind(view.run)}, nothing was installed", style="yellow"))
    for record in view.stages:
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
    if as_json:
        print_json(
            {
                "run": view.run.model_dump(mode="json"),
                "rolled_back_by": list(view.rolled_back_by),
                "plan": json.loads(view.report.plan.canonical_json()),
                "stages": [s.model_dump(mode="json") for s in view.stages],
                "attempts": [a.model_dump(mode="json") for a in view.attempts],
                "approvals": [a.model_dump(mode="json") for a in view.approvals],
            }
        )
        return
    run = view.run
    owners = _recorded_owners(view.report.plan)
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
    for later in view.rolled_back_by:
        console.print(Text(f"rolled back by run {later}", style="yellow"))
    for attempt in view.attempts:
        for line in _attempt_lines(attempt, owners, console.width):
            console.print(line)
    for approval in view.approvals:
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
