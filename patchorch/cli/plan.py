"""`patchorch plan`: compute the staged rollout plan and show it (nothing runs).

Exit statuses: 0 a plan was made (also an empty one, which the warnings explain); 2 bad input (inventory, policy,
flags): no plan.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from patchorch.cli._app import app
from patchorch.cli._common import InventoryOption, JsonOption, LimitOption, PolicyOption, console, state
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
    if not settings.inventory:
        raise ConfigError(
            [Problem("no inventory: pass -i/--inventory or set inventory in patchorch.yml", field="--inventory")]
        )
    rollout = plan_rollout(
        settings.inventory,
        settings.policy,
        emergency=emergency,
        limit=limit,
        now=_parse_now(now),
    )
    if as_json:
        typer.echo(rollout.pretty_json(), nl=False)
        return
    policy_label = str(settings.policy) if settings.policy is not None else "built-in default"
    console.print(render_plan(rollout, policy_label=policy_label))
    if out is not None:
        out.write_text(rollout.pretty_json(), encoding="utf-8")
        console.print(f"plan written to {out} (sha256 {rollout.content_hash[:12]})", markup=False)


def _parse_now(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        problem = Problem(f"expected an ISO 8601 time like 2025-03-05T12:00Z, not {value!r}", field="--now")
        raise ConfigError([problem]) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _when(moment: datetime | None, planned_at: datetime, horizon: timedelta) -> Text:
    if moment is None:
        return Text(f"no window in {format_span(horizon)}", style="yellow")
    if moment <= planned_at:
        return Text("now")
    return Text(moment.astimezone(UTC).strftime("%a %Y-%m-%d %H:%MZ"))


def _batches(stage: Stage, flagged: set[str], overridden: set[str]) -> Text:
    text = Text()
    for number, batch in enumerate(stage.batches):
        if number:
            text.append("\n")
        text.append(f"{batch.index:>2}  ", style="dim")
        for position, host in enumerate(batch.hosts):
            if position:
                text.append(", ")
            text.append(host, style="yellow" if host in flagged else "")
            if host in overridden:
                text.append("*", style="cyan")
    return text


def render_plan(rollout: RolloutPlan, *, policy_label: str) -> Group:
    """The plan for a terminal: a header, one row per stage (start, gates, batches), exclusions, warnings.

    The gates of a stage are its columns: forks (hosts at once), soak after it, failed hosts it tolerates, and
    whether a person must approve before it starts.
    """
    targets = len(rollout.hosts)
    emergency = rollout.mode is Mode.EMERGENCY
    header = Text()
    header.append(f"{rollout.mode.value} rollout plan", style="bold red" if emergency else "bold")
    header.append(f" · {targets} target{'s' if targets != 1 else ''}, {len(rollout.exclusions)} excluded")
    header.append(f" · the rollout halts after {rollout.failure_budget + 1} failed")
    header.append(f"\nplanned {rollout.planned_at.astimezone(UTC).strftime('%Y-%m-%d %H:%MZ')}", style="dim")
    if rollout.limit:
        header.append(f" · --limit {rollout.limit}", style="dim")
    header.append(f" · policy {policy_label} ({rollout.policy_digest[:12]})", style="dim")
    header.append(f" · plan {rollout.content_hash[:12]}", style="dim")

    flagged = {host.name for host in rollout.hosts if host.outside_horizon}
    overridden = {host.name for host in rollout.hosts if host.risk_class_overridden}
    stages = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    stages.add_column("#", justify="right")
    stages.add_column("stage", no_wrap=True)
    stages.add_column("earliest start", no_wrap=True)
    stages.add_column("forks", justify="right")
    stages.add_column("soak", justify="right")
    stages.add_column("may fail", justify="right")
    stages.add_column("approval")
    stages.add_column("batch  hosts")
    for stage in rollout.stages:
        stages.add_row(
            str(stage.index),
            Text(stage.name, style="bold"),
            _when(stage.earliest_start, rollout.planned_at, rollout.horizon),
            str(stage.concurrency),
            format_span(stage.soak),
            "-" if stage.failure_budget is None else str(stage.failure_budget),
            Text("required", style="bold magenta") if stage.approval_required else Text("-", style="dim"),
            _batches(stage, flagged, overridden),
        )
    parts: list[Text | Table] = [header, Text(), stages]
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
            excluded.add_row(exclusion.host, exclusion.reason.value, exclusion.detail)
        parts += [Text(), excluded]
    if rollout.warnings:
        parts.append(Text())
        parts += [Text(f"! {warning}", style="yellow") for warning in rollout.warnings]
    return Group(*parts)
