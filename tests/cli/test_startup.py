"""Start-up: the CLI registers its commands, and plans, without importing what only running something needs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from patchorch.cli._app import app
from patchorch.cli._commands import COMMAND_MODULES, MODULES, command_name, register

ROOT = Path(__file__).resolve().parents[2]

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


# What reading an inventory needs of those: Ansible itself, and the jinja2 and cryptography it imports.
READING = ("ansible", "jinja2", "cryptography", "patchorch.sources.inventory")


def _not_needed_by(command: str, *needed: str) -> tuple[str, ...]:
    """What `patchorch COMMAND` (which reads the inventory) runs without: the heavy modules beside those it reads
    with or names as `needed`, logging (structlog with rich's tracebacks and pygments, asyncio), the executor's models
    and every other command's module."""
    return (
        *(name for name in HEAVY if name not in (*READING, *needed)),
        "structlog",
        "rich.traceback",
        "rich.pretty",
        "pygments",
        "asyncio",
        "patchorch.execution.base",
        "patchorch.orchestrator.observers",
        *(f"patchorch.cli.{module}" for module in MODULES if module != command),
    )


def _imported_after(code: str, modules: tuple[str, ...] = HEAVY) -> list[str]:
    """The `modules` present in sys.modules of a fresh interpreter after running `code`."""
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(set(sys.modules) & set({list(modules)!r}))))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120, cwd=ROOT
    )
    return list(json.loads(result.stdout.strip().splitlines()[-1]))


def test_registering_every_command_imports_no_heavy_module() -> None:
    """Importing patchorch.cli and registering all its commands (what --help does) leaves the heavy modules unloaded."""
    assert _imported_after("from patchorch.cli._commands import register\nregister()") == []


@pytest.mark.parametrize(
    ("command", "flags", "needed"),
    [("plan", ["--now", "2025-03-05T12:00Z"], ()), ("render", ["-o", "{tmp}/run"], ("patchorch.rendering",))],
)
def test_plan_and_render_import_neither_logging_nor_other_commands(
    tmp_path: Path, command: str, flags: list[str], needed: tuple[str, ...]
) -> None:
    """`patchorch plan` and `render` read and plan without structlog, the executor, the store or other commands."""
    options = [flag.format(tmp=tmp_path) for flag in flags]
    args = ["--state-dir", str(tmp_path), command, "-i", "inventories/example-mail", *options]
    code = f"from patchorch.cli._app import main\nassert main({args!r}) == 0"
    assert _imported_after(code, _not_needed_by(command, *needed)) == []


def test_each_command_is_registered_by_the_modules_named_for_it() -> None:
    """COMMAND_MODULES names, for every registered command and group, exactly the modules defining its commands."""
    register()
    defined: dict[str, set[str]] = {}
    for command in app.registered_commands:
        assert command.callback is not None
        name = command.name or command.callback.__name__.replace("_", "-")
        defined[name] = {command.callback.__module__}
    for group in app.registered_groups:
        assert group.name is not None
        assert group.typer_instance is not None
        callbacks = [sub.callback for sub in group.typer_instance.registered_commands]
        defined[group.name] = {callback.__module__ for callback in callbacks if callback is not None}
    named = {name: {f"patchorch.cli.{module}" for module in modules} for name, modules in COMMAND_MODULES.items()}
    assert named == defined


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--state-dir", "plan", "render", "-i", "x"], "render"),
        (["--config=p.yml", "--log-format", "json", "audit", "verify"], "audit"),
        (["--version"], None),
        (["--help"], None),
    ],
)
def test_the_command_name_skips_global_options_and_their_values(args: list[str], expected: str | None) -> None:
    """The command named is the first argument that is neither a global option nor the value of one."""
    assert command_name(args) == expected


def test_importing_the_package_imports_no_heavy_module() -> None:
    """`import patchorch` resolves its exports on first use, so the import alone loads neither store nor engine."""
    assert _imported_after("import patchorch") == []
