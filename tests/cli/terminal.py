"""Run the patchorch CLI in a real pseudo-terminal of a given size and read what a person would see."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass

# CSI sequences (colours, cursor moves of a live display), OSC sequences, and single-character escapes.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


@dataclass(frozen=True)
class Screen:
    """What the terminal received: the raw bytes as text and the visible lines without escape sequences."""

    raw: str
    status: int

    @property
    def lines(self) -> list[str]:
        """Visible lines: escape sequences removed, carriage returns resolved to the last overwrite."""
        text = _ANSI.sub("", self.raw)
        return [line.split("\r")[-1] for line in text.replace("\r\n", "\n").split("\n")]


def run_in_terminal(
    args: list[str], *, columns: int = 80, rows: int = 40, env: dict[str, str] | None = None, timeout: float = 300
) -> Screen:
    """`python -m patchorch ARGS` with stdin, stdout and stderr on one pseudo-terminal of `columns` x `rows`."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    environment.update({"TERM": "xterm-256color", **(env or {})})
    process = subprocess.Popen(
        [sys.executable, "-m", "patchorch", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=environment,
        close_fds=True,
        start_new_session=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every writer closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif process.poll() is not None:
                break
        else:
            process.kill()
            raise AssertionError(f"patchorch {' '.join(args)} did not finish within {timeout}s")
        status = process.wait(timeout=30)
    finally:
        os.close(master)
    return Screen(raw=b"".join(chunks).decode("utf-8", errors="replace"), status=status)
