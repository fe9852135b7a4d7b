"""Inventory sources read in this process by Ansible's own `InventoryManager` and `VariableManager`.

This is what `ansible-inventory --list` does, without its child process and its JSON listing: the same parsers, the
same plugins and the same variable precedence (`VariableManager.get_vars` per host, as `--list` calls it), read once.
`--limit` is evaluated on that same load. Values reach patchorch in the shape `--list` prints them, so that one set of
rules reads them: a string Ansible does not trust as a template is `{"__ansible_unsafe": text}`, a vaulted value is
`{"__ansible_vault": ciphertext}`, everything else plain data.

Ansible's configuration comes from where it always does (ansible.cfg, ANSIBLE_* variables); for the length of a read
a source Ansible cannot parse is an error (not an empty inventory with a warning), and patchorch's own files beside an
inventory are not sources. Ansible's warnings are captured, never printed: a failed read becomes the text
`ansible-inventory` would have printed, which `inventory.py` turns into one problem.

Requires ansible-core 2.19 (its warning capture and data tags).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ansible import constants
from ansible._internal._datatag._tags import TrustedAsTemplate
from ansible._internal._display_utils import DeferredWarningContext, format_message
from ansible.errors import AnsibleError
from ansible.inventory import manager as inventory_manager
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultHelper, get_file_vault_secret
from ansible.parsing.vault import VaultSecret as AnsibleVaultSecret
from ansible.plugins.vars import host_group_vars
from ansible.vars.manager import VariableManager

__all__ = ["ReadFailed", "Reading", "read_inventory"]

# Groups every host is in; they say nothing about a host.
IMPLICIT_GROUPS = frozenset({"all", "ungrouped"})

# For the length of a read: an unparsable source is an error, and nothing is said about the implicit localhost.
# Facts a fact cache may hold are not inventory: they are not copied into each host's variables (Ansible would list
# its connection plugins once per host to clean them, most of the cost of reading a large fleet's variables).
_CONSTANTS = {
    "INVENTORY_UNPARSED_IS_FAILED": True,
    "INVENTORY_ANY_UNPARSED_IS_FAILED": True,
    "INVENTORY_UNPARSED_WARNING": False,
    "LOCALHOST_WARNING": False,
    "INJECT_FACTS_AS_VARS": False,
}


class ReadFailed(Exception):
    """Ansible could not read a source; `report` is what `ansible-inventory` would have printed on stderr."""

    def __init__(self, report: str) -> None:
        super().__init__(report)
        self.report = report


@dataclass(frozen=True, slots=True)
class Reading:
    """An inventory read by Ansible, kept open while patchorch validates it (errors are located on the same load)."""

    hosts: tuple[str, ...]
    # Hosts of each group, descendants' hosts included, without `all` and `ungrouped`.
    groups: Mapping[str, tuple[str, ...]]
    in_limit: frozenset[str] | None
    warnings: tuple[str, ...]
    _inventory: InventoryManager
    _variables: VariableManager

    def variables(self, wanted: Callable[[str], bool]) -> Iterator[tuple[str, dict[str, Any]]]:
        """Each host (sorted) with its variables whose names `wanted` accepts, as `ansible-inventory --list` shows them.

        Only the wanted values are converted, and one host's variables are held at a time.
        """
        for name in self.hosts:
            try:
                host = self._inventory.get_host(name)
                merged = self._variables.get_vars(host=host, include_hostvars=False, stage="all")
            except AnsibleError as exc:  # a vars file Ansible reads only now: vault-encrypted without its password
                raise ReadFailed(f"[ERROR]: {exc.message}") from None
            yield name, {_text(key): _listed(value) for key, value in merged.items() if wanted(key)}

    @property
    def inventory(self) -> InventoryManager:
        """Ansible's inventory of this read (for locating a value's origin)."""
        return self._inventory

    @property
    def variable_manager(self) -> VariableManager:
        """Ansible's variable manager of this read."""
        return self._variables


class VaultSecret(Protocol):
    """A vault id as the inventory reader needs it (execution.base.VaultId is one): a password held in memory, or a
    password file or client script of the user's that Ansible reads itself."""

    @property
    def label(self) -> str:
        """The vault id's label."""
        ...

    @property
    def password(self) -> str | None:
        """The password, in memory only."""
        ...

    @property
    def source(self) -> str | None:
        """A password file or client script."""
        ...


