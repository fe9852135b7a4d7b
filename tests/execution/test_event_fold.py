"""The executor's event fold, fed real ansible-runner event streams recorded from the test fleet (no fleet needed).

The streams in tests/fixtures/runner_events were recorded by scripts/record_runner_events.py on a 4-host fleet:
webmail1 is the canary and patched; mx1 was already at acme-mta 1.0-2; imap1's upgrade fails in dpkg; relay1 stops
answering before its stage; a check-mode run came first; the facts play ran with relay1 still away.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from patchorch.domain.outcomes import HostOutcome, HostStatus
from patchorch.execution.ansible import _EventFold, facts_result
from patchorch.execution.base import FactsResult, HostEvent, TaskStatus

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "runner_events"
OLD, NEW = "1.0-1", "1.0-2"


def _stream(name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    recorded = json.loads(gzip.decompress((EVENTS / f"{name}.json.gz").read_bytes()))
    return recorded["request"], recorded["events"]


def _fold(name: str, *, upto: int | None = None, **options: Any) -> tuple[_EventFold, dict[str, Any]]:
    request, events = _stream(name)
    fold = _EventFold(tuple(request["hosts"]), request["stage"], request["batch"], request["attempt"], **options)
    for event in events[:upto]:
        assert fold(event) is False  # nothing is ever handed back to runner to write to disk
    return fold, request


def _outcomes(name: str, *, upto: int | None = None, cancelled: bool = False, **options: Any) -> dict[str, HostOutcome]:
    fold, request = _fold(name, upto=upto, **options)
    return {o.host: o for o in fold.outcomes(check=request["check"], cancelled=cancelled)}


def _facts(events: list[dict[str, Any]], hosts: tuple[str, ...]) -> FactsResult:
    fold = _EventFold(hosts, "facts", 1, 1, fact="patchorch_facts")
    for event in events:
        fold(event)
    return facts_result(fold)


def test_a_patched_host_has_its_versions_checks_and_times() -> None:
    """The canary's stream folds into PATCHED, 1.0-1 -> 1.0-2, every check passed, aware start before finish."""
    outcome = _outcomes("mixed-canary-b1-a1")["webmail1"]
    assert outcome.status is HostStatus.PATCHED
    assert (outcome.versions_before, outcome.versions_after) == ({"acme-mta": OLD}, {"acme-mta": NEW})
    assert outcome.checks
    assert all(check.passed for check in outcome.checks)
    assert outcome.started_at is not None
    assert outcome.finished_at is not None
    assert outcome.started_at.tzinfo is not None
    assert outcome.started_at < outcome.finished_at


def test_an_already_patched_host_is_unchanged() -> None:
    """A host already at 1.0-2 folds into UNCHANGED with equal versions and nothing changed."""
    outcome = _outcomes("mixed-wave-1-internet-high-b1-a1")["mx1"]
    assert outcome.status is HostStatus.UNCHANGED
    assert not outcome.changed
    assert outcome.versions_before == outcome.versions_after == {"acme-mta": NEW}


def test_a_failed_upgrade_names_the_step_the_task_and_dpkg_message() -> None:
    """A host whose dpkg fails folds into FAILED at step `update`, with the task and dpkg's error, still at 1.0-1."""
    outcome = _outcomes("mixed-wave-2-internal-high-b1-a1")["imap1"]
    assert outcome.status is HostStatus.FAILED
    assert outcome.failed_step == "update"
    assert outcome.failed_task is not None
    assert "Upgrade" in outcome.failed_task
    assert outcome.message is not None
    assert "dpkg returned an error" in outcome.message
    assert outcome.versions_after == {"acme-mta": OLD}


def test_an_unreachable_host_carries_sshs_reason() -> None:
    """A host whose sshd is gone folds into UNREACHABLE with ssh's reason and no versions."""
    outcome = _outcomes("mixed-wave-3-isolated-medium-b1-a1")["relay1"]
    assert outcome.status is HostStatus.UNREACHABLE
    assert outcome.message is not None
    assert "Connection refused" in outcome.message
    assert outcome.versions_after == {}


def test_check_mode_reports_the_change_it_would_make_without_making_it() -> None:
    """In check mode the canary would change (PATCHED, check_mode) but its version stays 1.0-1."""
    outcome = _outcomes("check-canary-b1-a1")["webmail1"]
    assert outcome.check_mode
    assert outcome.status is HostStatus.PATCHED
    assert outcome.changed
    assert outcome.versions_before == outcome.versions_after == {"acme-mta": OLD}


