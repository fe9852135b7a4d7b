"""Finding ansible-playbook processes that belong to a run, so resume never runs beside a survivor of a crash.

Every playbook patchorch starts carries PATCHORCH_RUN_ID in its environment (execution.base.RUN_MARKER_ENV); this
module reads /proc to find them. It only looks at processes of the current user.
"""

from __future__ import annotations

import os
import signal
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
