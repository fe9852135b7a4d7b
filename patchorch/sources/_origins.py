"""Which file (and line) set a host's variable, or defined the host: for error messages only.

Ansible (2.19 and later) tags every value it reads from a file with its origin. When a loaded inventory has problems,
`locate` asks each value of the same load where it came from. It runs only on the error path; an answer Ansible
cannot give is simply missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible._internal._datatag._tags import Origin as AnsibleOrigin
from ansible.inventory.manager import InventoryManager
from ansible.vars.manager import VariableManager

__all__ = ["HOST_DEFINITION", "Origin", "locate"]

# (file, line); line None when Ansible knows only the file.
Origin = tuple[str, int | None]
# Key "" asks where the host itself is defined.
HOST_DEFINITION = ""


def locate(
    inventory: InventoryManager, variables: VariableManager, wanted: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], Origin]:
    """Where each (host, variable) of `wanted` was set; pairs Ansible cannot place are left out."""
    cache: dict[str, Mapping[str, Any]] = {}
    answers: dict[tuple[str, str], Origin] = {}
    for host_name, key in sorted(set(wanted)):
        host = inventory.get_host(host_name)
        if host is None:
            continue
        if host_name not in cache:
            cache[host_name] = variables.get_vars(host=host, include_hostvars=False, stage="all")
        value: Any = host.name if key == HOST_DEFINITION else cache[host_name].get(key)
        tag = AnsibleOrigin.get_tag(value)
        if tag is None and isinstance(value, bool):
            # Python cannot tag a bool; the key's own tag says where it was first declared (right when declared once).
            tag = next((AnsibleOrigin.get_tag(name) for name in cache[host_name] if name == key), None)
        if tag is not None and tag.path:
            answers[(host_name, key)] = (str(tag.path), tag.line_num)
    return answers
