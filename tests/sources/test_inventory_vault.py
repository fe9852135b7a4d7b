"""Vault-encrypted inventories: read with vault ids (a password from memory, handed to Ansible's loader, or a file of
the user's); without them, one clear error; the password never reaches a file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from ansible.parsing.vault import VaultLib
from ansible.parsing.vault import VaultSecret as AnsibleSecret

from patchorch.domain.fleet import Lifecycle
from patchorch.errors import InventoryError
from patchorch.execution.base import VaultId
from patchorch.sources.inventory import load_fleet

PASSWORD = "vault-pw-7c1e55"  # noqa: S105  # a test password, never a real one
SECRET = "deploy-token-91ab3f"  # noqa: S105


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    """A directory inventory whose host_vars/imap2.yml is encrypted whole (as ansible-vault does), vault id `ops`."""
    root = tmp_path / "inv"
    (root / "host_vars").mkdir(parents=True)
    (root / "hosts").write_text("[imap]\nimap1\nimap2\n", encoding="utf-8")
    plain = textwrap.dedent(f"""\
        patchorch_lifecycle: decommissioning
        deploy_token: {SECRET}
        """)
    vault = VaultLib([("ops", AnsibleSecret(PASSWORD.encode()))])
    encrypted = vault.encrypt(plain, vault_id="ops")
    (root / "host_vars" / "imap2.yml").write_bytes(encrypted)
    return root


def test_encrypted_host_vars_need_a_vault_id(inventory: Path) -> None:
    """Without a vault id Ansible cannot read the file: an InventoryError that says so."""
    with pytest.raises(InventoryError, match="no vault secrets"):
        load_fleet([inventory])


def test_password_from_memory_reads_the_encrypted_file(inventory: Path, tmp_path: Path) -> None:
    """A vault password held in memory goes to Ansible's loader as is: the metadata loads, no file holds it."""
    fleet = load_fleet([inventory], vault_ids=[VaultId("ops", password=PASSWORD)]).fleet
    assert fleet.get("imap2").lifecycle is Lifecycle.DECOMMISSIONING
    written = [p for p in tmp_path.rglob("*") if p.is_file() and PASSWORD.encode() in p.read_bytes()]
    assert written == []


def test_password_file_of_the_users_is_read_by_ansible(inventory: Path, tmp_path: Path) -> None:
    """A vault id naming a password file is passed to Ansible as LABEL@FILE."""
    password_file = tmp_path / "ops.pass"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    fleet = load_fleet([inventory], vault_ids=[VaultId("ops", source=str(password_file))]).fleet
    assert fleet.get("imap2").lifecycle is Lifecycle.DECOMMISSIONING


def test_wrong_password_is_an_inventory_error(inventory: Path) -> None:
    """A wrong vault password is refused by Ansible and reported as the inventory's error, not a crash."""
    wrong = VaultId("ops", password="not-it")  # noqa: S106  # a wrong password on purpose
    with pytest.raises(InventoryError, match=r"[Dd]ecryption failed"):
        load_fleet([inventory], vault_ids=[wrong])
