"""Which file (and line) set a host's variable, or defined the host: for error messages only.

`ansible-inventory --list` gives every host's merged variables but not where each came from. Ansible (2.19 and
later) tags every value it reads from a file with its origin, so when a loaded inventory has problems, `locate` reads
the same sources once more with Ansible's `InventoryManager` in a child process (same interpreter, same environment,
so the same configuration as the listing) and asks each value where it came from. It runs only on the error path;
the listing itself does not depend on it, and an answer it cannot give is simply missing.

    python -m patchorch.sources._origins < {"sources": [...], "wanted": [["host", "patchorch_owner"], ["host", ""]]}
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["Origin", "locate"]

# (file, line); line None when Ansible knows only the file.
Origin = tuple[str, int | None]
# Key "" asks where the host itself is defined.
HOST_DEFINITION = ""


def locate(
    sources: Sequence[str], wanted: Iterable[tuple[str, str]], environment: Mapping[str, str]
) -> dict[tuple[str, str], Origin]:
    """Where each (host, variable) of `wanted` was set; pairs Ansible cannot place are left out."""
    request = {"sources": list(sources), "wanted": sorted({(host, key) for host, key in wanted})}
    if not request["wanted"]:
        return {}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "patchorch.sources._origins"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            env=dict(environment),
            check=False,
            timeout=300,
        )
        # The answer is the last line: anything Ansible itself prints to stdout comes before it.
        lines = result.stdout.strip().splitlines()
        answers = json.loads(lines[-1]) if result.returncode == 0 and lines else []
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
        return {}
    return {(host, key): (file, line) for host, key, file, line in answers}


def _answer(request: Mapping[str, Any]) -> list[tuple[str, str, str, int | None]]:
    """In the child: load the sources with Ansible and read the origin tag of each wanted value."""
    from ansible._internal._datatag._tags import Origin as AnsibleOrigin
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=list(request["sources"]))
    variables = VariableManager(loader=loader, inventory=inventory)
    cache: dict[str, Mapping[str, Any]] = {}
    answers = []
    for host_name, key in request["wanted"]:
        host = inventory.get_host(host_name)
        if host is None:
            continue
        if key == HOST_DEFINITION:
            value: Any = host.name
        else:
            if host_name not in cache:
                cache[host_name] = variables.get_vars(host=host, include_hostvars=False)
            value = cache[host_name].get(key)
        tag = AnsibleOrigin.get_tag(value)
        if tag is None and isinstance(value, bool):
            # Python cannot tag a bool; the key's own tag says where it was first declared (right when declared once).
            tag = next((AnsibleOrigin.get_tag(name) for name in cache[host_name] if name == key), None)
        if tag is not None and tag.path:
            answers.append((host_name, key, str(tag.path), tag.line_num))
    return answers


if __name__ == "__main__":
    sys.stdout.write("\n" + json.dumps(_answer(json.load(sys.stdin))) + "\n")
