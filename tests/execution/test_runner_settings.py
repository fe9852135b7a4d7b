"""Runner's settings reach it: while a playbook runs, its private directory holds no stdout or stderr file (Ansible's
output, -vvv included, can carry what the inventory put on an SSH command line)."""

from __future__ import annotations

import threading
from pathlib import Path

from patchorch.execution.ansible import AnsibleRunnerExecutor
from patchorch.execution.base import BatchRequest
from tests.execution.test_keeper import _play, _wait


def test_a_running_playbook_leaves_no_output_file_in_its_private_directory(tmp_path: Path) -> None:
    """Checked while the playbook waits mid-run: runner wrote no artifacts stdout/stderr, and the run succeeds."""
    play, inventory = _play(tmp_path)
    work = tmp_path / "work"
    request = BatchRequest(
        run_id="no-output-file", stage="s", batch=1, attempt=1, hosts=("local",), playbook=play, inventory=(inventory,)
    )
    outcomes = []
    runner = threading.Thread(target=lambda: outcomes.append(AnsibleRunnerExecutor(work_dir=work).run_batch(request)))
    runner.start()
    try:
        assert _wait((tmp_path / "started").exists, 60), "the playbook never started"
        files = [p.name for p in work.rglob("*") if p.is_file()]
        assert "settings" in files
        assert "stdout" not in files
        assert "stderr" not in files
    finally:
        (tmp_path / "go").touch()
        runner.join(timeout=120)
    assert outcomes[0].outcomes[0].changed
