"""`patchorch render`: write a plan's stage playbooks, vars files and the patch role into a run directory.

Nothing runs. With `--plan` the plan is read from a file `patchorch plan --out` wrote; otherwise it is planned now
from the inventory and policy, as `patchorch plan` would.

Exit statuses: 0 the directory was written; 2 bad input (plan file, inventory, policy, flags, a plan with nothing to
run); 4 rendering failed.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from patchorch.cli._app import app
from patchorch.cli._common import (
    InventoryOption,
    LimitOption,
    PolicyOption,
    VaultIdOption,
    VaultPasswordFileOption,
    ask_vault_ids,
    console,
    plain,
    print_json,
    require_inventory,
    state,
)
from patchorch.domain.plan import RolloutPlan
from patchorch.errors import ConfigError, PlanError, Problem


@app.command("render")
def render_command(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Option("-o", "--out", help="The run directory to write (replaced if patchorch wrote it).")
    ],
    plan_file: Annotated[
        Path | None, typer.Option("--plan", help="Render this plan (JSON from `patchorch plan --out`).")
    ] = None,
    inventory: InventoryOption = None,
    limit: LimitOption = None,
    policy: PolicyOption = None,
    vault_id: VaultIdOption = None,
    vault_password_file: VaultPasswordFileOption = None,
    emergency: Annotated[bool, typer.Option("--emergency", help="Plan an emergency rollout (without --plan).")] = False,
    role_vars: Annotated[
        Path | None,
        typer.Option("--role-vars", help="YAML file of patchorch_patch_* role settings (hooks, thresholds)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was written as JSON.")] = False,
) -> None:
    """Render a rollout into a directory a person can read and run with ansible-playbook."""
    settings = state(ctx).settings(inventory=inventory, policy=policy)
    require_inventory(settings)
    vault_ids = ask_vault_ids(vault_id, vault_password_file)
    if plan_file is not None:
        if emergency or limit:
            raise ConfigError([Problem("--emergency and --limit plan a rollout; a --plan file is already planned")])
        plan = _read_plan(plan_file)
    else:
        from patchorch.orchestrator.planning import plan_rollout
        from patchorch.sources.inventory import load_fleet

        plan = plan_rollout(
            load_fleet(settings.inventory, limit=limit, vault_ids=vault_ids), settings.policy, emergency=emergency
        )
    if not plan.stages:
        why = "; ".join(warning for warning in plan.warnings if warning.startswith("no targets")) or "no targets"
        raise PlanError(f"nothing to render: the plan has no stages ({why})", field="plan")
    from patchorch.rendering import render_run

    run = render_run(
        plan,
        out,
        inventory_sources=settings.inventory,
        template_dir=settings.template_dir,
        extra_vars_from=role_vars,
    )
    # A command line to paste into a shell: every path quoted for it.
    sources = " ".join(f"-i {shlex.quote(str(source))}" for source in run.inventory_sources)
    # Vault ids as ansible-playbook takes them: a password typed here is asked for again there, never written.
    vaults = "".join(f" --vault-id {shlex.quote(v.label + '@' + (v.source or 'prompt'))}" for v in vault_ids)
    by_hand = f"cd {shlex.quote(str(run.directory))} && ansible-playbook {sources}{vaults} site.yml"
    if as_json:
        print_json(
            {
                "directory": str(run.directory),
                "run": run.run_id,
                "site_playbook": str(run.site_playbook),
                "stages": {name: str(path) for name, path in run.stage_playbooks},
                "inventory_sources": [str(source) for source in run.inventory_sources],
                "run_by_hand": by_hand,
            }
        )
        return
    console.print(f"rendered {len(run.stage_playbooks)} stage(s) into {plain(run.directory)}", markup=False)
    console.print(f"run by hand: {plain(by_hand)}", markup=False)


def _read_plan(path: Path) -> RolloutPlan:
    try:
        return RolloutPlan.from_json(path.read_bytes())
    except OSError as exc:
        raise PlanError(f"cannot read plan {path}: {exc.strerror}", file=str(path)) from None
    except ValueError as exc:  # JSON, validation and content-hash errors
        raise PlanError(f"{path} is not a valid plan: {exc}", file=str(path)) from None
