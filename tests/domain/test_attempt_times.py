"""When an attempt really started and ended, as its record says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from patchorch.domain.outcomes import HostOutcome, HostStatus
from patchorch.domain.run import AttemptRecord

DISPATCHED = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _attempt(started: datetime, finished: datetime) -> AttemptRecord:
    outcome = HostOutcome(host="b", status=HostStatus.PATCHED, started_at=started, finished_at=finished)
    return AttemptRecord(
        run_id="r",
        stage="s",
        batch=1,
        attempt=1,
        host="b",
        dispatched_at=DISPATCHED,
        status=outcome.status,
        outcome=outcome,
    )


def test_an_attempt_started_ahead_of_its_turn_starts_when_it_was_dispatched() -> None:
    """Read-only steps before the dispatch (a playbook waiting at the gate) do not count as the host's start."""
    attempt = _attempt(DISPATCHED - timedelta(seconds=30), DISPATCHED + timedelta(seconds=5))
    assert attempt.started == DISPATCHED
    assert attempt.ended == DISPATCHED + timedelta(seconds=5)


def test_an_attempt_whose_playbook_ended_before_its_dispatch_ends_when_it_started() -> None:
    """A playbook that ended before the release reached it is recorded as starting and ending at the dispatch."""
    attempt = _attempt(DISPATCHED - timedelta(seconds=30), DISPATCHED - timedelta(seconds=20))
    assert attempt.started == DISPATCHED
    assert attempt.ended == DISPATCHED


def test_an_attempt_started_after_its_dispatch_keeps_its_first_event_as_start() -> None:
    """A host dispatched at once starts with its first task's event."""
    attempt = _attempt(DISPATCHED + timedelta(seconds=2), DISPATCHED + timedelta(seconds=9))
    assert attempt.started == DISPATCHED + timedelta(seconds=2)
