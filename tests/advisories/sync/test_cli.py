"""`patchorch advisories sync` and `exposure --new-since/--notify`, in-process, against servers on 127.0.0.1.

The HTTPS advisory server and the SMTP server (aiosmtpd, STARTTLS with the test CA) are real and started by the tests.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine

from patchorch.cli._app import main
from patchorch.domain.advisory import OsRelease, PackageFact
from patchorch.store.advisories import AdvisoryStore
from tests.advisories.sync.provider import FIXTURES, AdvisoryServer, CsafProvider, TestCA, csaf_document, encoded
from tests.cli.terminal import run_in_terminal

INVENTORY = """\
all:
  hosts:
    mx1: {patchorch_owner: {team: mail, contact: mail-oncall@example.org}}
    mx2: {patchorch_owner: {team: mail, contact: mail-oncall@example.org}}
    mx3: {patchorch_owner: {team: mail, contact: mail-oncall@example.org}}
    db1: {patchorch_owner: {team: dba, contact: dba@example.org}}
    web1: {patchorch_owner: {team: web, contact: web@example.org}}
"""


class Inbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp(test_ca: TestCA) -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on 127.0.0.1 that requires STARTTLS with the test CA's certificate."""
    inbox = Inbox()
    port = _free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, tls_context=test_ca.server_context(), require_starttls=True
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _project(
    tmp_path: Path, sources: list[dict[str, Any]], smtp_port: int | None = None, ca: TestCA | None = None
) -> Path:
    settings: dict[str, Any] = {"state_dir": "state", "inventory": "inventory.yml", "advisory_sources": sources}
    if smtp_port is not None and ca is not None:
        settings["smtp"] = {
            "host": "127.0.0.1",
            "port": smtp_port,
            "from": "patchorch@example.org",
            "security": "starttls",
            "ca_file": str(ca.ca_file),
        }
    (tmp_path / "inventory.yml").write_text(INVENTORY, encoding="utf-8")
    path = tmp_path / "patchorch.yml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


def _facts(tmp_path: Path) -> None:
    store = AdvisoryStore(create_engine(f"sqlite:///{tmp_path / 'state' / 'patchorch.db'}"))
    store.create_tables()
    debian = OsRelease(family="debian", version="12", manager="dpkg")
    for host, version in (("mx1", "1.0-1"), ("mx2", "1.0-1"), ("db1", "1.0-1"), ("web1", "1.0-2")):
        store.save_facts(
            host, [PackageFact(name="acme-mta", version=version, source="acme-mta")], debian, datetime.now(UTC)
        )


def _sources(server: AdvisoryServer, provider: CsafProvider, ca: TestCA) -> list[dict[str, Any]]:
    return [
        {"type": "csaf", "name": "bsi", "url": provider.metadata_url, "ca_file": str(ca.ca_file)},
        {"type": "kev", "url": server.url("/kev.json"), "ca_file": str(ca.ca_file)},
    ]


def _synced(tmp_path: Path, server: AdvisoryServer, ca: TestCA, smtp_port: int | None) -> Path:
    """A project after two syncs of a provider, the second bringing WID-SEC-W-2026-0042, with the hosts' facts."""
    provider = CsafProvider(server)
    config = _project(tmp_path, _sources(server, provider, ca)[:1], smtp_port, ca)
    assert main(["--config", str(config), "advisories", "sync"]) == 0  # sync 1: nothing published yet
    provider.publish("a.json", encoded(csaf_document("WID-SEC-W-2026-0042")), "2026-11-20T10:00:00Z")
    assert main(["--config", str(config), "advisories", "sync"]) == 0  # sync 2: the advisory
    _facts(tmp_path)
    return config


