"""Telling the owners: what became affected or unknown since a sync, grouped per owning team, one e-mail each.

`exposure_since` narrows an exposure report to the rows an advisory stored by a later sync than the given one brought
(its own rows, and rows whose CVEs a newly synced KEV entry marks as exploited); hosts that cannot be assessed at all
(no or stale facts) are listed too whenever something new arrived, since nobody can say whether it concerns them.
`notify_owners` sends each owning team one plain-text message over SMTP (`SmtpMailer`, or any `Mailer`).
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from patchorch.domain.advisory import AdvisorySource
from patchorch.domain.exposure import ExposureReport, ExposureRow, ExposureStatus
from patchorch.errors import PlanError
from patchorch.orchestrator.smtp_settings import SmtpSettings
from patchorch.store.advisories import StoredAdvisory
from patchorch.store.sync import SyncRun


def resolve_sync(runs: Sequence[SyncRun], wanted: str) -> int:
    """The sync id `--new-since` names: a number, `latest`, `previous` (the one before the latest) or `notified`
    (the newest sync whose changes the owners were already told; 0 when none was).

    0 stands for "before the first sync", so `previous` after the very first sync means everything it brought.
    """
    ids = [run.id for run in runs]
    if wanted == "notified":
        return max((run.id for run in runs if run.notified_at is not None), default=0)
    if wanted == "previous" and len(ids) == 1:
        return 0
    if wanted.isdigit():
        if int(wanted) != 0 and int(wanted) not in ids:
            known = f"{ids[0]}..{ids[-1]}" if ids else "none yet (run `patchorch advisories sync`)"
            raise PlanError(f"--new-since: no sync {wanted} in the store (syncs: {known})")
        return int(wanted)
    if wanted in ("latest", "previous"):
        needed = 1 if wanted == "latest" else 2
        if len(ids) < needed:
            raise PlanError(f"--new-since {wanted}: the store has {len(ids)} sync(s)")
        return ids[-needed]
    raise PlanError(f"--new-since: expected a sync number, 'latest', 'previous' or 'notified', not {wanted!r}")


def exposure_since(
    report: ExposureReport, changed: Mapping[str, str], advisories: Sequence[StoredAdvisory]
) -> ExposureReport:
    """The affected and unknown rows of `report` that the `changed` advisories (id -> added/updated) brought."""
    kev_cves = {
        cve
        for stored in advisories
        if stored.advisory.id in changed and stored.advisory.source is AdvisorySource.KEV
        for cve in stored.advisory.cves
    }

    def new(row: ExposureRow) -> bool:
        if row.status not in (ExposureStatus.AFFECTED, ExposureStatus.UNKNOWN):
            return False
        if row.advisory is None:  # the host cannot be assessed at all
            return bool(changed)
        return row.advisory in changed or (row.known_exploited and bool(kev_cves.intersection(row.cves)))

    return report.model_copy(update={"rows": tuple(row for row in report.rows if new(row))})


class OwnerNotice(BaseModel):
    """The rows of one owning team (team None: hosts without an owner)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    team: str | None
    contact: str | None
    rows: tuple[ExposureRow, ...]

    @property
    def hosts(self) -> tuple[str, ...]:
        """The team's hosts in these rows."""
        return tuple(sorted({row.host for row in self.rows}))


def by_owner(report: ExposureReport) -> tuple[OwnerNotice, ...]:
    """The report's rows grouped by owning team and contact, teams in name order, unowned hosts last."""
    groups: dict[tuple[str | None, str | None], list[ExposureRow]] = {}
    for row in report.rows:
        groups.setdefault((row.owner_team, row.owner_contact), []).append(row)
    ordered = sorted(groups.items(), key=lambda item: (item[0][0] is None, item[0][0] or "", item[0][1] or ""))
    return tuple(OwnerNotice(team=team, contact=contact, rows=tuple(rows)) for (team, contact), rows in ordered)


