"""Start-up: the CLI registers every command without importing what only running a command needs."""

from __future__ import annotations

import json
import subprocess
import sys

# What a command imports when it runs, never when the CLI starts: the store (sqlalchemy, alembic), Ansible and the
# executor, templating, the HTTP client and OpenPGP, the engine and the workspace.
HEAVY = (
    "sqlalchemy",
    "alembic",
    "ansible",
    "ansible_runner",
    "jinja2",
    "httpx",
    "cryptography",
    "patchorch.store",
    "patchorch.rendering",
    "patchorch.execution.ansible",
    "patchorch.sources.inventory",
    "patchorch.orchestrator.engine",
    "patchorch.orchestrator.workspace",
)


def _imported_after(code: str) -> list[str]:
    """The heavy modules present in sys.modules of a fresh interpreter after running `code`."""
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(set(sys.modules) & set({list(HEAVY)!r}))))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    return list(json.loads(result.stdout.strip().splitlines()[-1]))


def test_registering_every_command_imports_no_heavy_module() -> None:
    """Importing patchorch.cli and registering all its commands (what --help does) leaves the heavy modules unloaded."""
    assert _imported_after("import patchorch.cli\nfrom patchorch.cli import _commands") == []


def test_importing_the_package_imports_no_heavy_module() -> None:
    """`import patchorch` resolves its exports on first use, so the import alone loads neither store nor engine."""
    assert _imported_after("import patchorch") == []
