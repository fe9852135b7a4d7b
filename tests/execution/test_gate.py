"""The role's gate with the real executor: a playbook started ahead of its turn does its read-only steps, then waits
at tasks/gate.yml until the orchestrator releases it; `stop`, or an orchestrator killed meanwhile, leaves the host
untouched. A local-connection playbook runs the role's own gate file between a read-only step and a disruptive one."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from patchorch.domain.outcomes import HostStatus
from patchorch.errors import ExecutionError
from patchorch.execution.ansible import AnsibleRunnerExecutor
from patchorch.execution.base import BatchRequest
from patchorch.orchestrator.processes import run_processes
from tests.execution.test_keeper import _wait

GATE = Path(__file__).resolve().parents[2] / "patchorch/rendering/content/roles/patchorch_patch/tasks/gate.yml"

# The orchestrator of the kill test: starts one gated batch whose release never comes.
_ORCHESTRATOR = """
import sys, threading
from pathlib import Path
from patchorch.execution.ansible import AnsibleRunnerExecutor
from patchorch.execution.base import BatchRequest

work, play, inventory, run_id = (Path(a) for a in sys.argv[1:5])
request = BatchRequest(run_id=str(run_id), stage="s", batch=1, attempt=1, hosts=("local",), playbook=play,
                       inventory=(inventory,))
AnsibleRunnerExecutor(work_dir=work).run_batch(request, release=lambda: threading.Event().wait() or True)
"""


def _gated_play(directory: Path) -> tuple[Path, Path]:
    """Touch `checked` (the read-only steps), pass the role's gate, then touch `disrupted`."""
    tasks = [
        {"name": "read-only step", "ansible.builtin.file": {"path": str(directory / "checked"), "state": "touch"}},
        {"name": "gate", "ansible.builtin.include_tasks": str(GATE)},
        {"name": "disrupt", "ansible.builtin.file": {"path": str(directory / "disrupted"), "state": "touch"}},
    ]
    play = directory / "play.yml"
    play.write_text(
        yaml.safe_dump([{"hosts": "all", "gather_facts": False, "vars": {"patchorch_patch_gate": {}}, "tasks": tasks}])
    )
    inventory = directory / "inventory.yml"
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"local": local}}}))
    return play, inventory


def _request(play: Path, inventory: Path, run_id: str) -> BatchRequest:
    return BatchRequest(
        run_id=run_id, stage="s", batch=1, attempt=1, hosts=("local",), playbook=play, inventory=(inventory,)
    )


def _answer_once_checked(directory: Path, go: bool) -> tuple[threading.Event, object]:
    """A release that answers `go` only after the read-only step ran (the playbook is then at, or near, its gate)."""
    asked = threading.Event()

    def release() -> bool:
        asked.set()
        assert _wait((directory / "checked").exists, 60), "the read-only step never ran"
        return go

    return asked, release


def test_a_released_playbook_goes_past_the_gate_only_after_its_read_only_steps(tmp_path: Path) -> None:
    """`go`: the host's disruptive step runs, after the read-only one, and its events reach the orchestrator."""
    play, inventory = _gated_play(tmp_path)
    asked, release = _answer_once_checked(tmp_path, go=True)
    heard: list[str] = []
    outcome = AnsibleRunnerExecutor(work_dir=tmp_path / "work").run_batch(
        _request(play, inventory, "gate-go"),
        on_event=lambda e: heard.append(e.task),
        release=release,  # type: ignore[arg-type]
    )
    assert asked.is_set()
    assert (tmp_path / "disrupted").exists()
    assert heard[0] == "read-only step"
    assert heard[-1] == "disrupt"
    assert outcome.outcomes[0].status is not HostStatus.FAILED


def test_a_playbook_told_to_stop_at_the_gate_leaves_the_host_untouched(tmp_path: Path) -> None:
    """`stop`: the playbook ends the host at the gate; nothing after it runs and no result is reported."""
    play, inventory = _gated_play(tmp_path)
    _, release = _answer_once_checked(tmp_path, go=False)
    outcome = AnsibleRunnerExecutor(work_dir=tmp_path / "work").run_batch(
        _request(play, inventory, "gate-stop"),
        release=release,  # type: ignore[arg-type]
    )
    assert (tmp_path / "checked").exists()
    assert not (tmp_path / "disrupted").exists()
    assert outcome.outcomes[0].status is HostStatus.UNKNOWN
    assert list((tmp_path / "work").iterdir()) == []


def test_a_playbook_waiting_at_the_gate_when_its_orchestrator_is_killed_exits_untouched(tmp_path: Path) -> None:
    """kill -9 of the orchestrator while the playbook waits at the gate: the keeper answers `stop`, the playbook
    exits without its disruptive step, and no process of the run is left."""
    play, inventory = _gated_play(tmp_path)
    run_id = "gate-orphan"
    command = [sys.executable, "-c", _ORCHESTRATOR, str(tmp_path / "work"), str(play), str(inventory), run_id]
    orchestrator = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait((tmp_path / "checked").exists, 60), "the playbook never reached its read-only step"
        assert run_processes(run_id), "the playbook is not running"
        orchestrator.kill()
        orchestrator.wait(timeout=30)
        assert _wait(lambda: not run_processes(run_id), 60), f"still running: {run_processes(run_id)}"
    finally:
        if orchestrator.poll() is None:
            orchestrator.kill()
    assert not (tmp_path / "disrupted").exists()


def test_a_gate_that_cannot_make_its_pipes_fails_the_batch_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while the gate makes its second pipe: the batch fails with an ExecutionError naming why, no
    playbook starts, the private directory is removed and the first pipe's descriptor is closed."""
    play, inventory = _gated_play(tmp_path)
    made: list[str] = []
    real_mkfifo = os.mkfifo

    def mkfifo(path: str, mode: int = 0o666) -> None:
        if made:
            raise OSError(errno.ENOSPC, "No space left on device", path)
        made.append(str(path))
        real_mkfifo(path, mode)

    monkeypatch.setattr(os, "mkfifo", mkfifo)
    open_before = len(os.listdir("/proc/self/fd"))
    request = BatchRequest(
        run_id="gate-full",
        stage="s",
        batch=1,
        attempt=1,
        hosts=("local", "other"),
        playbook=play,
        inventory=(inventory,),
    )
    with pytest.raises(ExecutionError, match="No space left on device"):
        AnsibleRunnerExecutor(work_dir=tmp_path / "work").run_batch(request, release=lambda: True)
    assert len(made) == 1
    assert list((tmp_path / "work").iterdir()) == []
    assert len(os.listdir("/proc/self/fd")) == open_before
    assert not (tmp_path / "checked").exists()
