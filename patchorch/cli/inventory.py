"""`patchorch inventory show` and `patchorch inventory check`: the fleet as patchorch reads it from Ansible.

Exit statuses: `show` 0, or 2 when the inventory or its metadata does not validate (unknown `patchorch_*` variables
included); `check` 0 when clean, 1 with findings (unknown variables are findings here), 2 when unreadable.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from patchorch.cli._app import app
from patchorch.cli._common import (
    EXIT_FINDINGS,
    EXIT_OK,
    InventoryOption,
    JsonOption,
    LimitOption,
    PolicyOption,
    VaultIdOption,
    VaultPasswordFileOption,
    ask_vault_ids,
    cell,
    console,
    console_err,
    plain,
    print_json,
    require_inventory,
    state,
)
from patchorch.domain.fleet import Cluster, Host, MaintenanceWindow
from patchorch.domain.inventory_check import InventoryReport, OwnerSummary, Severity, inventory_report

# Ansible loads with the inventory, inside the commands.
if TYPE_CHECKING:
    from patchorch.sources.inventory import InventoryLoad

inventory_app = typer.Typer(
    help="Read the fleet from Ansible inventories: show it, check its patch metadata.", no_args_is_help=True
)
app.add_typer(inventory_app, name="inventory")


def _load(
    ctx: typer.Context,
    inventory: list[Any] | None,
    limit: str | None,
    *,
    strict: bool,
    vault_id: list[str] | None,
    vault_password_file: list[Path] | None,
) -> InventoryLoad:
    from patchorch.sources.inventory import load_fleet

    settings = state(ctx).settings(inventory=inventory)
    sources = require_inventory(settings)
    loaded = load_fleet(sources, limit=limit, strict=strict, vault_ids=ask_vault_ids(vault_id, vault_password_file))
    for warning in loaded.warnings:
        console_err.print(f"ansible: {plain(warning)}", markup=False, highlight=False)
    return loaded


@inventory_app.command("show")
def show(
    ctx: typer.Context,
    inventory: InventoryOption = None,
    limit: LimitOption = None,
    vault_id: VaultIdOption = None,
    vault_password_file: VaultPasswordFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show every host with its owner, criticality, exposure, services, cluster, windows and flags."""
    loaded = _load(ctx, inventory, limit, strict=True, vault_id=vault_id, vault_password_file=vault_password_file)
    selected = loaded.selected
    if as_json:
        data = selected.model_dump(mode="json")
        for host in data["hosts"]:
            host["defaulted"] = sorted(host["defaulted"])
        data["limit"] = loaded.limit
        print_json(data)
        return
    clusters = loaded.fleet.clusters
    table = Table(title=_title(loaded), title_justify="left")
    table.add_column("host", no_wrap=True)
    for column in ("owner", "criticality", "exposure", "services", "cluster", "lifecycle", "windows", "flags"):
        table.add_column(column, overflow="fold")
    for host in selected:
        # Every cell is escaped text: names, teams, reasons come from the inventory and must not style or forge lines.
        table.add_row(
            cell(host.name),
            cell(host.owner.team if host.owner else "-"),
            cell(_marked(str(host.criticality), "criticality" in host.defaulted)),
            cell(_marked(str(host.exposure), "exposure" in host.defaulted)),
            cell(", ".join(host.services) or "-"),
            cell(_cluster(clusters[host.cluster]) if host.cluster else "-"),
            cell(host.lifecycle),
            Text("\n").join(cell(_window(window)) for window in host.maintenance_windows) or cell("any time"),
            Text("\n").join(cell(flag) for flag in _flags(host)) or cell("-"),
        )
    _wide().print(table)
    if any(host.defaulted - {"owner"} for host in selected):
        console.print("* not declared: the documented default (see docs/INVENTORY.md)", markup=False)


