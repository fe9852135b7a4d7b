"""The keeper: a real ansible-playbook (local connection) whose orchestrator is killed with SIGKILL finishes its host
and exits by itself, and its private directory goes with it; the playbook's output still reaches runner."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

import patchorch.execution.ansible
from patchorch.execution.ansible import AnsibleRunnerExecutor
from patchorch.execution.base import BatchRequest
from patchorch.orchestrator.processes import run_processes

# The orchestrator of the test: runs one batch of `play` and prints every task it hears of.
_ORCHESTRATOR = """
import sys
from pathlib import Path
from patchorch.execution.ansible import AnsibleRunnerExecutor
from patchorch.execution.base import BatchRequest

work, play, inventory, run_id = (Path(a) for a in sys.argv[1:5])
request = BatchRequest(run_id=str(run_id), stage="s", batch=1, attempt=1, hosts=("local",), playbook=play,
                       inventory=(inventory,))
AnsibleRunnerExecutor(work_dir=work).run_batch(request, on_event=lambda e: print(e.task, flush=True))
"""


def _play(directory: Path) -> tuple[Path, Path]:
    """A playbook that marks `started`, waits (bounded) for `go`, writes a few hundred lines, then marks `finished`."""
    tasks = [
        {"name": "start", "ansible.builtin.file": {"path": str(directory / "started"), "state": "touch"}},
        {
            "name": "wait for go",
            "ansible.builtin.wait_for": {"path": str(directory / "go"), "timeout": 120},
        },
        # Output after the orchestrator is gone: every line of it would have failed with EIO on runner's terminal.
        {"name": "talk", "ansible.builtin.debug": {"msg": "{{ item }}"}, "loop": list(range(200))},
        {"name": "finish", "ansible.builtin.file": {"path": str(directory / "finished"), "state": "touch"}},
    ]
    play = directory / "play.yml"
    play.write_text(yaml.safe_dump([{"hosts": "all", "gather_facts": False, "tasks": tasks}]))
    inventory = directory / "inventory.yml"
    inventory.write_text(
        yaml.safe_dump(
            {"all": {"hosts": {"local": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}
        )
    )
    return play, inventory


def _wait(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)  # polling real processes, bounded by the deadline
    return False


def test_a_playbook_whose_orchestrator_was_killed_finishes_its_host_and_exits(tmp_path: Path) -> None:
    """kill -9 of the orchestrator mid-host: the playbook runs its remaining tasks, exits, and leaves no private dir."""
    play, inventory = _play(tmp_path)
    work = tmp_path / "work"
    run_id = "keeper-orphan"
    command = [sys.executable, "-c", _ORCHESTRATOR, str(work), str(play), str(inventory), run_id]
    orchestrator = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait((tmp_path / "started").exists, 60), "the playbook never started"
        orchestrator.kill()
        orchestrator.wait(timeout=30)
        orphans = run_processes(run_id)
        assert orphans, "the playbook did not outlive its orchestrator"
        assert list(work.iterdir()), "the private directory was gone while the playbook still needed it"
        (tmp_path / "go").touch()
        assert _wait((tmp_path / "finished").exists, 60), "the orphaned playbook did not finish its host"
        assert _wait(lambda: not run_processes(run_id), 30), f"still running: {run_processes(run_id)}"
    finally:
        (tmp_path / "go").touch()
        if orchestrator.poll() is None:
            orchestrator.kill()
    assert list(work.iterdir()) == []


@pytest.mark.parametrize(("script", "code"), [("echo relayed; exit 3", 3), ("echo relayed; kill -TERM $$", 128 + 15)])
def test_the_keeper_relays_output_and_passes_on_the_exit_status(script: str, code: int) -> None:
    """What the command writes reaches the keeper's stdout; its exit status (128+N for signal N) is the keeper's."""
    keeper = Path(patchorch.execution.ansible.__file__).with_name("_keeper.py")
    done = subprocess.run(
        [sys.executable, "-I", str(keeper), "--", "sh", "-c", script], capture_output=True, timeout=60, check=False
    )
    assert done.returncode == code
    assert done.stdout.strip() == b"relayed"


def test_the_playbook_output_and_exit_status_pass_through_the_keeper(tmp_path: Path) -> None:
    """With the orchestrator alive, every task's events reach it and the host's outcome is read as before."""
    play, inventory = _play(tmp_path)
    (tmp_path / "go").touch()
    heard: list[str] = []
    request = BatchRequest(
        run_id="keeper-alive", stage="s", batch=1, attempt=1, hosts=("local",), playbook=play, inventory=(inventory,)
    )
    executor = AnsibleRunnerExecutor(work_dir=tmp_path / "work")
    outcome = executor.run_batch(request, on_event=lambda e: heard.append(e.task))
    assert heard == ["start", "wait for go", "talk", "finish"]
    assert outcome.outcomes[0].changed
    assert (tmp_path / "finished").exists()
    assert list((tmp_path / "work").iterdir()) == []


# The orchestrator of the prompt test: starts the keeper on a command that asks for a password, holds the keeper's
# input open (as runner's terminal would) and never answers.
_SILENT_ORCHESTRATOR = """
import subprocess, sys, time
keeper, marker = sys.argv[1:3]
asking = "import getpass, pathlib, sys; getpass.getpass('BECOME password: '); pathlib.Path(sys.argv[1]).touch()"
child = subprocess.Popen([sys.executable, "-I", keeper, "--", sys.executable, "-c", asking, marker],
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
# Another process keeps the keeper's input open after the orchestrator dies (as a process that inherited runner's
# terminal can): no end of input reaches the keeper, only its orchestrator's death.
holder = subprocess.Popen(["sleep", "60"], pass_fds=[child.stdin.fileno()])
print(child.pid, holder.pid, flush=True)
time.sleep(120)
"""


def test_a_playbook_at_its_password_prompt_stops_when_its_orchestrator_is_killed(tmp_path: Path) -> None:
    """kill -9 of the orchestrator while the command waits at `BECOME password:`: the keeper and the command exit
    (nothing ran yet, nobody will answer) instead of waiting for ever; the command never went past its prompt."""
    keeper = Path(patchorch.execution.ansible.__file__).with_name("_keeper.py")
    marker = tmp_path / "answered"
    orchestrator = subprocess.Popen(
        [sys.executable, "-c", _SILENT_ORCHESTRATOR, str(keeper), str(marker)], stdout=subprocess.PIPE, text=True
    )
    holder_pid = 0
    try:
        assert orchestrator.stdout is not None
        keeper_pid, holder_pid = (int(pid) for pid in orchestrator.stdout.readline().split())
        assert _wait(lambda: _alive(keeper_pid) and _has_child(keeper_pid), 30), "the keeper never started its command"
        orchestrator.kill()
        orchestrator.wait(timeout=30)
        assert _wait(lambda: not _alive(keeper_pid), 30), "the keeper still waits at the prompt"
    finally:
        if orchestrator.poll() is None:
            orchestrator.kill()
        if holder_pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(holder_pid, signal.SIGKILL)
    assert not marker.exists()


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _has_child(pid: int) -> bool:
    """The process has started a child (the command it keeps)."""
    return any(
        Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if Path(f"/proc/{pid}/task/{pid}/children").exists()
        else []
    )
