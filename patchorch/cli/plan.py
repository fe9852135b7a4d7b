"""`patchorch plan`: compute the staged rollout plan and show it (nothing runs).

Exit statuses: 0 a plan was made (also an empty one, which the warnings explain); 2 bad input (inventory, policy,
flags): no plan.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
    VaultIdOption,
    VaultPasswordFileOption,
    ask_vault_ids,
    console,
    owners_in,
    plain,
    require_inventory,
    state,
)
from patchorch.cli._plan_view import render_plan
from patchorch.domain.plan import Mode, RolloutPlan
from patchorch.domain.spans import format_span
from patchorch.errors import ConfigError, Problem

if TYPE_CHECKING:
    from patchorch.domain.dispatch import Timeline


@app.command("plan")
def plan_command(
    ctx: typer.Context,
    inventory: InventoryOption = None,
    limit: LimitOption = None,
    policy: PolicyOption = None,
    vault_id: VaultIdOption = None,
    vault_password_file: VaultPasswordFileOption = None,
    emergency: Annotated[
        bool, typer.Option("--emergency", help="Small canary, short soak, exposure first; ignores windows.")
    ] = False,
    as_json: JsonOption = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write the plan as JSON to this file.")] = None,
    now: Annotated[
        str | None, typer.Option("--now", help="Plan as of this time (ISO 8601, default: the current time).")
    ] = None,
    timeline: Annotated[
        bool,
        typer.Option(
            "--timeline",
            help="Show each host's projected start and end under the dispatcher, the makespan and its lower bound.",
        ),
    ] = False,
) -> None:
    """Plan a staged rollout: canary, then waves by risk class, with gates and maintenance windows."""
    from patchorch.orchestrator.planning import plan_rollout
    from patchorch.sources.inventory import load_fleet

    if as_json and out is not None:
        raise ConfigError([Problem("give --json or --out, not both", field="--json")])
    settings = state(ctx).settings(inventory=inventory, policy=policy)
    planned_at = _parse_now(now)
    vault_ids = ask_vault_ids(vault_id, vault_password_file)
    # Loaded once: the plan and the owners shown read the same fleet.
    loaded = load_fleet(require_inventory(settings), limit=limit, vault_ids=vault_ids)
    rollout = plan_rollout(loaded, settings.policy, emergency=emergency, now=planned_at)
    if timeline:
        from patchorch.domain.dispatch import project

        projected = project(rollout)
        if as_json:
            typer.echo(json.dumps(timeline_json(rollout, projected), indent=2, sort_keys=True))
        else:
            console.print(render_timeline(rollout, projected))
        return
    if as_json:
        typer.echo(rollout.pretty_json(), nl=False)
        return
    policy_label = str(settings.policy) if settings.policy is not None else "built-in default"
    console.print(render_plan(rollout, policy_label=policy_label, owners=owners_in(loaded.fleet, contact=False)))
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


def timeline_json(rollout: RolloutPlan, timeline: Timeline) -> dict[str, object]:
    """The projected timeline as JSON: every host's start and end, who waits, makespan and lower bound in seconds."""
    return {
        "plan_hash": rollout.content_hash,
        "mode": rollout.mode.value,
        "windows_respected": rollout.mode is Mode.REGULAR,
        "start": timeline.start.isoformat(),
        "expected_duration_seconds": rollout.expected_duration.total_seconds(),
        "makespan_seconds": timeline.makespan.total_seconds(),
        "lower_bound_seconds": timeline.lower_bound.total_seconds(),
        "hosts": [
            {"host": p.host, "stage": p.stage, "start": p.start.isoformat(), "end": p.end.isoformat()}
            for p in timeline.hosts
        ],
        "waiting": [
            {"host": w.host, "next_start": w.next_start.isoformat() if w.next_start else None} for w in timeline.waiting
        ],
    }


def render_timeline(rollout: RolloutPlan, timeline: Timeline) -> Group:
    """The projected timeline for a terminal: one row per host in start order, then makespan and lower bound."""
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column in ("host", "stage", "start", "end"):
        table.add_column(column)
    for projected in sorted(timeline.hosts, key=lambda p: (p.start, p.host)):
        table.add_row(
            projected.host,
            projected.stage,
            projected.start.astimezone(UTC).strftime("%a %m-%d %H:%MZ"),
            projected.end.astimezone(UTC).strftime("%a %m-%d %H:%MZ"),
        )
    summary = Text()
    mode = "windows respected" if rollout.mode is Mode.REGULAR else "emergency: windows ignored"
    summary.append(f"projected makespan {format_span(_whole_minutes(timeline.makespan))}", style="bold")
    summary.append(f" · lower bound {format_span(_whole_minutes(timeline.lower_bound))}")
    summary.append(f" · each host {format_span(_whole_minutes(rollout.expected_duration))} · {mode}", style="dim")
    parts: list[Text | Table] = [table, Text(), summary]
    for waiting in timeline.waiting:
        when = waiting.next_start.isoformat() if waiting.next_start else "not within the horizon"
        parts.append(Text(f"! {waiting.host} waits: its duration fits no window until {when}", style="yellow"))
    return Group(*parts)


def _whole_minutes(span: timedelta) -> timedelta:
    return timedelta(minutes=max(0, round(span.total_seconds() / 60)))
