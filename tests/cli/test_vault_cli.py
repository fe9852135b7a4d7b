"""Every command that reads the inventory opens a vault-encrypted one with --vault-id / --vault-password-file, the
password kept in memory; a vault file that does not exist is bad input (exit 2, one line)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.parsing.vault import VaultLib
from ansible.parsing.vault import VaultSecret as AnsibleSecret

from patchorch.cli._app import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "inventories" / "example-mail"
POLICY = EXAMPLE / "policy.yml"
NOW = "2025-03-05T12:00:00+00:00"
PASSWORD = "vault-pw-4d2a90"  # noqa: S105  # a test password, never a real one


@pytest.fixture
def vaulted(tmp_path: Path) -> Path:
    """The example estate with group_vars/retired.yml (decommissioned, excluded) encrypted whole, vault id `ops`."""
    root = tmp_path / "inv"
    shutil.copytree(EXAMPLE, root)
    retired = root / "group_vars" / "retired.yml"
    vault = VaultLib([("ops", AnsibleSecret(PASSWORD.encode()))])
    retired.write_bytes(vault.encrypt(retired.read_text(encoding="utf-8"), vault_id="ops"))
    return root


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    """The operator's vault password file."""
    path = tmp_path / "ops.pass"
    path.write_text(PASSWORD + "\n", encoding="utf-8")
    return path


def _main(tmp_path: Path, *args: str) -> int:
    return main(["--state-dir", str(tmp_path / "state"), *args])