def message(notice: OwnerNotice, *, sender: str, since: int, now: datetime) -> EmailMessage:
    """The plain-text e-mail telling one team what became affected or unknown on its hosts since sync `since`."""
    affected = {row.host for row in notice.rows if row.status is ExposureStatus.AFFECTED}
    unknown = {row.host for row in notice.rows if row.status is ExposureStatus.UNKNOWN} - affected
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = notice.contact or ""
    mail["Date"] = formatdate(now.timestamp(), localtime=False, usegmt=True)
    mail["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    mail["Subject"] = (
        f"patchorch: {len(affected)} host(s) of {notice.team} affected, {len(unknown)} unknown since sync {since}"
    )
    lines = [
        f"Team {notice.team}: since advisory sync {since}, these hosts became affected or cannot be assessed.",
        "",
    ]
    for row in notice.rows:
        what = row.advisory or "(every advisory)"
        if row.package:
            what += f" {row.package} {row.installed or '?'} -> {row.fixed or 'no fix yet'}"
        extra = [
            "KEV" if row.known_exploited else "",
            f"CVSS {row.cvss}" if row.cvss is not None else "",
            f"due {row.due.isoformat()}" if row.due else "",
            row.reason,
        ]
        lines.append(f"- {row.host}: {row.status.value}: {what}" + "".join(f"; {e}" for e in extra if e))
    lines += ["", "Details: patchorch exposure --new-since " + str(since), ""]
    mail.set_content("\n".join(lines))
    return mail


class Mailer(Protocol):
    """Sends one message (`SmtpMailer` is the real one)."""

    def send(self, mail: EmailMessage) -> None:
        """Send `mail`; OSError or smtplib.SMTPException when it cannot be sent."""
        ...


class SmtpMailer:
    """SMTP with STARTTLS, implicit TLS (ssl) or none, verifying the server's certificate."""

    def __init__(self, settings: SmtpSettings, environ: Mapping[str, str] | None = None) -> None:
        self._settings = settings
        environ = os.environ if environ is None else environ
        self._password = environ.get(settings.password_env) if settings.password_env else None
        if settings.password_env and self._password is None:
            raise PlanError(f"smtp.password_env: the environment variable {settings.password_env} is not set")

    def send(self, mail: EmailMessage) -> None:
        """Connect, authenticate when configured, send, quit."""
        s = self._settings
        context = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
        client: smtplib.SMTP
        if s.security == "ssl":
            client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        with client:
            if s.security == "starttls":
                client.starttls(context=context)
            if s.username:
                client.login(s.username, self._password or "")
            client.send_message(mail)


class NotifyResult(BaseModel):
    """Who was told and who was not: team -> contact sent to, team -> why not, hosts without an owner."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sent: dict[str, str] = {}
    failed: dict[str, str] = {}
    unowned_hosts: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Every row reached its owner."""
        return not self.failed and not self.unowned_hosts


def notify_owners(
    notices: Sequence[OwnerNotice], mailer: Mailer, *, sender: str, since: int, now: datetime
) -> NotifyResult:
    """Send each owning team its one message; a team that cannot be reached is a result, not an exception."""
    sent: dict[str, str] = {}
    failed: dict[str, str] = {}
    unowned: set[str] = set()
    for notice in notices:
        if notice.team is None:
            unowned.update(notice.hosts)
            continue
        key = (
            notice.team
            if notice.team not in sent and notice.team not in failed
            else f"{notice.team} <{notice.contact}>"
        )
        if not notice.contact or "@" not in notice.contact:
            failed[key] = f"contact {notice.contact!r} is not an e-mail address"
            continue
        try:
            mailer.send(message(notice, sender=sender, since=since, now=now))
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            failed[key] = f"{type(exc).__name__}: {exc}"
            continue
        sent[key] = notice.contact
    return NotifyResult(sent=sent, failed=failed, unowned_hosts=tuple(sorted(unowned)))
