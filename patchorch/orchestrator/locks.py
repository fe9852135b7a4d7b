"""One process drives a run at a time: the run's lock is a lease row in the store, so processes on several machines
(or with several state directories) sharing one store exclude each other. The holder renews the lease on a heartbeat;
a holder that died frees the run only once its lease has expired."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from patchorch.clock import Clock
from patchorch.domain.run import RUN_LOCK_LEASE
from patchorch.errors import RunLockedError, StoreError
from patchorch.store.runs import RunStore, holder_name


class RunLock:
    """The locks this process holds in `store`, as `holder` (default `holder_name()`), with leases of `lease`."""

    def __init__(
        self, store: RunStore, clock: Clock, *, lease: timedelta = RUN_LOCK_LEASE, holder: str | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.lease = lease
        self.holder = holder or holder_name()
        self._held: dict[str, int] = {}  # run id -> how many blocks of this object hold its lock

    def acquire(self, run_id: str, *, wait: timedelta | None = None) -> None:
        """Take the lock of `run_id`; when another process holds it, wait on the clock up to `wait` for its lease to
        run out (a live holder keeps renewing it), then raise RunLockedError naming the holder."""
        deadline = self.clock.now() + (wait or timedelta(0))
        while True:
            try:
                self.store.lock_run(run_id, holder=self.holder, lease=self.lease)
                return
            except RunLockedError as exc:
                until = exc.context.get("until")
                now = self.clock.now()
                if not isinstance(until, datetime) or until >= deadline:
                    raise
                # Just past the lease's end; a renewed lease sends us round again, until the deadline.
                self.clock.sleep((until - now).total_seconds() + 1)

    @contextmanager
    def held(self, run_id: str, *, wait: timedelta | None = None) -> Iterator[None]:
        """Hold the lock of `run_id` for the block, renewing its lease on a real-time heartbeat; released after.

        Re-entrant: a block inside another that holds the same run's lock holds it already, and leaves it held."""
        if run_id in self._held:
            self._held[run_id] += 1
            try:
                yield
            finally:
                self._held[run_id] -= 1
            return
        self.acquire(run_id, wait=wait)
        self._held[run_id] = 1
        try:
            with heartbeat(
                lambda: self.store.renew_run_lock(run_id, holder=self.holder, lease=self.lease),
                every=self.lease / 4,
                name=f"run-lock-{run_id}",
            ):
                yield
        finally:
            del self._held[run_id]
            self.store.unlock_run(run_id, holder=self.holder)


@contextmanager
def heartbeat(beat: Callable[[], object], *, every: timedelta, name: str) -> Iterator[None]:
    """Call `beat` every `every` in a thread while the block runs; a StoreError waits for the next beat (a lease is
    four beats long). Real time: a lease is about real processes on real machines, not the injected clock."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every.total_seconds()):
            with contextlib.suppress(StoreError):
                beat()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
