"""Finding ansible-playbook processes that belong to a run, so resume never runs beside a survivor of a crash.

Every playbook patchorch starts carries PATCHORCH_RUN_ID in its environment (execution.base.RUN_MARKER_ENV); this
module reads /proc to find them. It only looks at processes of the current user. `SurvivorWatch` waits for such
processes only while they make progress (they read or write, start or end), so a playbook that hangs after its last
host does not hold up resume for long.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from patchorch.execution.base import RUN_MARKER_ENV

_PROC = Path("/proc")


def run_processes(run_id: str, *, proc: Path = _PROC) -> list[int]:
    """PIDs of live processes whose environment marks them as part of `run_id` (ansible-playbook and its forks)."""
    marker = f"{RUN_MARKER_ENV}={run_id}".encode()
    found = []
    own = os.getpid()
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        try:
            environ = (entry / "environ").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone, or not ours to read
        # A zombie (state Z) has finished; it only waits for its parent to reap it.
        state = stat.rsplit(")", 1)[-1].split()[0] if ")" in stat else ""
        if state != "Z" and marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return sorted(found)


def terminate(pids: list[int]) -> None:
    """Send SIGTERM to each process (already gone is fine)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue


def activity(pids: Sequence[int], *, proc: Path = _PROC) -> dict[int, int]:
    """Bytes each live process of `pids` has read and written so far (/proc/PID/io rchar + wchar).

    A playbook at work reads and writes (task results through its workers' pipes, events, its display); one that
    hangs after its last host does neither. CPU time would not tell them apart: Ansible's strategy loop polls.
    """
    counted = {}
    for pid in pids:
        try:
            lines = (proc / str(pid) / "io").read_text().splitlines()
        except OSError:
            continue  # gone meanwhile
        fields = dict(line.split(": ", 1) for line in lines if ": " in line)
        counted[pid] = int(fields.get("rchar", 0)) + int(fields.get("wchar", 0))
    return counted


def command_line(pid: int, *, proc: Path = _PROC) -> str:
    """The process's command line as one string ('' when it is gone)."""
    try:
        return (proc / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class Survivors:
    """What a watch saw of a run's processes that outlived their orchestrator: for the run's audit record."""

    found: dict[int, str]  # pid -> command line, when first seen
    waited: float  # seconds watched
    progress: int  # how many looks saw progress (a process read or wrote, started or ended)
    ended: str  # "exited", "stalled" (no progress for the stall time) or "limit" (still busy at the limit)
    left: tuple[int, ...]  # still alive when the watch ended: to be stopped

    def as_record(self) -> dict[str, object]:
        """The audit record's data."""
        return {
            "found": {str(pid): command for pid, command in self.found.items()},
            "waited_seconds": round(self.waited, 1),
            "progress_seen": self.progress,
            "ended": self.ended,
            "left": list(self.left),
        }


class SurvivorWatch:
    """Waits for a run's surviving processes while they make progress: at most `stall` seconds without any, and
    `limit` seconds in all. Looks every `poll` seconds on `monotonic`/`sleep` (real time unless replaced: the
    processes are real)."""

    def __init__(
        self,
        *,
        stall: float = 120.0,
        limit: float = 1800.0,
        poll: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        proc: Path = _PROC,
    ) -> None:
        self.stall = stall
        self.limit = limit
        self.poll = poll
        self._monotonic = monotonic
        self._sleep = sleep
        self._proc = proc

    def watch(self, run_id: str) -> Survivors | None:
        """Watch the processes of `run_id` until they exit, stall or reach the limit; None when there were none."""
        pids = run_processes(run_id, proc=self._proc)
        if not pids:
            return None
        found = {pid: command_line(pid, proc=self._proc) for pid in pids}
        start = last_progress = self._monotonic()
        seen = activity(pids, proc=self._proc)
        progress = 0
        while True:
            self._sleep(self.poll)
            now = self._monotonic()
            current = run_processes(run_id, proc=self._proc)
            if not current:
                return Survivors(found, now - start, progress, "exited", ())
            counted = activity(current, proc=self._proc)
            if set(counted) != set(seen) or any(counted[pid] > seen.get(pid, 0) for pid in counted):
                progress += 1
                last_progress = now
                found.update({pid: command_line(pid, proc=self._proc) for pid in current if pid not in found})
            seen = counted
            if now - last_progress >= self.stall:
                return Survivors(found, now - start, progress, "stalled", tuple(current))
            if now - start >= self.limit:
                return Survivors(found, now - start, progress, "limit", tuple(current))
