"""The executor's private runner directories and credentials: what a killed orchestrator left is removed on the next
start, and secrets never show in a repr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from patchorch.execution.ansible import AnsibleRunnerExecutor, remove_abandoned_private_dirs
from patchorch.execution.base import Credentials, VaultId


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_private_dir_of_a_dead_process_is_removed_on_the_next_start(tmp_path: Path) -> None:
    """Opening an executor on the work dir removes a private dir whose owner is gone, and keeps a living one's."""
    abandoned = tmp_path / f"patchorch-{_dead_pid()}-run1-abcd"
    abandoned.mkdir()
    (abandoned / "env").mkdir()
    living = tmp_path / f"patchorch-{os.getpid()}-run2-efgh"
    living.mkdir()
    unrelated = tmp_path / "notes"
    unrelated.mkdir()
    AnsibleRunnerExecutor(work_dir=tmp_path)
    assert not abandoned.exists()
    assert living.exists()
    assert unrelated.exists()


def test_sweep_reports_what_it_removed(tmp_path: Path) -> None:
    """The sweep returns exactly the directories it removed."""
    abandoned = tmp_path / f"patchorch-{_dead_pid()}-run1-abcd"
    abandoned.mkdir()
    assert remove_abandoned_private_dirs(tmp_path) == (abandoned,)
    assert remove_abandoned_private_dirs(tmp_path) == ()


def test_private_dir_a_surviving_playbook_works_in_is_kept(tmp_path: Path) -> None:
    """A dead orchestrator's private dir that a live process (its orphaned playbook) still works in is not removed."""
    in_use = tmp_path / f"patchorch-{_dead_pid()}-run1-abcd"
    in_use.mkdir()
    survivor = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], cwd=in_use, stdin=subprocess.PIPE
    )
    try:
        assert remove_abandoned_private_dirs(tmp_path) == ()
        assert in_use.exists()
    finally:
        survivor.communicate(timeout=30)
    assert remove_abandoned_private_dirs(tmp_path) == (in_use,)


def test_credentials_never_show_their_secrets() -> None:
    """repr() of credentials and vault ids (as in tracebacks and debug logs) leaves the passwords out."""
    planted = {"become_password": "b-secret", "vault": "v-secret"}  # test values, not credentials
    credentials = Credentials(
        become_password=planted["become_password"], vault_ids=(VaultId("ops", password=planted["vault"]),)
    )
    assert "secret" not in repr(credentials)
    assert credentials.secrets() == ("b-secret", "v-secret")
