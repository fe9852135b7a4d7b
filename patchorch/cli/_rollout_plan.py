"""Planning what `rollout`, `drill` and `rollback` run, and showing it before anything runs: the update the flags
name (or an advisory's scope), the plan on the terminal, and the inputs the run records."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text

from patchorch.cli._common import EXIT_OK, owners_in, plain, print_json
from patchorch.cli._plan_view import render_plan
from patchorch.config import Settings
from patchorch.domain.plan import PackageSpec, RolloutPlan, UpdateScope, UpdateSpec
from patchorch.domain.run import RunInputs
from patchorch.errors import ConfigError, InputError, Problem

if TYPE_CHECKING:
    from patchorch.domain.fleet import Fleet
    from patchorch.execution.base import VaultId
    from patchorch.orchestrator.workspace import AdvisoryScope, Workspace


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


def _advisory_scope(workspace: Workspace, fleet: Fleet, advisory: str, out: Console) -> AdvisoryScope:
    """The advisory's scope in `fleet`, said on `out`: how many hosts it affects, its decision, and the hosts left
    out for want of fresh package facts."""
    scope = workspace.advisory_scope(fleet, advisory)
    decision = scope.found.decision.value if scope.found.decision else "none"
    out.print(Text(f"advisory {plain(advisory)}: {len(scope.found.targets)} affected host(s), decision {decision}"))
    if scope.without_facts:
        out.print(
            Text(
                f"no fresh package facts for {', '.join(scope.without_facts)}: they are not targeted; "
                "run `patchorch facts refresh`",
                style="yellow",
            )
        )
    return scope


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
    from patchorch.sources.inventory import load_fleet

    # Loaded once: the advisory's exposure, the plan and the owners shown all read this fleet.
    loaded = load_fleet(list(sources), limit=limit, vault_ids=workspace.vault_ids)
    if advisory is not None:
        if package or all_updates:
            raise ConfigError(
                [Problem("--advisory chooses the packages; drop --package/--all-updates", field="--advisory")]
            )
        scope = _advisory_scope(workspace, loaded.fleet, advisory, out)
        if scope.emergency and not emergency:
            out.print(Text(f"advisory {plain(advisory)}: decision immediate, so the emergency strategy is used"))
            emergency = True
        plan = workspace.plan(
            loaded,
            policy=settings.policy,
            emergency=emergency,
            targets=scope.found.targets,
            update=scope.found.update,
            vulnerabilities=scope.found.vulnerabilities.values(),
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
