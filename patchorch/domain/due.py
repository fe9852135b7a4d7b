"""When a host must be patched: the one due-date rule of plans, exposure reports and compliance reports.

A remediation is due its SLA after the advisory behind it was disclosed: published, or, for an advisory that gives no
publication time, imported into patchorch. Without an advisory (a plain patch rollout) the clock starts when the need
became known, at planning time. A CISA KEV due date wins when it is earlier; it is met by the end of that day, UTC.
Every due time is UTC; a due date is the UTC day of the due time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import overload


def kev_deadline(day: date) -> datetime:
    """A KEV due date as a due time: the last moment of that day, UTC."""
    return datetime.combine(day, time.max, tzinfo=UTC)


@overload
def due_at(
    sla: timedelta,
    /,
    *slas: timedelta,
    known_at: datetime,
    disclosed: datetime | None = None,
    kev_due: date | None = None,
) -> datetime: ...
@overload
def due_at(
    *slas: timedelta, known_at: datetime, disclosed: datetime | None = None, kev_due: date | None = None
) -> datetime | None: ...
def due_at(
    *slas: timedelta, known_at: datetime, disclosed: datetime | None = None, kev_due: date | None = None
) -> datetime | None:
    """The earliest of `disclosed` (else `known_at`) plus each SLA and the KEV due date; None with neither.

    A naive time is taken as UTC. With more than one SLA (a decision's and a risk class's) the shortest wins.
    """
    start = _utc(disclosed if disclosed is not None else known_at)
    dues = [start + sla for sla in slas]
    if kev_due is not None:
        dues.append(kev_deadline(kev_due))
    return min(dues) if dues else None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
