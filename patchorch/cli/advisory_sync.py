"""`patchorch advisories sync`.

Exit statuses of `advisories sync`: 0 every source synced whole; 1 a source or document failed (everything else was
still imported and the failures are listed); 2 bad settings (no `advisory_sources`, an unknown `--source`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from patchorch.cli._common import (
    EXIT_FINDINGS,
    EXIT_OK,
    JsonOption,
    console,
    console_err,
    missing_setting,
    print_json,
    state,
)
from patchorch.cli._groups import advisories_app
from patchorch.cli._wiring import store_location
from patchorch.clock import SystemClock
from patchorch.config import Settings
from patchorch.errors import ConfigError, Problem
from patchorch.sources.feeds import SourceSpec

# The sync, the store (sqlalchemy), notification and the HTTP client load inside the commands that use them.
if TYPE_CHECKING:
    from patchorch.orchestrator.advisory_sync import SyncReport


def _selected(settings: Settings, names: list[str] | None) -> tuple[SourceSpec, ...]:
    if not settings.advisory_sources:
        raise missing_setting(
            settings,
            "advisory_sources",
            "no advisory sources configured",
            "a list of {type: csaf, name, url}, {type: kev}, {type: osv} (docs/ADVISORY_SYNC.md)",
        )
    configured = {spec.name: spec for spec in settings.advisory_sources}
    unknown = [name for name in names or () if name not in configured]
    if unknown:
        raise ConfigError(
            [Problem(f"no source named {unknown[0]!r}", field="--source", allowed=", ".join(sorted(configured)))]
        )
    return tuple(configured[name] for name in names) if names else settings.advisory_sources


@advisories_app.command("sync")
def sync_command(
    ctx: typer.Context,
    sources: Annotated[
        list[str] | None, typer.Option("--source", help="Only the source with this name; repeatable.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Pull advisories from the sources in patchorch.yml: only what changed, each CSAF document verified.

    CSAF documents must match their SHA-512/SHA-256 file and carry a valid OpenPGP signature by the provider's key.
    Exit 0 when every source synced whole, 1 when a source or document failed (the rest was imported).
    """
    from patchorch.cli._sync_progress import SyncProgressBar
    from patchorch.orchestrator.advisory_sync import AdvisorySync
    from patchorch.sources.feeds import HttpFetcher

    settings = state(ctx).settings()
    selected = _selected(settings, sources)
    location = store_location(settings)
    advisories = location.advisories()
    sync_state = location.sync()
    show_progress = console_err.is_terminal and not json_output
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console_err, transient=False
    )
    runner = AdvisorySync(
        advisories=advisories,
        state=sync_state,
        fetcher_for=lambda spec: HttpFetcher(ca_file=spec.ca_file),
        clock=SystemClock(),
        observer=SyncProgressBar(progress) if show_progress else None,
    )
    if show_progress:
        with progress:
            report = runner.run(selected)
    else:
        report = runner.run(selected)
    if json_output:
        print_json({**report.model_dump(mode="json"), "status": report.status})
    else:
        _print_sync(report)
    raise typer.Exit(EXIT_OK if report.status == "ok" else EXIT_FINDINGS)


def _print_sync(report: SyncReport) -> None:
    table = Table("source", "type", "status", "fetched", "unchanged", "added", "updated", "failed")
    for source in report.sources:
        table.add_row(
            *(
                Text(str(value))
                for value in (
                    source.name,
                    source.type,
                    source.status,
                    source.downloaded,
                    source.unchanged,
                    source.added,
                    source.updated,
                    len(source.failures) + (source.error is not None),
                )
            )
        )
    console.print(table)
    for source in report.sources:
        if source.error:
            console_err.print(Text(f"error: {source.name}: {source.error}"))
        for failure in source.failures:
            console_err.print(Text(f"error: {source.name}: {failure.reason}"))
        if source.note:
            console_err.print(Text(f"note: {source.name}: {source.note}"))
    console.print(Text(f"sync {report.sync_id}: {report.status}"))
