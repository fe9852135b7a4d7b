"""Maintenance windows: when is a host next allowed to be patched?

Windows are weekly and local to their time zone (daylight saving time shifts them in UTC, as it should). The answer
is computed from an injected `now`; the domain never reads the clock.

    >>> from datetime import UTC, datetime, timedelta
    >>> from patchorch.domain.fleet import MaintenanceWindow
    >>> sunday_night = MaintenanceWindow(days=["sun"], start="02:00", duration="2h")
    >>> next_opening((sunday_night,), datetime(2025, 3, 5, 12, 0, tzinfo=UTC), timedelta(days=7))
    datetime.datetime(2025, 3, 9, 2, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from patchorch.domain.fleet import MaintenanceWindow, Weekday


class WeeklyWindow(BaseModel):
    """A maintenance window as a plan carries it: the inventory's window, already validated, in plain JSON types."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: tuple[Weekday, ...]
    start: time
    duration: timedelta
    timezone: str = "UTC"

    @classmethod
    def of(cls, window: MaintenanceWindow) -> WeeklyWindow:
        """The plan's copy of an inventory window."""
        return cls.model_construct(
            days=window.days, start=window.start, duration=window.duration, timezone=window.timezone
        )


def next_opening(windows: Iterable[MaintenanceWindow], now: datetime, horizon: timedelta) -> datetime | None:
    """The earliest moment in [now, now + horizon] at which one of `windows` is open, in UTC; None if none opens.

    A window that is open at `now` gives `now` itself. Hosts without windows are unrestricted: callers treat them
    apart (an empty `windows` returns None here, like a window that never opens).
    """
    now = now.astimezone(UTC)
    best: datetime | None = None
    for window in windows:
        opening = _window_opening(window, now, horizon)
        if opening is not None and (best is None or opening < best):
            best = opening
    return best


def _window_opening(window: MaintenanceWindow, now: datetime, horizon: timedelta) -> datetime | None:
    zone = ZoneInfo(window.timezone)
    today = now.astimezone(zone).date()
    day_numbers = {day.number for day in window.days}
    # A window that started up to 7 days ago may still be open (a duration is at most 7 days).
    first = -8
    last = horizon.days + 2
    for offset in range(first, last):
        day = today + timedelta(days=offset)
        if day.weekday() not in day_numbers:
            continue
        start = datetime.combine(day, window.start, tzinfo=zone).astimezone(UTC)
        if start <= now < start + window.duration:
            return now
        if now < start:
            return start if start <= now + horizon else None
    return None


def open_intervals(
    windows: Iterable[MaintenanceWindow | WeeklyWindow], after: datetime, horizon: timedelta
) -> tuple[tuple[datetime, datetime], ...]:
    """Every span of time in which one of `windows` is open, ending after `after` and opening by `after + horizon`.

    Spans are in UTC, sorted, and overlapping or touching windows are merged into one span, so a host may run
    across two windows that follow each other without a gap.
    """
    after = after.astimezone(UTC)
    until = after + horizon
    spans: list[tuple[datetime, datetime]] = []
    for window in windows:
        zone = ZoneInfo(window.timezone)
        today = after.astimezone(zone).date()
        day_numbers = {day.number for day in window.days}
        for offset in range(-8, horizon.days + 2):
            day = today + timedelta(days=offset)
            if day.weekday() not in day_numbers:
                continue
            start = datetime.combine(day, window.start, tzinfo=zone).astimezone(UTC)
            end = start + window.duration
            if end > after and start <= until:
                spans.append((start, end))
    spans.sort()
    merged: list[tuple[datetime, datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def earliest_fit(spans: Iterable[tuple[datetime, datetime]], now: datetime, need: timedelta) -> datetime | None:
    """The earliest moment at or after `now` at which a task of length `need` starts and ends inside one span."""
    for start, end in spans:
        begin = max(start, now)
        if begin + need <= end:
            return begin
    return None
