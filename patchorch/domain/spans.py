"""Spans of time as people write them in policies, inventories, settings and flags: one reader, one writer.

`90` or `"90"` are minutes; `"45s"`, `"30m"`, `"24h"`, `"7d"` and their combinations in that order (`"1d12h"`,
`"1h30m"`, `"1m30s"`) are read case-insensitively, spaces ignored. `format_span` writes what `parse_span` reads back.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

_SPAN = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?:in)?)?(?:(\d+)s)?$")

# The longest span a policy may state (100 years): added to any date patchorch accepts, it cannot overflow.
MAX_SPAN = timedelta(days=36525)


def parse_span(value: Any, *, allow_zero: bool = False) -> timedelta:
    """Read a span written as minutes (`90`), `"30m"`, `"24h"`, `"7d"`, `"45s"` or combined (`"1d12h"`, `"1m30s"`)."""
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, bool):
        raise ValueError("expected a duration like '30m', '24h' or '7d', not a boolean")
    elif isinstance(value, int):
        result = timedelta(minutes=value)
    elif isinstance(value, str) and value.strip().isdigit():
        result = timedelta(minutes=int(value))
    elif isinstance(value, str):
        match = _SPAN.match(value.replace(" ", "").lower())
        if not match or not any(match.groups()):
            raise ValueError(f"expected a duration like '30m', '24h' or '7d', not {value!r}")
        days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
        result = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    else:
        raise ValueError(f"expected a duration like '30m', '24h' or '7d', not {value!r}")
    if result > MAX_SPAN:
        raise ValueError(f"a duration must be at most {MAX_SPAN.days}d, not {value!r}")
    if result < timedelta(0) or (result == timedelta(0) and not allow_zero):
        raise ValueError(f"a duration must be {'0 or more' if allow_zero else 'positive'}, not {value!r}")
    return result


def format_span(span: timedelta) -> str:
    """`timedelta(days=1, hours=12)` as `1d12h`, `timedelta(seconds=90)` as `1m30s` (what `parse_span` reads back);
    `0` for no time at all. Fractions of a second are dropped."""
    total = int(span.total_seconds())
    if total == 0:
        return "0"
    minutes, seconds = divmod(total, 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s"))
    return "".join(f"{n}{unit}" for n, unit in parts if n)
