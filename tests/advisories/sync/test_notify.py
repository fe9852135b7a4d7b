"""Grouping new exposure per owner and who could be told, with a recording Mailer (the real SMTP is in test_cli)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from patchorch.domain.exposure import ExposureReport, ExposureRow, ExposureStatus
from patchorch.orchestrator.notify import by_owner, notify_owners

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


class RecordingMailer:
    """A Mailer that keeps what it is asked to send."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    def send(self, mail: EmailMessage) -> None:
        self.sent.append(mail)


def _row(host: str, team: str | None, contact: str | None) -> ExposureRow:
    return ExposureRow(
        host=host,
        owner_team=team,
        owner_contact=contact,
        status=ExposureStatus.AFFECTED,
        advisory="WID-SEC-W-2026-0042",
        package="acme-mta",
        installed="1.0-1",
        fixed="1.0-2",
    )


def _report(*rows: ExposureRow) -> ExposureReport:
    return ExposureReport(generated_at=NOW, max_fact_age=timedelta(days=7), rows=rows)


def test_team_without_an_email_contact_is_reported_not_sent_and_unowned_hosts_are_named() -> None:
    """A contact that is not an address is a failure for that team only; hosts without owner are listed."""
    report = _report(
        _row("mx1", "mail", "mail-oncall@example.org"),
        _row("db1", "dba", "+49 30 1234"),
        _row("old1", None, None),
    )
    mailer = RecordingMailer()
    result = notify_owners(by_owner(report), mailer, sender="patchorch@example.org", since=3, now=NOW)
    assert result.sent == {"mail": "mail-oncall@example.org"}
    assert result.failed == {"dba": "contact '+49 30 1234' is not an e-mail address"}
    assert result.unowned_hosts == ("old1",)
    assert not result.complete
    (mail,) = mailer.sent
    assert mail["To"] == "mail-oncall@example.org"
    assert mail["Subject"] == "patchorch: 1 host(s) of mail affected, 0 unknown since sync 3"
    assert mail["Date"] == "Mon, 23 Nov 2026 06:00:00 +0000"


def test_by_owner_puts_a_teams_hosts_in_one_notice() -> None:
    """Rows of one team and contact become one notice, teams in name order, unowned last."""
    report = _report(
        _row("mx2", "mail", "m@example.org"),
        _row("web1", None, None),
        _row("db1", "dba", "d@example.org"),
        _row("mx1", "mail", "m@example.org"),
    )
    assert [(n.team, n.hosts) for n in by_owner(report)] == [
        ("dba", ("db1",)),
        ("mail", ("mx1", "mx2")),
        (None, ("web1",)),
    ]