def test_plan_reads_an_encrypted_inventory_with_a_password_file(
    vaulted: Path, password_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`plan --vault-password-file` plans the encrypted estate exactly as the plain one."""
    plan = ("plan", "--policy", str(POLICY), "--now", NOW, "--json")
    assert _main(tmp_path, *plan, "-i", str(EXAMPLE)) == 0
    expected = json.loads(capsys.readouterr().out)
    assert _main(tmp_path, *plan, "-i", str(vaulted), "--vault-password-file", str(password_file)) == 0
    assert json.loads(capsys.readouterr().out) == expected


def test_plan_without_the_vault_id_is_bad_input(
    vaulted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a vault id the encrypted file cannot be read: exit 2 saying so, no plan printed."""
    assert _main(tmp_path, "plan", "-i", str(vaulted), "--policy", str(POLICY)) == 2
    captured = capsys.readouterr()
    assert "no vault secrets" in captured.err
    assert captured.out == ""


def test_render_reads_an_encrypted_inventory_and_names_the_vault_id_to_run_by_hand(
    vaulted: Path, password_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`render --vault-id ops@FILE` renders the run and its by-hand command line carries the same vault id."""
    out = tmp_path / "run"
    args = ("render", "-o", str(out), "-i", str(vaulted), "--policy", str(POLICY), "--json")
    assert _main(tmp_path, *args, "--vault-id", f"ops@{password_file}") == 0
    written = json.loads(capsys.readouterr().out)
    assert Path(written["site_playbook"]).is_file()
    assert f"--vault-id ops@{password_file} site.yml" in written["run_by_hand"]
    assert [p for p in out.rglob("*") if p.is_file() and PASSWORD.encode() in p.read_bytes()] == []


def test_inventory_show_reads_the_encrypted_vars(
    vaulted: Path, password_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`inventory show` with the vault id shows the encrypted group's hosts as decommissioned."""
    args = ("inventory", "show", "-i", str(vaulted), "--json", "--vault-id", f"ops@{password_file}")
    assert _main(tmp_path, *args) == 0
    hosts = {h["name"]: h for h in json.loads(capsys.readouterr().out)["hosts"]}
    assert hosts["old-mx3.mail.example.org"]["lifecycle"] == "decommissioned"


def test_inventory_check_takes_the_password_at_its_prompt(vaulted: Path, tmp_path: Path) -> None:
    """`inventory check --vault-id ops@prompt` reads the password from its prompt (stdin without a terminal)."""
    command = [sys.executable, "-m", "patchorch", "--state-dir", str(tmp_path / "state")]
    args = ["inventory", "check", "-i", str(vaulted), "--json", "--vault-id", "ops@prompt"]
    done = subprocess.run(
        [*command, *args],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
        start_new_session=True,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    assert json.loads(done.stdout)["sources"] == [str(vaulted)]


@pytest.mark.parametrize(
    ("command", "flag"),
    [
        (("plan",), "--vault-password-file"),
        (("render", "-o", "run"), "--vault-password-file"),
        (("inventory", "show"), "--vault-id"),
        (("report", "--json"), "--vault-password-file"),
        (("exposure",), "--vault-id"),
        (("advisories", "list"), "--vault-id"),
        (("drill",), "--vault-password-file"),
        (("rollback", "20250305-120000-abcd"), "--vault-password-file"),
    ],
)
def test_a_missing_vault_file_is_bad_input(
    vaulted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: tuple[str, ...], flag: str
) -> None:
    """A vault password file that does not exist: exit 2 with one line naming it and the option, nothing run."""
    missing = tmp_path / "no-such.pass"
    value = str(missing) if flag == "--vault-password-file" else f"ops@{missing}"
    assert _main(tmp_path, *command, "-i", str(vaulted), flag, value) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(missing) in err
    assert flag in err
    assert not (tmp_path / "run").exists()


@pytest.fixture
def recorded_then_vaulted(tmp_path: Path) -> tuple[Path, str, dict[str, str]]:
    """A run (paused for approval after its canary) recorded over a copy of the example estate whose
    group_vars/retired.yml was vault-encrypted afterwards: (state dir, run id, the canary's and a waiting host's
    owners)."""
    from patchorch.domain.run import RunInputs
    from patchorch.orchestrator.workspace import Workspace
    from patchorch.testing import FakeClock, SimulatedExecutor

    root = tmp_path / "inv"
    shutil.copytree(EXAMPLE, root)
    state = tmp_path / "state"
    clock = FakeClock()
    workspace = Workspace.open(state, actor="ops", clock=clock, executor=SimulatedExecutor(clock=clock))
    plan = workspace.plan([root], policy=POLICY, emergency=True)
    report = workspace.start(plan, inventory=[root], inputs=RunInputs(inventory=(str(root),)))
    retired = root / "group_vars" / "retired.yml"
    vault = VaultLib([("ops", AnsibleSecret(PASSWORD.encode()))])
    retired.write_bytes(vault.encrypt(retired.read_text(encoding="utf-8"), vault_id="ops"))
    owners = {h.name: h.owner for h in plan.hosts if h.owner is not None}
    canary, waiting = plan.stages[0].hosts[0], plan.stages[-1].hosts[-1]
    return state, report.run_id, {canary: owners[canary], waiting: owners[waiting]}


@pytest.mark.parametrize("command", ["status", "show"])
def test_status_and_show_name_owners_from_the_records_without_a_vault_id(
    recorded_then_vaulted: tuple[Path, str, dict[str, str]], command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`status`/`show` of a run whose inventory now needs a vault id need none: owners come from the run's plan."""
    state, run_id, owners = recorded_then_vaulted
    (_, canary_owner), (waiting, waiting_owner) = owners.items()
    assert main(["--state-dir", str(state), command, run_id, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    if command == "status":
        assert data["owners"][waiting] == waiting_owner
    assert main(["--state-dir", str(state), command, run_id]) == 0
    out = " ".join(capsys.readouterr().out.split())  # lines joined where the terminal wrapped them
    assert "owner unknown" not in out
    if command == "status":  # the waiting host needs attention: its owner is named
        assert f"{waiting} not yet patched {waiting_owner}" in out
    else:  # the canary's attempt names its owner
        assert f"owner {canary_owner}" in out
