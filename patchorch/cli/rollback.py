"""`patchorch rollback RUN`: take the hosts a run changed back to the versions recorded before it, as a new run.

The rollback is planned (canary, waves, cluster budgets, gates and approvals, as any plan), shown, confirmed, run and
recorded like a rollout; its record names the run it undoes, and `show` and `runs` display the link both ways.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from patchorch.cli._app import app
from patchorch.cli._common import (
    InventoryOption,
    PolicyOption,
    VaultIdOption,
    VaultPasswordFileOption,
    ask_credentials,
    console,
    console_err,
    plain,
    state,
)
from patchorch.cli._driving import (
    AskBecomePassOption,
    MaxWaitOption,
    ProgressObserver,
    RunIdArgument,
    confirm,
    drive_new_run,
    finish,
    max_wait_span,
)
from patchorch.cli._plan_view import render_plan
from patchorch.cli._rollout_plan import owners_of
from patchorch.cli._wiring import open_workspace


@app.command()
def rollback(
    ctx: typer.Context,
    run_id: RunIdArgument,
    hosts: Annotated[
        str | None,
        typer.Option("--hosts", help="Only the hosts of RUN matching this Ansible host pattern."),
    ] = None,
    inventory: InventoryOption = None,
    policy: PolicyOption = None,
    emergency: Annotated[bool, typer.Option("--emergency", help="Compressed emergency path; windows ignored.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before running.")] = False,
    max_wait: MaxWaitOption = "1h",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print where the run ends as JSON on stdout (the plan goes to stderr).")
    ] = False,
    ask_become_pass: AskBecomePassOption = False,
    vault_id: VaultIdOption = None,
    vault_password_file: VaultPasswordFileOption = None,
) -> None:
    """Take the hosts RUN changed back to the exact versions recorded before it: a new run, planned, gated and
    recorded like a rollout and linked to RUN. Hosts RUN did not change or did not patch are left alone, and the
    plan says why. The inventory and policy default to those RUN was started from, the templates to those it was
    rendered with."""
    out = console_err if as_json else console
    settings = state(ctx).settings(inventory=inventory, policy=policy)
    credentials = ask_credentials(ask_become_pass, vault_id, vault_password_file)
    workspace = open_workspace(settings, max_wait=max_wait_span(max_wait), credentials=credentials)
    chosen = workspace.rollback_inputs(run_id, inventory=inventory, policy=policy, hosts=hosts)
    plan = workspace.plan_rollback(
        run_id, inventory=chosen.inventory, policy=chosen.policy, hosts=hosts, emergency=emergency
    )
    policy_label = str(chosen.policy) if chosen.policy is not None else "built-in default"
    owners = owners_of(chosen.inventory, contact=False, vault_ids=workspace.vault_ids)
    out.print(render_plan(plan, policy_label=policy_label, owners=owners))
    confirm(
        yes,
        f"Roll back {len(plan.targets)} host(s) of run {run_id} in {len(plan.stages)} stage(s)?",
        err=as_json,
    )
    progress = ProgressObserver(plan)
    workspace.observe(progress)
    report, log_path = drive_new_run(
        workspace,
        progress,
        lambda new_id: workspace.start(plan, inventory=chosen.inventory, inputs=chosen.recorded, run_id=new_id),
        settings=settings,
        as_json=as_json,
        announce=lambda new_id: out.print(Text(f"run {new_id} rolls back run {plain(run_id)}")),
    )
    finish(report, log_path, as_json=as_json)
