"""No secret on disk: secrets planted in inventory vars (printed by -vvv) and in a vault-encrypted vars file, a become
password and a vault password (which opens that file) reach Ansible, yet neither the state directory (store, run
directories, private runner directories, debug and run logs) holds any of them, during a run, after it, and after the
orchestrator is killed; the next start removes the private directory a killed orchestrator left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from ansible.parsing.vault import VaultLib
from ansible.parsing.vault import VaultSecret as AnsibleSecret

from patchorch.domain.run import RunInputs, RunState
from patchorch.execution.base import Credentials, HostEvent, VaultId
from patchorch.orchestrator.observers import Observer
from patchorch.orchestrator.processes import run_processes
from patchorch.orchestrator.workspace import Workspace
from patchorch.testing import FakeClock
from tests.integration.conftest import ACME, Fleet, StoreWatch, dispatched

pytestmark = pytest.mark.fleet

# Planted test values, not credentials of anything.
INVENTORY_SECRET = "inv-S3cr3t-7c1f0a"  # noqa: S105
BECOME_SECRET = "become-S3cr3t-52aa91"  # noqa: S105
VAULT_SECRET = "vault-S3cr3t-e0d4b7"  # noqa: S105
VAULTED_SECRET = "vaulted-S3cr3t-3d9b21"  # noqa: S105  # inside the encrypted vars file
SECRETS = (INVENTORY_SECRET, BECOME_SECRET, VAULT_SECRET, VAULTED_SECRET)


def _secret_inventory(fresh: Fleet, directory: Path) -> Path:
    """The fleet's inventory with a token in its vars that also rides on the SSH command line (-vvv prints it)."""
    data = yaml.safe_load(fresh.inventory.read_text(encoding="utf-8"))
    variables = data["all"]["vars"]
    variables["deploy_token"] = INVENTORY_SECRET
    variables["ansible_ssh_common_args"] += f" -o SetEnv=DEPLOY_TOKEN={INVENTORY_SECRET}"
    variables["ansible_ssh_common_args"] += " -o SetEnv=VAULTED_TOKEN={{ vaulted_token }}"
    path = directory / "inventory.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    # A group_vars file beside the inventory, encrypted whole with vault id `ops`: planning cannot read the inventory
    # without the vault password.
    vaulted = directory / "group_vars" / "all" / "vault.yml"
    vaulted.parent.mkdir(parents=True)
    vault = VaultLib([("ops", AnsibleSecret(VAULT_SECRET.encode()))])
    vaulted.write_bytes(vault.encrypt(yaml.safe_dump({"vaulted_token": VAULTED_SECRET}), vault_id="ops"))
    return path


def _hits(root: Path) -> list[str]:
    """Every file under `root` holding one of the secrets (bytes, so binary files such as the database count too)."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                content = path.read_bytes()
            except OSError:
                continue
            found += [f"{path}: {secret}" for secret in SECRETS if secret.encode() in content]
    return found


def _private_dirs(state_dir: Path) -> list[Path]:
    tmp = state_dir / "tmp"
    return sorted(tmp.glob("patchorch-*")) if tmp.is_dir() else []


class _GrepWhileRunning(Observer):
    """Greps the state directory at the first task result of each batch, while ansible-playbook is running."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.checked = 0
        self.private_seen = 0
        self.hits: list[str] = []
        self._batches: set[tuple[str, int, int]] = set()

    def host_event(self, event: HostEvent) -> None:
        key = (event.stage, event.batch, event.attempt)
        if key in self._batches:
            return
        self._batches.add(key)
        self.checked += 1
        self.private_seen += len(_private_dirs(self.state_dir))
        self.hits += _hits(self.state_dir)


def test_rollout_with_secrets_at_vvv_leaves_none_on_disk(
    fresh: Fleet, state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With -vvv, a become and a vault password, no secret is in the state directory during or after the rollout."""
    monkeypatch.setenv("ANSIBLE_VERBOSITY", "3")
    inventory = _secret_inventory(fresh, tmp_path)
    grep = _GrepWhileRunning(state_dir)
    credentials = Credentials(become_password=BECOME_SECRET, vault_ids=(VaultId("ops", password=VAULT_SECRET),))
    workspace = Workspace.open(state_dir, actor="pytest", clock=FakeClock(), credentials=credentials, observers=(grep,))
    plan = workspace.plan([inventory], policy=fresh.fleet.policy_path, emergency=True, update=ACME, limit="mx1,imap1")
    report = workspace.start(plan, inventory=[inventory], inputs=RunInputs(inventory=(str(inventory),)))
    assert report.state is RunState.COMPLETED, report.reason
    assert grep.checked >= 2  # grepped inside each running batch ...
    assert grep.private_seen >= grep.checked  # ... while its private runner directory existed
    assert grep.hits == []
    assert _hits(state_dir) == []
    assert _private_dirs(state_dir) == []


def test_killed_rollout_leaves_no_secret_and_the_next_start_removes_its_private_dir(
    fresh: Fleet, state_dir: Path, tmp_path: Path
) -> None:
    """kill -9 mid-batch of a CLI rollout given secrets at its prompts: nothing secret on disk, and the private
    directory the killed process left goes once its orphaned playbook has exited (its keeper or the next command
    removes it)."""
    inventory = _secret_inventory(fresh, tmp_path)
    command = [
        *(sys.executable, "-m", "patchorch", "--state-dir", str(state_dir)),
        *("rollout", "--emergency", "--yes", "-i", str(inventory), "--policy", str(fresh.fleet.policy_path)),
        *("--package", "acme-mta", "--limit", "mx1,imap1", "--ask-become-pass", "--vault-id", "ops@prompt"),
    ]
    environment = {**os.environ, "ANSIBLE_VERBOSITY": "3", "PATCHORCH_DEBUG": "1"}
    watch = StoreWatch(state_dir / "patchorch.db")
    # A new session has no terminal: the prompts read the passwords from stdin.
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=environment,
        start_new_session=True,
    )
    try:
        assert process.stdin is not None
        process.stdin.write(f"{BECOME_SECRET}\n{VAULT_SECRET}\n".encode())
        process.stdin.close()
        assert watch.wait_for(dispatched("canary"), timeout=120), "the rollout never dispatched its canary"
        assert watch.wait_for(lambda _: bool(_private_dirs(state_dir)), timeout=60)
        assert _hits(state_dir) == []
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert _hits(state_dir) == []
    assert _private_dirs(state_dir), "the killed process left no private directory to clean up"
    listing = subprocess.run([*command[:5], "runs", "--json"], check=True, capture_output=True, timeout=120)
    run_id = json.loads(listing.stdout)[0]["id"]
    # The orphaned playbook finishes its hosts and exits (bounded: polling real processes).
    deadline = time.monotonic() + 180
    while run_processes(run_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run_processes(run_id) == [], "the orphaned playbook did not exit"
    subprocess.run([*command[:5], "runs", "--json"], check=True, capture_output=True, timeout=120)
    assert _private_dirs(state_dir) == []
    assert _hits(state_dir) == []
