"""The one due-date rule: the SLA counts from the advisory's disclosure, else from when the need became known; an
earlier KEV due date wins, met by the end of its day (UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from patchorch.domain.due import due_at, kev_deadline

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_the_sla_counts_from_disclosure() -> None:
    """An advisory disclosed two days ago with a 7-day SLA is due five days from now, whatever `known_at` says."""
    assert due_at(timedelta(days=7), known_at=NOW, disclosed=NOW - timedelta(days=2)) == NOW + timedelta(days=5)


def test_without_disclosure_the_sla_counts_from_known_at() -> None:
    """With no disclosure time (no advisory) the SLA counts from when the need became known."""
    assert due_at(timedelta(hours=24), known_at=NOW) == NOW + timedelta(hours=24)


def test_an_earlier_kev_due_date_wins_until_the_end_of_its_day() -> None:
    """A KEV due date before the SLA due time is the due time, the last moment of that day in UTC."""
    due = due_at(timedelta(days=30), known_at=NOW, kev_due=date(2026, 12, 3))
    assert due == kev_deadline(date(2026, 12, 3))
    assert due is not None
    assert (due.date(), due + timedelta(microseconds=1)) == (date(2026, 12, 3), datetime(2026, 12, 4, tzinfo=UTC))


def test_the_shortest_sla_wins_and_none_without_any() -> None:
    """Of a decision's and a class's SLA the shorter decides; with no SLA and no KEV date nothing is due."""
    assert due_at(timedelta(days=7), timedelta(days=1), known_at=NOW) == NOW + timedelta(days=1)
    assert due_at(known_at=NOW) is None


def test_due_times_are_utc() -> None:
    """A disclosure in another time zone gives a UTC due time; a naive one is taken as UTC."""
    berlin = timezone(timedelta(hours=1))
    assert due_at(timedelta(hours=1), known_at=NOW, disclosed=datetime(2026, 12, 1, 0, 30, tzinfo=berlin)) == (
        datetime(2026, 11, 30, 23, 30, tzinfo=UTC) + timedelta(hours=1)
    )
    assert due_at(timedelta(hours=1), known_at=datetime(2026, 12, 1, 9, 0)) == NOW + timedelta(hours=1)