@inventory_app.command("check")
def check(
    ctx: typer.Context,
    inventory: InventoryOption = None,
    limit: LimitOption = None,
    vault_id: VaultIdOption = None,
    vault_password_file: VaultPasswordFileOption = None,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check the patch metadata: missing owners, defaulted values, unsafe clusters, typos; then a summary per owner.

    Exit 0 when clean, 1 with findings, 2 when the inventory cannot be read or does not validate.
    """
    from patchorch.sources.policy import load_policy

    settings = state(ctx).settings(inventory=inventory, policy=policy)
    loaded = _load(ctx, inventory, limit, strict=False, vault_id=vault_id, vault_password_file=vault_password_file)
    report = inventory_report(loaded, load_policy(settings.policy).quorum)
    if as_json:
        print_json({"sources": list(loaded.sources), "limit": loaded.limit, **report.model_dump(mode="json")})
    else:
        _render_report(report, loaded)
    # typer.Exit would be returned, not raised, by click outside standalone mode; SystemExit reaches main().
    raise SystemExit(EXIT_OK if report.clean else EXIT_FINDINGS)


def _render_report(report: InventoryReport, loaded: InventoryLoad) -> None:
    out = _wide()
    count = len(report.findings)
    summary = "no findings" if report.clean else f"{count} finding{'s' if count != 1 else ''}"
    out.print(f"{plain(_title(loaded))}: {summary}", markup=False)
    for code, findings in report.grouped().items():
        out.print()
        out.print(f"{code.severity}: {code.heading} ({len(findings)})", style=_style(code.severity), markup=False)
        for finding in findings:
            # Messages name their host or cluster themselves.
            out.print(f"  {plain(finding.message)}", markup=False)
    out.print()
    out.print(_owner_table(report.owners))


def _owner_table(owners: Iterable[OwnerSummary]) -> Table:
    table = Table(title="hosts per owner", title_justify="left")
    for column in ("owner", "contact", "hosts", "critical", "high", "medium", "low", "clusters"):
        table.add_column(
            column, justify="right" if column in ("hosts", "critical", "high", "medium", "low") else "left"
        )
    for owner in owners:
        counts = {str(level): count for level, count in owner.by_criticality.items()}
        table.add_row(
            cell(owner.team or "(no owner)"),
            cell(", ".join(owner.contacts) or "-"),
            str(owner.hosts),
            *(str(counts.get(level, 0)) for level in ("critical", "high", "medium", "low")),
            cell(", ".join(owner.clusters) or "-"),
        )
    return table


def _title(loaded: InventoryLoad) -> str:
    sources = ", ".join(loaded.sources)
    total = len(loaded.fleet)
    if total == 0:
        return f"no hosts in {sources}: the inventory is empty"
    if loaded.in_limit is None:
        return f"{total} host{'s' if total != 1 else ''} in {sources}"
    return f"{len(loaded.in_limit)} of {total} hosts in {sources} match --limit {loaded.limit}"


def _wide() -> Console:
    """The console for tables: piped output goes to files and logs, wider than the 80 columns rich assumes there."""
    return console if console.is_terminal else Console(highlight=False, width=max(console.width, 200))


def _marked(value: str, defaulted: bool) -> str:
    return f"{value}*" if defaulted else value


def _cluster(cluster: Cluster) -> str:
    size = len(cluster.members)
    declared = str(cluster.budget) if cluster.budget is not None else f"default {cluster.allowed_down}"
    budget = f"{declared} of {size}"
    return f"{cluster.name} ({budget})"


def _window(window: MaintenanceWindow) -> str:
    minutes = int(window.duration.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    length = (f"{hours}h" if hours else "") + (f"{rest}m" if rest else "")
    return f"{','.join(day.value for day in window.days)} {window.start:%H:%M} {length} {window.timezone}"


def _flags(host: Host) -> list[str]:
    flags = []
    if host.canary:
        flags.append("canary")
    if host.exclude:
        flags.append(f"excluded: {host.exclude_reason}" if host.exclude_reason else "excluded")
    if host.unavailable:
        flags.append(f"unavailable: {host.unavailable_reason}" if host.unavailable_reason else "unavailable")
    if host.risk_class:
        flags.append(f"risk class {host.risk_class}")
    return flags


def _style(severity: Severity) -> str:
    return "bold red" if severity is Severity.ERROR else "bold yellow"
