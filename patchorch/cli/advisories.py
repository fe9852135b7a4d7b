"""`patchorch advisories import|list|show`, `exposure` (also `--new-since SYNC [--notify]`) and `facts refresh`.

Exit statuses: 0 success (exposure: nothing affected or unknown); 1 exposure found affected or unknown hosts;
2 bad input (an advisory file that does not validate: nothing was imported).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
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
    ask_credentials,
    ask_vault_ids,
    cell,
    console,
    console_err,
    missing_setting,
    plain,
    print_json,
    require_inventory,
    state,
)
from patchorch.cli._groups import advisories_app
from patchorch.cli._wiring import open_workspace, store_location
from patchorch.config import Settings
from patchorch.domain.spans import parse_span
from patchorch.domain.vulnerability import DEFAULT_MAX_FACT_AGE
from patchorch.errors import ConfigError, PlanError, Problem

# The store (sqlalchemy), the exposure report and the inventory (Ansible) load inside the commands that use them.
if TYPE_CHECKING:
    from patchorch.domain.advisory import Advisory
    from patchorch.domain.exposure import ExposureReport
    from patchorch.domain.fleet import Fleet
    from patchorch.execution.base import VaultId
    from patchorch.orchestrator.notify import NotifyResult
    from patchorch.orchestrator.stores import StoreLocation
    from patchorch.store.advisories import AdvisoryStore


MaxFactAgeOption = Annotated[
    str | None,
    typer.Option(
        "--max-fact-age",
        help=f"Package facts older than this make a host UNKNOWN, e.g. 7d, 12h (default {DEFAULT_MAX_FACT_AGE.days}d).",
    ),
]


def _max_fact_age(value: str | None) -> timedelta:
    if value is None:
        return DEFAULT_MAX_FACT_AGE
    try:
        return parse_span(value)
    except ValueError as exc:
        raise ConfigError(
            [Problem(str(exc), field="--max-fact-age", allowed="a positive span like 7d, 12h or 90m")]
        ) from None


def _fleet(settings: Settings, limit: str | None, vault_ids: Sequence[VaultId]) -> Fleet | None:
    from patchorch.sources.inventory import load_fleet

    if not settings.inventory:
        return None
    return load_fleet(settings.inventory, limit=limit, vault_ids=vault_ids).selected


def _cell(value: object) -> Text:
    # Advisory text is untrusted: never interpret it as rich markup, never pass control characters through.
    return cell("" if value is None else value)


@advisories_app.command("import")
def import_command(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Advisory files, or directories of *.json files.")],
    json_output: JsonOption = False,
) -> None:
    """Validate and store advisories; the same advisory twice is one advisory, a newer revision replaces it."""
    from patchorch.orchestrator.exposure import import_advisories

    settings = state(ctx).settings()
    store = store_location(settings).advisories()
    report = import_advisories(paths, store, now=datetime.now(UTC))
    if json_output:
        print_json({**report.model_dump(mode="json"), "unmapped": report.unmapped})
        return
    counts = ", ".join(
        f"{report.count(status)} {status}"
        for status in ("added", "updated", "unchanged", "older", "conflict")
        if report.count(status)
    )
    console.print(Text(f"{len(report.outcomes)} advisories from {len(report.documents)} files: {counts or 'none'}"))
    if report.products:
        console.print(
            Text(
                f"{len(report.products)} affected products are no package of a distribution release "
                f"({report.unmapped} could not be mapped at all): hosts they could concern are UNKNOWN "
                "unless their facts prove otherwise; see `patchorch advisories show ID`"
            )
        )
        for product in report.products:
            if product.kind.value == "unmapped":
                console_err.print(
                    Text(f"warning: {product.advisory}: cannot map {_describe(product.name, product.cpe)}")
                )
    for outcome in report.outcomes:
        if outcome.status in ("older", "conflict"):
            note = (
                f"{outcome.id}: revision {outcome.revision} is older than the stored {outcome.previous_revision}"
                if outcome.status == "older"
                else f"{outcome.id}: {outcome.reason}"
                if outcome.reason
                else f"{outcome.id}: revision {outcome.revision} differs from the stored one with the same revision"
            )
            console_err.print(Text(f"warning: {note} ({outcome.path}); kept the stored one"))


@advisories_app.command("list")
def list_command(
    ctx: typer.Context,
    inventory: InventoryOption = None,
    limit: LimitOption = None,
    max_fact_age: MaxFactAgeOption = None,
    json_output: JsonOption = False,
    vault_id: VaultIdOption = None,
    vault_password_file: VaultPasswordFileOption = None,
) -> None:
    """Stored advisories with the hosts they affect and the owners of those hosts."""
    from patchorch.orchestrator.exposure import exposure

    settings = state(ctx).settings(inventory=inventory)
    store = store_location(settings).advisories()
    now = datetime.now(UTC)
    fleet = _fleet(settings, limit, ask_vault_ids(vault_id, vault_password_file))
    report = exposure(fleet, store, now=now, max_fact_age=_max_fact_age(max_fact_age)) if fleet is not None else None
    items: list[dict[str, Any]] = []
    for stored in store.list():
        advisory = stored.advisory
        rows = report.affected_by(advisory) if report else ()
        items.append(
            {
                "id": advisory.id,
                "source": advisory.source.value,
                "revision": advisory.revision,
                "title": advisory.title,
                "cves": list(advisory.cves),
                "cvss": advisory.cvss,
                "exploitation": advisory.exploitation.value,
                "kev_due": advisory.kev.due_date.isoformat() if advisory.kev else None,
                "withdrawn": advisory.withdrawn is not None,
                "imported_at": stored.imported_at.isoformat(),
                **_contents(advisory),
                "affected_hosts": sorted({row.host for row in rows}),
                "owners": _owners(rows),
            }
        )
    if json_output:
        print_json({"advisories": items, "inventory": fleet is not None})
        return
    if fleet is None:
        console_err.print("note: no inventory given (-i), so affected hosts and owners are not shown")
    table = Table("advisory", "source", "revision", "CVEs", "CVSS", "exploited", "hosts", "owners", "title")
    for item in items:
        owners = ", ".join(owner["team"] or "(no owner)" for owner in item["owners"])
        table.add_row(
            *(
                _cell(value)
                for value in (
                    item["id"],
                    item["source"],
                    item["revision"],
                    " ".join(item["cves"]),
                    item["cvss"],
                    item["exploitation"] + (f" (KEV due {item['kev_due']})" if item["kev_due"] else ""),
                    len(item["affected_hosts"]) if fleet is not None else "?",
                    owners if fleet is not None else "?",
                    item["title"] + (" [withdrawn]" if item["withdrawn"] else ""),
                )
            )
        )
    console.print(table)


def _describe(name: str, cpe: str | None) -> str:
    return f"{name} ({cpe})" if cpe else name


def _contents(advisory: Advisory) -> dict[str, Any]:
    """What an advisory says, as JSON-ready data: its packages with fixed versions, and the products without one."""
    return {
        "packages": [
            {
                "ecosystem": package.ecosystem.value,
                "distro": package.distro,
                "name": package.name,
                "fixed": list(package.fixed_versions),
                "affected_versions": list(package.versions),
                "cves": list(package.cves),
                "cvss": package.cvss,
            }
            for package in advisory.affected
        ],
        "products": [claim.model_dump(mode="json") for claim in advisory.products],
        "unmapped_products": [
            {"product_id": claim.product_id, "name": claim.name, "cpe": claim.cpe, "reason": claim.reason}
            for claim in advisory.unmapped
            if claim.concerns_hosts
        ],
    }


@advisories_app.command("show")
def show_command(
    ctx: typer.Context,
    advisory_id: Annotated[str, typer.Argument(help="The advisory ID, as `advisories list` shows it.")],
    json_output: JsonOption = False,
) -> None:
    """One stored advisory: CVEs, CVSS, exploitation, packages with their fixed versions, products not mapped."""
    settings = state(ctx).settings()
    stored = store_location(settings).advisories().get(advisory_id)
    if stored is None:
        raise PlanError(f"no advisory {advisory_id!r} in the store (see `patchorch advisories list`)")
    advisory = stored.advisory
    data = {
        "id": advisory.id,
        "source": advisory.source.value,
        "revision": advisory.revision,
        "status": advisory.status,
        "title": advisory.title,
        "published": advisory.published.isoformat() if advisory.published else None,
        "updated": advisory.updated.isoformat() if advisory.updated else None,
        "withdrawn": advisory.withdrawn.isoformat() if advisory.withdrawn else None,
        "cves": list(advisory.cves),
        "cvss": advisory.cvss,
        "exploitation": advisory.exploitation.value,
        "kev_due": advisory.kev.due_date.isoformat() if advisory.kev else None,
        "document": stored.document_path,
        "imported_at": stored.imported_at.isoformat(),
        **_contents(advisory),
    }
    if json_output:
        print_json(data)
        return
    for label in ("id", "source", "revision", "status", "title", "published", "cves", "cvss", "exploitation"):
        value = data[label]
        shown = " ".join(value) if isinstance(value, list) else value
        console.print(Text(f"{label + ':':<14}{'' if shown is None else plain(shown)}"))
    if advisory.kev:
        console.print(
            Text(f"{'KEV due:':<14}{advisory.kev.due_date.isoformat()} ({plain(advisory.kev.required_action)})")
        )
    # Lines rather than tables: package names and versions stay whole on an 80-column terminal.
    if advisory.affected:
        console.print(Text("packages:"))
    for package in advisory.affected:
        fixed = " ".join(package.fixed_versions) or "no fix"
        line = f"  {package.name} ({package.ecosystem.value}, {package.distro or 'any release'}): fixed {fixed}"
        if package.versions:
            line += f"; affected versions {' '.join(package.versions)}"
        if package.cves:
            line += f"; {' '.join(package.cves)}"
        console.print(Text(plain(line)))
    claims = [claim for claim in advisory.products if claim.concerns_hosts]
    if claims:
        console.print(Text("products without a package (hosts they could concern are UNKNOWN unless facts prove):"))
    for claim in claims:
        target = {
            "distribution": f"distribution {claim.distro}",
            "application": f"packages {' '.join(claim.deb + claim.rpm)}"
            + (f" on {claim.distro}" if claim.distro else ""),
            "unmapped": "nothing patchorch knows",
        }[claim.kind.value]
        versions = ", ".join(
            [f"{event.kind} {event.version}" for event in claim.events] + [f"= {v}" for v in claim.versions]
        )
        line = f"  {claim.describe()} [{claim.status}]: {target}" + (f" ({versions})" if versions else "")
        console.print(Text(plain(line + (f": {claim.reason}" if claim.reason else ""))))


def _owners(rows: Sequence[Any]) -> list[dict[str, Any]]:
    owners: dict[tuple[str | None, str | None], set[str]] = {}
    for row in rows:
        owners.setdefault((row.owner_team, row.owner_contact), set()).add(row.host)
    return [
        {"team": team, "contact": contact, "hosts": sorted(hosts)}
        for (team, contact), hosts in sorted(owners.items(), key=lambda item: (item[0][0] or "", item[0][1] or ""))
    ]


@app.command("exposure")
def exposure_command(
    ctx: typer.Context,
    advisory: Annotated[str | None, typer.Option("--advisory", help="Only this advisory ID or CVE.")] = None,
    inventory: InventoryOption = None,
    limit: LimitOption = None,
    max_fact_age: MaxFactAgeOption = None,
    json_output: JsonOption = False,
    policy: PolicyOption = None,
    vault_id: VaultIdOption = None,
    vault_password_file: VaultPasswordFileOption = None,
    new_since: Annotated[
        str | None,
        typer.Option(
            "--new-since", help="Only what syncs after this one brought: a number, latest, previous or notified."
        ),
    ] = None,
    notify: Annotated[
        bool, typer.Option("--notify", help="With --new-since: e-mail each owning team its hosts (smtp: settings).")
    ] = False,
) -> None:
    """Per host: affecting advisories, installed and fixed versions, CVSS, KEV, decision, risk class, due date, owner.

    The due date is the earliest of the KEV due date and the advisory's publication plus the SLA of the risk class
    the policy gives the host for it. Hosts without fresh package facts are UNKNOWN, never "not affected".
    Exit 1 when any host is affected or unknown. With --notify: exit 0 when every owning team was told, 1 when not.
    """
    if notify and new_since is None:
        raise ConfigError([Problem("--notify needs --new-since SYNC", field="--notify")])
    settings = state(ctx).settings(inventory=inventory, policy=policy)
    fleet = _fleet(settings, limit, ask_vault_ids(vault_id, vault_password_file))
    if fleet is None:
        require_inventory(settings)
        return
    location = store_location(settings)
    store = location.advisories()
    from patchorch.orchestrator.exposure import exposure
    from patchorch.sources.policy import load_policy

    report = exposure(
        fleet,
        store,
        advisory=advisory,
        now=datetime.now(UTC),
        max_fact_age=_max_fact_age(max_fact_age),
        policy=load_policy(settings.policy),
    )
    if new_since is not None:
        raise typer.Exit(
            _exposure_new_since(
                settings, location, store, report, new_since=new_since, notify=notify, json_output=json_output
            )
        )
    if json_output:
        print_json(report.to_json_data())
    else:
        _print_report(report)
    raise typer.Exit(EXIT_FINDINGS if report.affected_hosts or report.unknown_hosts else EXIT_OK)


def _exposure_new_since(
    settings: Settings,
    location: StoreLocation,
    store: AdvisoryStore,
    report: ExposureReport,
    *,
    new_since: str,
    notify: bool,
    json_output: bool,
) -> int:
    """Narrow `report` to what syncs after `new_since` brought (the sync state of `location`, whose advisory store is
    `store`), print it per owner, optionally e-mail each owner.

    Exit status: without --notify 1 when anything became affected or unknown; with --notify 0 when every owning
    team was told (or nothing was new), 1 when a team could not be reached or hosts have no owner. When no message
    failed, the syncs up to the latest are marked notified (`--new-since notified` starts after them).
    """
    from patchorch.orchestrator.notify import SmtpMailer, by_owner, exposure_since, notify_owners, resolve_sync

    if notify and settings.smtp is None:
        raise missing_setting(
            settings, "smtp", "--notify needs SMTP settings", "smtp: {host, port, from, security: starttls|ssl|none}"
        )
    sync_state = location.sync()
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


def _print_report(report: ExposureReport) -> None:
    from patchorch.domain.exposure import ExposureStatus

    table = Table(
        "host",
        "owner",
        "status",
        "advisory",
        "package",
        "installed",
        "fixed",
        "CVSS",
        "KEV",
        "decision",
        "class",
        "due",
    )
    for row in report.rows:
        owner = f"{row.owner_team} <{row.owner_contact}>" if row.owner_team else "(no owner)"
        status = row.status.value + (f": {row.reason}" if row.reason else "")
        table.add_row(
            *(
                _cell(value)
                for value in (
                    row.host,
                    owner,
                    status,
                    row.advisory,
                    row.package or (f"({row.product})" if row.product else None),
                    row.installed,
                    row.fixed or ("no fix" if row.status is ExposureStatus.AFFECTED else ""),
                    row.cvss,
                    "yes" if row.known_exploited else "",
                    row.decision.value if row.decision else "",
                    row.risk_class,
                    row.due.isoformat() if row.due else "",
                )
            )
        )
    console.print(table)
    console.print(
        Text(
            f"{len(report.affected_hosts)} affected, {len(report.unknown_hosts)} unknown "
            f"of {len({row.host for row in report.rows})} hosts"
        )
    )


facts_app = typer.Typer(help="Installed-package facts gathered from the hosts.", no_args_is_help=True)
app.add_typer(facts_app, name="facts")


@facts_app.command("refresh")
def facts_refresh(
    ctx: typer.Context,
    inventory: InventoryOption = None,
    limit: LimitOption = None,
    as_json: JsonOption = False,
    vault_id: VaultIdOption = None,
    vault_password_file: VaultPasswordFileOption = None,
) -> None:
    """Gather installed packages and OS details from the hosts (read-only) and store them with a timestamp.

    Exit 0 when every host answered, 1 when some did not (their older facts age into UNKNOWN).
    """
    from patchorch.sources.inventory import load_fleet

    settings = state(ctx).settings(inventory=inventory)
    sources = require_inventory(settings)
    credentials = ask_credentials(False, vault_id, vault_password_file)
    loaded = load_fleet(list(sources), limit=limit, vault_ids=credentials.vault_ids if credentials else ())
    # Progress on a terminal only: a spinner with the host count on stderr; piped output stays clean lines.
    with (
        console_err.status(f"gathering package facts from {len(loaded.fleet)} host(s)", spinner="dots")
        if (console_err.is_terminal and not as_json)
        else nullcontext()
    ):
        result = open_workspace(settings, credentials=credentials).refresh_facts(
            loaded.fleet, list(settings.inventory), in_limit=loaded.in_limit
        )
    if as_json:
        print_json({"refreshed": result.refreshed, "failed": result.failed, "skipped": result.skipped})
    else:
        for host, count in result.refreshed.items():
            console.print(Text(f"{plain(host):<20} {count} packages"))
        for host, reason in result.failed.items():
            console.print(Text(f"{plain(host):<20} ").append("failed", style="red").append(f": {plain(reason)}"))
        for host, reason in result.skipped.items():
            console.print(Text(f"{plain(host):<20} skipped: {plain(reason)}"))
    raise typer.Exit(EXIT_FINDINGS if result.failed else EXIT_OK)