def test_the_prepare_phase_reports_what_each_host_prepared() -> None:
    """The prepare stream (four hosts at once) leaves every host UNCHANGED; only hosts still at 1.0-1 prepared 1.0-2."""
    outcomes = _outcomes("mixed-prepare-b1-a1")
    assert {h: o.status for h, o in outcomes.items()} == dict.fromkeys(
        ("webmail1", "mx1", "imap1", "relay1"), HostStatus.UNCHANGED
    )
    assert {h: o.prepared for h, o in outcomes.items()} == {
        "webmail1": {"acme-mta": NEW},
        "mx1": {},
        "imap1": {"acme-mta": NEW},
        "relay1": {"acme-mta": NEW},
    }


def test_every_task_result_becomes_one_host_event() -> None:
    """Each runner_on_* event of the stream reaches on_event once, changed tasks reported as CHANGED."""
    seen: list[HostEvent] = []
    _, events = _stream("mixed-canary-b1-a1")
    results = [e for e in events if e["event"] in ("runner_on_ok", "runner_on_failed", "runner_on_skipped")]
    _fold("mixed-canary-b1-a1", on_event=seen.append)
    assert len(seen) == len(results)
    assert {e.host for e in seen} == {"webmail1"}
    changed = sum(1 for e in results if e["event"] == "runner_on_ok" and e["event_data"]["res"].get("changed"))
    assert changed > 0
    assert sum(1 for e in seen if e.status is TaskStatus.CHANGED) == changed


def test_a_stream_cut_off_before_the_result_leaves_the_host_unknown() -> None:
    """Events that stop before the role exported its result (a stopped playbook) give UNKNOWN, never PATCHED."""
    _, events = _stream("mixed-canary-b1-a1")
    cut = len(events) // 2
    outcome = _outcomes("mixed-canary-b1-a1", upto=cut, cancelled=True)["webmail1"]
    assert outcome.status is HostStatus.UNKNOWN
    assert outcome.message == "cancelled before the host finished"


def test_a_host_absent_from_the_stream_is_unknown() -> None:
    """A requested host that no event mentions (limit matched nothing) is UNKNOWN with `no result`."""
    request, events = _stream("mixed-canary-b1-a1")
    fold = _EventFold(("webmail1", "ghost1"), request["stage"], 1, 1)
    for event in events:
        fold(event)
    outcome = {o.host: o for o in fold.outcomes(check=False, cancelled=False)}["ghost1"]
    assert (outcome.status, outcome.message) == (HostStatus.UNKNOWN, "no result")


def test_secrets_are_masked_in_folded_messages() -> None:
    """A secret of the run's credentials that appears in a failure message is masked in the outcome."""
    outcome = _outcomes("mixed-wave-2-internal-high-b1-a1", secrets=("Sub-process",))["imap1"]
    assert outcome.message is not None
    assert "Sub-process" not in outcome.message
    assert "********" in outcome.message


def test_gathered_facts_are_validated_into_host_facts() -> None:
    """The facts stream gives HostFacts for the three hosts that answered: Debian, dpkg, acme-mta among packages."""
    request, events = _stream("gather-facts")
    result = _facts(events, tuple(request["hosts"]))
    assert sorted(result.facts) == ["imap1", "mx1", "webmail1"]
    for facts in result.facts.values():
        assert facts.os.family == "debian"
        assert facts.manager == "dpkg"
        assert "acme-mta" in {p.name for p in facts.packages}
    assert {p.version for p in result.facts["mx1"].packages if p.name == "acme-mta"} == {NEW}


def test_a_host_that_did_not_answer_the_facts_play_is_failed_with_the_reason() -> None:
    """relay1, away during the facts play, is listed as failed with ssh's reason and has no facts."""
    request, events = _stream("gather-facts")
    result = _facts(events, tuple(request["hosts"]))
    assert list(result.failed) == ["relay1"]
    assert "Connection refused" in result.failed["relay1"]


@pytest.mark.parametrize("broken", [{"os": None}, {"packages": [{"name": "x"}]}])
def test_facts_that_do_not_validate_fail_that_host_only(broken: dict[str, Any]) -> None:
    """A host whose exported facts do not validate is failed with the validation message; the others keep theirs."""
    request, events = _stream("gather-facts")
    for event in events:
        data = event.get("event_data") or {}
        facts = (data.get("res") or {}).get("ansible_facts") or {}
        if data.get("host") == "mx1" and "patchorch_facts" in facts:
            facts["patchorch_facts"].update(broken)
    result = _facts(events, tuple(request["hosts"]))
    assert "mx1" not in result.facts
    assert result.failed["mx1"].startswith("facts did not validate: ")
    assert sorted(result.facts) == ["imap1", "webmail1"]
