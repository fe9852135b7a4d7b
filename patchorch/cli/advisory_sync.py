"""`patchorch advisories sync`, and `exposure --new-since SYNC [--notify]`.

Exit statuses of `advisories sync`: 0 every source synced whole; 1 a source or document failed (everything else was
still imported and the failures are listed); 2 bad settings (no `advisory_sources`, an unknown `--source`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from patchorch.cli._common import EXIT_FINDINGS, EXIT_OK, JsonOption, console, console_err, print_json, state
from patchorch.cli.advisories import advisories_app, open_advisory_store, store_engine
from patchorch.clock import SystemClock
from patchorch.config import Settings
from patchorch.errors import ConfigError, Problem
from patchorch.sources.feeds import SourceSpec

# The sync, the store (sqlalchemy), notification and the HTTP client load inside the commands that use them.
if TYPE_CHECKING:
    from patchorch.domain.exposure import ExposureReport
    from patchorch.orchestrator.advisory_sync import SyncReport
    from patchorch.orchestrator.notify import NotifyResult
    from patchorch.store.advisories import AdvisoryStore
    from patchorch.store.sync import SyncStore


def open_sync_store(settings: Settings) -> SyncStore:
    """The sync state of these settings, tables created."""
    from patchorch.store.sync import SyncStore

    store = SyncStore(store_engine(settings))
    store.create_tables()
    return store


def _missing(settings: Settings, field: str, message: str, allowed: str) -> ConfigError:
    """A settings error naming the project file and the key that is missing."""
    where = str(settings.config_file) if settings.config_file else None
    return ConfigError([Problem(message, file=where, field=field, allowed=allowed)])


def _selected(settings: Settings, names: list[str] | None) -> tuple[SourceSpec, ...]:
    if not settings.advisory_sources:
        raise _missing(
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
    advisories = open_advisory_store(settings)
    sync_state = open_sync_store(settings)
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


def exposure_new_since(
    settings: Settings,
    store: AdvisoryStore,
    report: ExposureReport,
    *,
    new_since: str,
    notify: bool,
    json_output: bool,
) -> int:
    """Narrow `report` to what syncs after `new_since` brought, print it per owner, optionally e-mail each owner.

    Exit status: without --notify 1 when anything became affected or unknown; with --notify 0 when every owning
    team was told (or nothing was new), 1 when a team could not be reached or hosts have no owner. When no message
    failed, the syncs up to the latest are marked notified (`--new-since notified` starts after them).
    """
    from patchorch.orchestrator.notify import SmtpMailer, by_owner, exposure_since, notify_owners, resolve_sync

    if notify and settings.smtp is None:
        raise _missing(
            settings, "smtp", "--notify needs SMTP settings", "smtp: {host, port, from, security: starttls|ssl|none}"
        )
    sync_state = open_sync_store(settings)
    since = resolve_sync(sync_state.runs(), new_since)
    narrowed = exposure_since(report, sync_state.changed_since(since), store.list())
    notices = by_owner(narrowed)
    result: NotifyResult | None = None
    if notify and settings.smtp is not None:
        mailer = SmtpMailer(settings.smtp)
        result = notify_owners(notices, mailer, sender=settings.smtp.sender, since=since, now=report.generated_at)
        runs = sync_state.runs()
        if not result.failed and runs:
            # Everything up to the latest sync has been told; `--new-since notified` starts after it next time.
            sync_state.mark_notified(runs[-1].id, report.generated_at)
    if json_output:
        data: dict[str, Any] = narrowed.to_json_data()
        data["since_sync"] = since
        data["owners"] = [
            {"team": notice.team, "contact": notice.contact, "hosts": list(notice.hosts)} for notice in notices
        ]
        data["notified"] = result.model_dump(mode="json") if result else None
        print_json(data)
    else:
        from patchorch.cli.advisories import _print_report

        console.print(Text(f"new since sync {since}:"))
        for notice in notices:
            owner = f"{notice.team} <{notice.contact}>" if notice.team else "(no owner)"
            console.print(Text(f"{owner}: {len(notice.hosts)} host(s)"))
        _print_report(narrowed)
        if result is not None:
            for team, contact in result.sent.items():
                console.print(Text(f"notified {team} <{contact}>"))
            for team, reason in result.failed.items():
                console_err.print(Text(f"error: could not notify {team}: {reason}"))
            if result.unowned_hosts:
                console_err.print(Text(f"warning: no owner to notify for {', '.join(result.unowned_hosts)}"))
    if result is not None:
        return EXIT_OK if result.complete else EXIT_FINDINGS
    return EXIT_FINDINGS if narrowed.rows else EXIT_OK
