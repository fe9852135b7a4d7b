"""One process drives a run at a time: the run's lock is a lease row in the store, so processes on several machines
(or with several state directories) sharing one store exclude each other. The holder renews the lease on a heartbeat;
a holder that died frees the run only once its lease has expired."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from patchorch.errors import RunLockedError, StoreError
from patchorch.orchestrator.clock import Clock
from patchorch.store.runs import RunStore, holder_name

# How long a run's lock holds without a heartbeat: after kill -9, `resume` waits at most this long for it. The
# heartbeat renews it four times per lease.
RUN_LOCK_LEASE = timedelta(seconds=60)


class RunLock:
    """The locks this process holds in `store`, as `holder` (default `holder_name()`), with leases of `lease`."""

    def __init__(
        self, store: RunStore, clock: Clock, *, lease: timedelta = RUN_LOCK_LEASE, holder: str | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.lease = lease
        self.holder = holder or holder_name()

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
        """Hold the lock of `run_id` for the block, renewing its lease on a real-time heartbeat; released after."""
        self.acquire(run_id, wait=wait)
        stop = threading.Event()

        def heartbeat() -> None:
            while not stop.wait(self.lease.total_seconds() / 4):
                try:
                    self.store.renew_run_lock(run_id, holder=self.holder, lease=self.lease)
                except StoreError:
                    continue  # the next beat tries again; the lease is four beats long

        thread = threading.Thread(target=heartbeat, name=f"run-lock-{run_id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            self.store.unlock_run(run_id, holder=self.holder)
