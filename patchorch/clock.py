"""Time, injected: the one clock abstraction. The store stamps records and the orchestrator reads and waits through
a `Clock`, so tests and drills never sleep for real. Beside the layers, like `patchorch.errors`: any layer may take
one, and the domain takes none (it is handed times)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """The current time (timezone-aware UTC) and a way to wait."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        """Really wait."""
        if seconds > 0:
            time.sleep(seconds)


class DrillClock:
    """A drill's clock: real time plus every wait it skipped. `sleep` returns at once and moves this clock forward,
    so a drill reaches each stage at the time the rollout would, without waiting out soaks or windows."""

    def __init__(self, base: Clock | None = None) -> None:
        self._base: Clock = base or SystemClock()
        self._skipped = 0.0
        self._lock = threading.Lock()

    @property
    def skipped(self) -> float:
        """Seconds of waiting skipped so far."""
        with self._lock:
            return self._skipped

    def now(self) -> datetime:
        """Real time plus the waits skipped."""
        with self._lock:
            return self._base.now() + timedelta(seconds=self._skipped)

    def sleep(self, seconds: float) -> None:
        """Skip the wait: time moves on by `seconds` at once."""
        with self._lock:
            self._skipped += max(0.0, seconds)
