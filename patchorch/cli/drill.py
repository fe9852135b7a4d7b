"""`patchorch drill`: rehearse the whole rollout path on the real hosts, read-only, and time it.

Exit statuses: 0 the drill completed without a blocker, 1 blockers were found (or the drill halted), 2 bad input,
3 the drill waits for an approval (`patchorch approve RUN`, then `patchorch resume RUN`), 130 interrupted.
"""

from __future__ import annotations

from typing import Annotated

import typer

from patchorch.cli._app import app
from patchorch.cli._common import (
    InventoryOption,
    LimitOption,
    PolicyOption,
    VaultIdOption,
    VaultPasswordFileOption,
    ask_credentials,
    console,
    console_err,
    require_inventory,
    state,
)
from patchorch.cli._drill_report import finish_drill
from patchorch.cli._driving import ProgressObserver, drive_new_run
from patchorch.cli._rollout_plan import plan_and_show, run_inputs
from patchorch.cli._wiring import open_workspace
from patchorch.clock import DrillClock
from patchorch.domain.run import RunKind


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
    workspace.observe(progress)
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