@contextlib.contextmanager
def read_inventory(
    sources: Sequence[str],
    *,
    limit: str | None = None,
    ignored_files: Iterable[str] = (),
    vault_ids: Sequence[VaultSecret] = (),
) -> Iterator[Reading]:
    """Read `sources` with Ansible; raises ReadFailed with Ansible's report when a source cannot be read.

    `vault_ids` open vault-encrypted files and values: passwords in memory go to the loader as they are."""
    with _configured(ignored_files), DeferredWarningContext(variables={}) as captured:
        loader = DataLoader()
        try:
            loader.set_vault_secrets([(vault.label, _vault_secret(vault, loader)) for vault in vault_ids])
            inventory = InventoryManager(loader=loader, sources=list(sources))
        except AnsibleError as exc:
            raise ReadFailed(_report(captured, exc)) from None
        variables = VariableManager(loader=loader, inventory=inventory)
        # Ansible's names are tagged strings; patchorch keeps plain ones.
        hosts = tuple(sorted(_text(host.name) for host in inventory.get_hosts("all")))
        in_limit = None
        if limit is not None:
            try:
                inventory.subset(limit)
                in_limit = frozenset(_text(host.name) for host in inventory.get_hosts("all"))
            except AnsibleError as exc:
                raise ReadFailed(_report(captured, exc)) from None
            finally:
                inventory.subset(None)
        groups = {
            _text(name): tuple(sorted(_text(member) for member in members))
            for name, members in inventory.get_groups_dict().items()
            if name not in IMPLICIT_GROUPS and (members or inventory.groups[name].child_groups)
        }
        warnings = tuple(dict.fromkeys(format_message(w, False).splitlines()[0] for w in captured.get_warnings()))
        yield Reading(hosts, groups, in_limit, warnings, inventory, variables)


@contextlib.contextmanager
def _configured(ignored_files: Iterable[str]) -> Iterator[None]:
    """Ansible's settings for a read by patchorch, restored afterwards (other code in this process may use Ansible)."""
    saved = {name: getattr(constants, name, None) for name in _CONSTANTS}
    saved_ignored = inventory_manager.IGNORED
    extra = [pattern.encode() for pattern in ignored_files]
    # Ansible remembers per process which group_vars/host_vars files exist (and which directories do not): a
    # long-lived process reading again must see files added or removed since.
    host_group_vars.FOUND.clear()
    host_group_vars.NAK.clear()
    try:
        for name, value in _CONSTANTS.items():
            setattr(constants, name, value)
        if extra:
            inventory_manager.IGNORED = re.compile(b"|".join([saved_ignored.pattern, *extra]))
        yield
    finally:
        for name, before in saved.items():
            setattr(constants, name, before)
        inventory_manager.IGNORED = saved_ignored


def _report(captured: DeferredWarningContext, exc: AnsibleError) -> str:
    """What `ansible-inventory` prints on stderr for this failure: each warning, then the error."""
    lines = [f"[WARNING]: {format_message(warning, False)}" for warning in captured.get_warnings()]
    return "\n".join([*lines, f"[ERROR]: {exc.message}"])


def _listed(value: Any) -> Any:
    """`value` as plain data, shaped as `ansible-inventory --list` prints it (untrusted, vaulted strings marked)."""
    ciphertext = VaultHelper.get_ciphertext(value, with_tags=False)
    if ciphertext is not None:
        return {"__ansible_vault": ciphertext}
    if isinstance(value, str):
        text = str.__str__(value)
        return text if TrustedAsTemplate.is_tagged_on(value) else {"__ansible_unsafe": text}
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        return {_key(key): _listed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_listed(item) for item in value]
    return value


def _text(text: str) -> str:
    """A plain `str` of one of Ansible's (possibly tagged) strings."""
    return str.__str__(text)


def _key(key: Any) -> Any:
    """A mapping key: strings are kept as text (a key is never templated, trusted or not), other keys as they are."""
    return str.__str__(key) if isinstance(key, str) else key


def _vault_secret(vault: VaultSecret, loader: DataLoader) -> AnsibleVaultSecret:
    """Ansible's secret for one vault id: the password from memory, else Ansible's reader of the user's file."""
    if vault.password is not None:
        return AnsibleVaultSecret(vault.password.encode())
    secret = get_file_vault_secret(filename=vault.source, vault_id=vault.label, loader=loader)
    secret.load()
    return secret
