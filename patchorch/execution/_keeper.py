"""The keeper: what ansible-runner starts in place of ansible-playbook, so that a playbook outlives its orchestrator.

ansible-runner reads a playbook's output through a pseudo-terminal whose master end the orchestrator holds. When the
orchestrator is killed (kill -9) that end goes with it: the terminal hangs up and every later write of
ansible-playbook fails with EIO. Ansible then either dies mid-host (the write was in its main thread) or, after its
host, waits for ever for results its dead results thread will never hand over (the write was in that thread).

The keeper gives ansible-playbook a terminal of its own and copies between the two: the playbook's output to runner,
runner's answers to its prompts (become and vault passwords) back. When runner's end goes away the keeper goes on
reading the playbook's output, and drops it, until the playbook exits; then it removes the run's private directory
(`--private`), which the dead orchestrator can no longer remove, and exits with the playbook's status.

A playbook started ahead of its turn (`--gate DIR`) waits at the role's gate for the orchestrator's `go` on a named
pipe per host in DIR. When the orchestrator dies before it answered, nobody ever will: the keeper writes `stop` into
each pipe, and the playbook ends its hosts at the gate, untouched (an answer already written is read first).

When the keeper itself is killed (runner's cancel and timeout kill its process group) the playbook's terminal hangs
up: the playbook gets SIGHUP and stops, as it did when it ran on runner's terminal.

Standard library only: it runs as a script, `python -I _keeper.py [--private DIR] -- ansible-playbook ARGS...`, so
starting it costs no import of patchorch.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pty
import select
import shutil
import signal
import sys
import termios

# How often the keeper looks whether the playbook has exited while it waits for output, in seconds.
_POLL = 0.2
_CHUNK = 65536
# At most this many reads of what the playbook wrote before it exited (bounded: a process it left may go on).
_LAST_READS = 256
# How much of the playbook's latest output is kept to tell whether it waits at a password prompt.
_TAIL = 256


def _at_prompt(tail: bytes) -> bool:
    """The playbook's output ends in a password prompt it waits at (`BECOME password: `, `Vault password (ops): `):
    it has started nothing on any host yet."""
    line = tail.rsplit(b"\n", 1)[-1].strip().lower()
    return b"password" in line and line.endswith(b":")


def _own_terminal() -> tuple[int, int]:
    """A new pseudo-terminal (master, slave) that neither echoes input (a password typed into a prompt is never
    printed back) nor processes output (the bytes reach runner's terminal as Ansible wrote them)."""
    master, slave = pty.openpty()
    attributes = termios.tcgetattr(slave)
    attributes[1] &= ~termios.OPOST
    attributes[3] &= ~termios.ECHO
    termios.tcsetattr(slave, termios.TCSANOW, attributes)
    try:  # the same width as runner's terminal: Ansible's banners are sized to it
        size = fcntl.ioctl(sys.stdout.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, size)
    except OSError:
        pass  # runner's end is not a terminal
    return master, slave


def _start(command: list[str], slave: int) -> int:
    """Fork and exec `command` as the leader of a new session whose controlling terminal is `slave`."""
    pid = os.fork()
    if pid:
        return pid
    try:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        if slave > 2:
            os.close(slave)
        # Inherited as ignored from runner's spawn: the playbook must stop when its terminal (the keeper) goes.
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        os.execvp(command[0], command)  # noqa: S606  # the playbook command runner built, as runner would run it
    except OSError as exc:
        os.write(2, f"patchorch keeper: cannot start {command[0]}: {exc.strerror}\n".encode())
    os._exit(127)


def _write_all(fd: int, data: bytes) -> bool:
    """Write all of `data` to `fd`; False when the other end is gone (runner's terminal hung up)."""
    while data:
        try:
            written = os.write(fd, data)
        except OSError as exc:
            if exc.errno == errno.EINTR:
                continue
            return False
        data = data[written:]
    return True


def _read(fd: int) -> bytes:
    """What `fd` has to read; b"" at its end (EIO on a terminal nobody holds any more)."""
    try:
        return os.read(fd, _CHUNK)
    except OSError as exc:
        if exc.errno == errno.EINTR:
            return _read(fd)
        return b""


def _exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


def _stop_gate(gate: str) -> list[int]:
    """Write `stop` into each pipe of the gate's directory and hold them open (so that a reader that opens one later
    finds the line); the descriptors (none when the directory is gone)."""
    fds = []
    with contextlib.suppress(OSError):
        for name in sorted(os.listdir(gate)):
            with contextlib.suppress(OSError):
                fd = os.open(os.path.join(gate, name), os.O_RDWR | os.O_NONBLOCK)
                fds.append(fd)
                os.write(fd, b"stop\n")  # fails only on a full pipe, which already holds an answer
    return fds


def keep(command: list[str], private: str | None, gate: str | None = None) -> int:
    """Run `command` on a terminal of its own and relay it to ours until it exits; its exit code."""
    # Runner's terminal hanging up (the orchestrator died) must not stop the keeper.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    parent = os.getppid()  # the orchestrator: when it dies the keeper is handed to another parent
    master, slave = _own_terminal()
    pid = _start(command, slave)
    os.close(slave)
    outer = True  # runner's end still takes output
    inbound = True  # runner's end may still send answers to prompts
    output = True  # the playbook's terminal may still have output
    status: int | None = None
    tail = b""  # the end of the playbook's output
    stopped = False  # the playbook was stopped at a prompt nobody will answer
    gate_fds: list[int] = []  # the gate's pipes, once the keeper answered `stop` in the orchestrator's place
    while status is None:
        watched = ([master] if output else []) + ([0] if inbound else [])
        ready = select.select(watched, [], [], _POLL)[0] if watched else []
        if master in ready:
            data = _read(master)
            if not data:
                output = False
            else:
                tail = (tail + data)[-_TAIL:]
                if outer:
                    outer = _write_all(1, data)
        gone = not outer or not inbound or os.getppid() != parent  # runner's end (the orchestrator) is gone
        if not stopped and gone and _at_prompt(tail):
            # The orchestrator died before it answered the playbook's password prompt: nobody ever will, and the
            # playbook has touched no host yet, so it is stopped rather than left waiting for ever. (Runner may
            # start the keeper with init as its parent already: its end going away is what tells.)
            stopped = True
            os.killpg(pid, signal.SIGTERM)
        if gate is not None and gone:
            gate_fds = _stop_gate(gate)
            gate = None
        if 0 in ready:
            answer = _read(0)
            if answer:
                _write_all(master, answer)
            else:
                # Nobody will answer a prompt now: end of input (^D) ends one the playbook still waits at, before
                # any host ran; a playbook past its prompts never reads its terminal again.
                inbound = False
                _write_all(master, bytes([termios.tcgetattr(master)[6][termios.VEOF][0]]))
        if not watched:
            _, status = os.waitpid(pid, 0)
            break
        done, waited = os.waitpid(pid, os.WNOHANG)
        if done:
            status = waited
    # The playbook has exited: pass on what it wrote last (a process it left may keep the terminal open).
    for _ in range(_LAST_READS):
        if not output or not select.select([master], [], [], 0)[0]:
            break
        data = _read(master)
        if not data:
            break
        if outer:
            outer = _write_all(1, data)
    os.close(master)
    for fd in gate_fds:
        os.close(fd)
    if private and (not outer or os.getppid() != parent):
        shutil.rmtree(private, ignore_errors=True)  # the orchestrator that would have removed it is gone
    return _exit_code(status)


def main(argv: list[str]) -> int:
    """`[--private DIR] [--gate DIR] -- COMMAND...`"""
    options: dict[str, str] = {}
    while argv[:1] in (["--private"], ["--gate"]) and len(argv) > 1:
        options[argv[0]], argv = argv[1], argv[2:]
    if argv[:1] != ["--"] or len(argv) < 2:
        os.write(2, b"usage: _keeper.py [--private DIR] [--gate DIR] -- COMMAND [ARGS...]\n")
        return 2
    return keep(argv[1:], options.get("--private"), options.get("--gate"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