def test_sync_json_reports_each_source_and_exits_1_on_a_bad_document(
    tmp_path: Path, server: AdvisoryServer, test_ca: TestCA, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tampered document makes the sync exit 1; the JSON names it and the good document and KEV are stored."""
    provider = CsafProvider(server)
    provider.publish("good.json", encoded(csaf_document("WID-SEC-W-2026-0100")), "2026-11-20T10:00:00Z")
    provider.publish(
        "bad.json", encoded(csaf_document("WID-SEC-W-2026-0101")), "2026-11-20T10:00:00Z", digest="0" * 128
    )
    server.files["/kev.json"] = (FIXTURES / "kev-catalog.json").read_bytes()
    config = _project(tmp_path, _sources(server, provider, test_ca))
    assert main(["--config", str(config), "advisories", "sync", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "partial"
    bsi, kev = data["sources"]
    assert (bsi["status"], bsi["added"], [f["url"].rsplit("/", 1)[-1] for f in bsi["failures"]]) == (
        "partial",
        1,
        ["bad.json"],
    )
    assert (kev["status"], kev["added"]) == ("ok", 2)


def test_sync_without_sources_exits_2_naming_the_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No advisory_sources in patchorch.yml: exit 2, one line naming the file and the key."""
    config = _project(tmp_path, [])
    assert main(["--config", str(config), "advisories", "sync"]) == 2
    err = capsys.readouterr().err
    assert f"{config}, advisory_sources: no advisory sources configured" in err


def test_plain_http_source_is_refused_as_bad_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A source URL that is not https:// is bad input (exit 2) naming the field."""
    config = _project(tmp_path, [{"type": "kev", "url": "http://127.0.0.1:1/kev.json"}])
    assert main(["--config", str(config), "advisories", "sync"]) == 2
    assert "advisory_sources.0.kev.url" in capsys.readouterr().err


def test_new_since_notifies_each_owning_team_once(
    tmp_path: Path,
    server: AdvisoryServer,
    test_ca: TestCA,
    smtp: tuple[Inbox, int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """After a sync brings an advisory, each team gets one e-mail (STARTTLS): affected and unassessable hosts."""
    inbox, port = smtp
    config = _synced(tmp_path, server, test_ca, port)
    capsys.readouterr()
    assert main(["--config", str(config), "exposure", "--new-since", "1", "--notify", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["since_sync"] == 1
    assert {(o["team"], tuple(o["hosts"])) for o in data["owners"]} == {
        ("mail", ("mx1", "mx2", "mx3")),
        ("dba", ("db1",)),
    }
    assert data["notified"]["sent"] == {"mail": "mail-oncall@example.org", "dba": "dba@example.org"}
    assert sorted(rcpt for _, rcpt, _ in inbox.messages) == [["dba@example.org"], ["mail-oncall@example.org"]]
    mail = next(message_from_bytes(raw) for _, rcpt, raw in inbox.messages if rcpt == ["mail-oncall@example.org"])
    body = mail.get_payload(decode=True).decode()
    listed = [line.split(":")[:2] for line in body.splitlines() if line.startswith("- ")]
    assert listed == [["- mx1", " affected"], ["- mx2", " affected"], ["- mx3", " unknown"]]
    assert "WID-SEC-W-2026-0042 acme-mta 1.0-1 -> 1.0-2" in body
    assert "no package facts" in body
    assert mail["From"] == "patchorch@example.org"


def test_new_since_without_notify_lists_owners_and_exits_1(
    tmp_path: Path, server: AdvisoryServer, test_ca: TestCA, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --notify the new rows are listed per owner and the exit status is 1 (findings); web1 is fixed."""
    config = _synced(tmp_path, server, test_ca, None)
    capsys.readouterr()
    assert main(["--config", str(config), "exposure", "--new-since", "previous"]) == 1
    out = capsys.readouterr().out
    assert "new since sync 1:" in out
    assert "mail <mail-oncall@example.org>: 3 host(s)" in out
    assert "dba <dba@example.org>: 1 host(s)" in out
    assert "web1" not in out


def test_new_since_opens_the_store_once(
    tmp_path: Path, server: AdvisoryServer, test_ca: TestCA, engines_opened: list[object]
) -> None:
    """`exposure --new-since` reads advisories and sync state through one database engine."""
    config = _synced(tmp_path, server, test_ca, None)
    engines_opened.clear()  # the syncs before
    assert main(["--config", str(config), "exposure", "--new-since", "previous", "--json"]) == 1
    assert len(engines_opened) == 1


def test_nothing_new_since_the_latest_sync_lists_nothing_and_sends_nothing(
    tmp_path: Path,
    server: AdvisoryServer,
    test_ca: TestCA,
    smtp: tuple[Inbox, int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--new-since latest` after the sync that brought an affecting advisory: no rows, no e-mail, exit 0."""
    inbox, port = smtp
    config = _synced(tmp_path, server, test_ca, port)
    capsys.readouterr()
    assert main(["--config", str(config), "exposure", "--new-since", "latest", "--notify", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["rows"], data["owners"], inbox.messages) == ([], [], [])


def test_unreachable_smtp_server_exits_1_naming_the_team(
    tmp_path: Path, server: AdvisoryServer, test_ca: TestCA, capsys: pytest.CaptureFixture[str]
) -> None:
    """When the SMTP server cannot be reached, each team that was not told is named and the exit status is 1."""
    config = _synced(tmp_path, server, test_ca, _free_port())
    capsys.readouterr()
    assert main(["--config", str(config), "exposure", "--new-since", "previous", "--notify"]) == 1
    err = capsys.readouterr().err
    assert "could not notify dba: ConnectionRefusedError" in err
    assert "could not notify mail: ConnectionRefusedError" in err


def test_notify_without_smtp_settings_exits_2(
    tmp_path: Path, server: AdvisoryServer, test_ca: TestCA, capsys: pytest.CaptureFixture[str]
) -> None:
    """--notify with no `smtp:` section is bad input naming the key; nothing is sent."""
    provider = CsafProvider(server)
    config = _project(tmp_path, _sources(server, provider, test_ca)[:1])
    assert main(["--config", str(config), "advisories", "sync"]) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "exposure", "--new-since", "latest", "--notify"]) == 2
    assert "smtp: --notify needs SMTP settings (allowed: smtp:" in capsys.readouterr().err


def test_sync_on_a_terminal_shows_progress_per_source(tmp_path: Path, server: AdvisoryServer, test_ca: TestCA) -> None:
    """On a terminal each source gets a progress line counting the documents downloaded."""
    provider = CsafProvider(server)
    provider.publish("a.json", encoded(csaf_document("WID-SEC-W-2026-0200")), "2026-11-20T10:00:00Z")
    provider.publish("b.json", encoded(csaf_document("WID-SEC-W-2026-0201")), "2026-11-20T10:00:00Z")
    config = _project(tmp_path, _sources(server, provider, test_ca)[:1])
    screen = run_in_terminal(["--config", str(config), "advisories", "sync"], timeout=120)
    assert screen.status == 0
    progress = [line for line in screen.lines if line.startswith("bsi (ok)")]
    assert progress
    assert progress[-1].rstrip().endswith("2/2")
    assert any(line.startswith("sync 1: ok") for line in screen.lines)


@pytest.fixture
def smtps(test_ca: TestCA) -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on 127.0.0.1 speaking implicit TLS (what port 465 does) with the test CA's certificate."""
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=test_ca.server_context())
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_notify_over_implicit_tls(
    tmp_path: Path, server: AdvisoryServer, test_ca: TestCA, smtps: tuple[Inbox, int]
) -> None:
    """With `security: ssl` the message goes over implicit TLS, the server's certificate verified."""
    inbox, port = smtps
    config = _synced(tmp_path, server, test_ca, port)
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    settings["smtp"]["security"] = "ssl"
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    assert main(["--config", str(config), "exposure", "--new-since", "previous", "--notify"]) == 0
    assert sorted(rcpt for _, rcpt, _ in inbox.messages) == [["dba@example.org"], ["mail-oncall@example.org"]]


def test_new_since_notified_tells_each_change_once(
    tmp_path: Path, server: AdvisoryServer, test_ca: TestCA, smtp: tuple[Inbox, int]
) -> None:
    """`--new-since notified` sends what no notification covered yet; run again, it sends nothing more."""
    inbox, port = smtp
    config = _synced(tmp_path, server, test_ca, port)
    notify = ["--config", str(config), "exposure", "--new-since", "notified", "--notify"]
    assert main(notify) == 0
    assert len(inbox.messages) == 2
    assert main(notify) == 0
    assert len(inbox.messages) == 2
