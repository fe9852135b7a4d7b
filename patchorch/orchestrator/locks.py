"""One process drives a run at a time: an advisory file lock per run, released by the kernel if the process dies."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from patchorch.errors import RunStateError


@contextmanager
def run_lock(lock_dir: Path, run_id: str) -> Iterator[None]:
    """Hold the lock of `run_id` for the block; RunStateError when another live process holds it."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = lock_dir / f"{run_id}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise RunStateError(f"run {run_id} is being driven by {holder}", run=run_id) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        yield
    finally:
        os.close(fd)
