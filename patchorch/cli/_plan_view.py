"""The rollout plan for a terminal: what `plan` prints, and what `rollout`, `drill` and `rollback` show before they
ask to run it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from rich.console import Group
from rich.table import Table
from rich.text import Text

from patchorch.cli._common import cell, plain
from patchorch.domain.plan import Mode, RolloutPlan, Stage
from patchorch.domain.spans import format_span


def _when(moment: datetime | None, planned_at: datetime, horizon: timedelta, previous: Stage | None = None) -> Text:
    """When a stage can start: its window's opening, and after the stage before it and that stage's soak."""
    if moment is None:
        return Text(f"no window in {format_span(horizon)}", style="yellow")
    after = f"after {previous.name} + soak {format_span(previous.soak)}" if previous is not None else None
    if moment <= planned_at:
        return Text(after or "now")
    opening = moment.astimezone(UTC).strftime("%a %Y-%m-%d %H:%MZ")
    return Text(f"{after}, not before {opening}" if after else opening)


# Host names shown per batch line: a 100,000-host plan prints a few dozen readable lines; --json lists every host.
HOSTS_SHOWN = 10


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
    hosts = len(stage.hosts)
    heading.append(f"\n    {_count(hosts, 'host')} in {_count(len(stage.batches), 'batch')}", style="dim")
    lines = [heading]
    for batch in stage.batches:
        line = Text(f"      batch {batch.index}  ", style="dim")
        for position, host in enumerate(batch.hosts[:HOSTS_SHOWN]):
            if position:
                line.append(", ")
            line.append(plain(host), style="yellow" if host in flagged else "")
            if host in overridden:
                line.append("*", style="cyan")
            if owners is not None:
                line.append(f" ({plain(owners.get(host, 'no owner'))})", style="dim")
        if len(batch.hosts) > HOSTS_SHOWN:
            line.append(f" and {len(batch.hosts) - HOSTS_SHOWN} more ({len(batch.hosts)} hosts; --json lists all)")
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
    rollback_of = rollout.update.rollback_of
    kind = f"rollback plan of run {rollback_of}" if rollback_of else "rollout plan"
    header.append(f"{rollout.mode.value} {kind}", style="bold red" if emergency else "bold")
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
    if rollback_of:
        back = Table(box=None, pad_edge=False, show_edge=False, header_style="bold", title_justify="left")
        back.add_column("rolled back")
        back.add_column("to the versions before run " + rollback_of)
        for settings in rollout.host_settings:
            versions = ", ".join(f"{p.name} {p.version}" for p in settings.downgrade)
            back.add_row(cell(settings.host), cell(versions))
        parts += [Text(), back]
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


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 'es' if noun.endswith('ch') else 's'}"
