"""`patchorch plan`: compute the staged rollout plan and show it (nothing runs).

Exit statuses: 0 a plan was made (also an empty one, which the warnings explain); 2 bad input (inventory, policy,
flags): no plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from patchorch.cli._app import app
from patchorch.cli._common import (
    InventoryOption,
    JsonOption,
    LimitOption,
    PolicyOption,
    cell,
    console,
    plain,
    require_inventory,
    state,
)
from patchorch.domain.plan import Mode, RolloutPlan, Stage
from patchorch.domain.policy import format_span
from patchorch.errors import ConfigError, Problem


@app.command("plan")
def plan_command(
    ctx: typer.Context,
    inventory: InventoryOption = None,
    limit: LimitOption = None,
    policy: PolicyOption = None,
    emergency: Annotated[
        bool, typer.Option("--emergency", help="Small canary, short soak, exposure first; ignores windows.")
    ] = False,
    as_json: JsonOption = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write the plan as JSON to this file.")] = None,
    now: Annotated[
        str | None, typer.Option("--now", help="Plan as of this time (ISO 8601, default: the current time).")
    ] = None,
) -> None:
    """Plan a staged rollout: canary, then waves by risk class, with gates and maintenance windows."""
    from patchorch.orchestrator.planning import plan_rollout

    if as_json and out is not None:
        raise ConfigError([Problem("give --json or --out, not both", field="--json")])
    settings = state(ctx).settings(inventory=inventory, policy=policy)
    rollout = plan_rollout(
        require_inventory(settings),
        settings.policy,
        emergency=emergency,
        limit=limit,
        now=_parse_now(now),
    )
    if as_json:
        typer.echo(rollout.pretty_json(), nl=False)
        return
    from patchorch.cli.rollout import owners_of

    policy_label = str(settings.policy) if settings.policy is not None else "built-in default"
    console.print(
        render_plan(rollout, policy_label=policy_label, owners=owners_of(require_inventory(settings), contact=False))
    )
    if out is not None:
        out.write_text(rollout.pretty_json(), encoding="utf-8")
        console.print(f"plan written to {plain(out)} (sha256 {rollout.content_hash[:12]})", markup=False)


def _parse_now(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        problem = Problem(f"expected an ISO 8601 time like 2025-03-05T12:00Z, not {value!r}", field="--now")
        raise ConfigError([problem]) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _when(moment: datetime | None, planned_at: datetime, horizon: timedelta, previous: Stage | None = None) -> Text:
    """When a stage can start: its window's opening, and after the stage before it and that stage's soak."""
    if moment is None:
        return Text(f"no window in {format_span(horizon)}", style="yellow")
    after = f"after {previous.name} + soak {format_span(previous.soak)}" if previous is not None else None
    if moment <= planned_at:
        return Text(after or "now")
    opening = moment.astimezone(UTC).strftime("%a %Y-%m-%d %H:%MZ")
    return Text(f"{after}, not before {opening}" if after else opening)


def _stage_lines(
    stage: Stage,
    rollout: RolloutPlan,
    flagged: set[str],
    overridden: set[str],
    owners: Mapping[str, str] | None = None,
    previous: Stage | None = None,
) -> list[Text]:
    """One heading line with the stage's start and gates, then one line per batch (each host with its owner)."""
    heading = Text()
    heading.append(f"{stage.index:>2}  ", style="dim")
    heading.append(stage.name, style="bold")
    heading.append("  starts ")
    heading.append_text(_when(stage.earliest_start, rollout.planned_at, rollout.horizon, previous))
    if stage.approval_required:
        heading.append(" · ")
        heading.append("approval required", style="bold magenta")
    heading.append(f" · {stage.concurrency} at once · soak {format_span(stage.soak)}")
    if stage.failure_budget is not None:
        heading.append(f" · may fail {stage.failure_budget}")
    lines = [heading]
    for batch in stage.batches:
        line = Text(f"      batch {batch.index}  ", style="dim")
        for position, host in enumerate(batch.hosts):
            if position:
                line.append(", ")
            line.append(plain(host), style="yellow" if host in flagged else "")
            if host in overridden:
                line.append("*", style="cyan")
            if owners is not None:
                line.append(f" ({plain(owners.get(host, 'no owner'))})", style="dim")
        lines.append(line)
    return lines


def render_plan(rollout: RolloutPlan, *, policy_label: str, owners: Mapping[str, str] | None = None) -> Group:
    """The plan for a terminal: a header, one row per stage (start, gates, batches), exclusions, warnings.

    Each stage shows its earliest start and its gates (approval before it, hosts at once, soak after it, failed
    hosts it tolerates), then its batches; plain lines rather than a table so long host names wrap readably.
    `owners` (host -> owning team) puts each host's owner beside it.
    """
    targets = len(rollout.hosts)
    emergency = rollout.mode is Mode.EMERGENCY
    header = Text()
    header.append(f"{rollout.mode.value} rollout plan", style="bold red" if emergency else "bold")
    header.append(f" · {targets} target{'s' if targets != 1 else ''}, {len(rollout.exclusions)} excluded")
    header.append(f" · the rollout halts after {rollout.failure_budget + 1} failed")
    header.append(f" · unreachable hosts retried {rollout.unreachable_retries}x from {rollout.retry_backoff_seconds}s")
    header.append(f"\nplanned {rollout.planned_at.astimezone(UTC).strftime('%Y-%m-%d %H:%MZ')}", style="dim")
    if rollout.limit:
        header.append(f" · --limit {plain(rollout.limit)}", style="dim")
    header.append(f" · policy {plain(policy_label)} ({rollout.policy_digest[:12]})", style="dim")
    header.append(f" · plan {rollout.content_hash[:12]}", style="dim")

    flagged = {host.name for host in rollout.hosts if host.outside_horizon}
    overridden = {host.name for host in rollout.hosts if host.risk_class_overridden}
    parts: list[Text | Table] = [header, Text()]
    for position, stage in enumerate(rollout.stages):
        previous = rollout.stages[position - 1] if position else None
        parts += _stage_lines(stage, rollout, flagged, overridden, owners, previous)
    if overridden:
        parts.append(Text("* risk class set in the inventory", style="cyan"))
    if flagged:
        parts.append(Text("yellow: no maintenance window opens within the horizon", style="yellow"))
    if rollout.exclusions:
        excluded = Table(box=None, pad_edge=False, show_edge=False, header_style="bold", title_justify="left")
        excluded.add_column("excluded")
        excluded.add_column("reason")
        excluded.add_column("detail")
        for exclusion in rollout.exclusions:
            excluded.add_row(cell(exclusion.host), cell(exclusion.reason.value), cell(exclusion.detail))
        parts += [Text(), excluded]
    if rollout.warnings:
        parts.append(Text())
        parts += [Text(f"! {plain(warning)}", style="yellow") for warning in rollout.warnings]
    return Group(*parts)
