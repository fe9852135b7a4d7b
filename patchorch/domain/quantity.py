"""A count or a percentage of a group: disruption budgets, failure budgets, canary caps."""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, model_serializer, model_validator

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


class Budget(BaseModel):
    """Either an absolute count (`2`) or a percentage of a group (`"25%"`).

    Written in YAML as an integer or a string ending in `%`; serialised back the same way. A percentage must lie in
    (0, 100]; a count must be >= 0 (0 means "none may": a failure budget of 0 halts on the first failure).
    """

    model_config = ConfigDict(frozen=True)

    count: int | None = None
    percent: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if isinstance(value, Budget):
            return {"count": value.count, "percent": value.percent}
        if isinstance(value, bool):
            raise ValueError("expected a count like 2 or a percentage like '25%', not a boolean")
        if isinstance(value, int):
            if value < 0:
                raise ValueError(f"a count must be 0 or more, not {value}")
            return {"count": value}
        if isinstance(value, str):
            text = value.strip()
            if text.isdigit():
                return {"count": int(text)}
            match = _PERCENT.match(text)
            if not match:
                raise ValueError(f"expected a count like 2 or a percentage like '25%', not {value!r}")
            percent = float(match.group(1))
            if not 0 < percent <= 100:
                raise ValueError(f"a percentage must lie in (0, 100], not {value!r}")
            return {"percent": percent}
        if isinstance(value, dict) and set(value) <= {"count", "percent"}:
            return value
        raise ValueError(f"expected a count like 2 or a percentage like '25%', not {value!r}")

    @model_serializer
    def _serialise(self) -> int | str:
        if self.count is not None:
            return self.count
        return f"{self._percent:g}%"

    @property
    def _percent(self) -> float:
        # Exactly one of count and percent is set; callers check count first.
        return self.percent if self.percent is not None else 0.0

    def of(self, total: int, *, minimum: int = 0) -> int:
        """How many of `total` this budget allows: percentages round down, never below `minimum`, never above total."""
        # Percentages round down with a tolerance so 3 x 33.333...% is 1, not 0.99999 -> 0.
        allowed = self.count if self.count is not None else math.floor(total * self._percent / 100 + 1e-9)
        return max(minimum, min(allowed, total)) if total > 0 else 0

    def of_rounding_up(self, total: int) -> int:
        """Like `of`, but percentages round up: used where 'at least one' is the safe reading (canary size)."""
        if self.count is not None:
            return min(self.count, total)
        return min(total, math.ceil(total * self._percent / 100 - 1e-9))

    def __str__(self) -> str:
        return str(self._serialise())
