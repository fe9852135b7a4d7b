"""The CLI's shape, read from its source: command modules build on shared modules only, and reach the library through
the Workspace's methods and StoreLocation, never through the Workspace's store or orchestrator."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import patchorch.cli
from patchorch.cli._commands import MODULES

CLI = Path(patchorch.cli.__file__).parent
SOURCES = sorted(CLI.glob("*.py"))
COMMAND_MODULES = {f"patchorch.cli.{module}" for module in MODULES}
# What a Workspace wires and keeps to itself: reaching for these would wire around it.
WORKSPACE_INNARDS = {"store", "_store", "orchestrator", "_orchestrator", "executor", "_advisories"}


def _imported(tree: ast.AST) -> set[str]:
    """Every module an import statement names, at the top or inside a function (`from a import b` names a and a.b)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_the_cli_package_holds_every_command_module() -> None:
    """The modules `_commands` names are files of the package, so the checks below read them all."""
    assert {f"patchorch.cli.{path.stem}" for path in SOURCES} >= COMMAND_MODULES


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: path.name)
def test_no_cli_module_imports_a_command_module(path: Path) -> None:
    """Command modules and shared modules import only shared modules of the CLI, never a command module."""
    assert sorted(_imported(_tree(path)) & COMMAND_MODULES) == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: path.name)
def test_no_cli_module_reaches_into_the_workspace(path: Path) -> None:
    """No CLI module reads `.store`, `.orchestrator` or `.executor` of anything: the Workspace's methods say it all."""
    reached = sorted(
        f"{path.name}:{node.lineno} .{node.attr}"
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.Attribute) and node.attr in WORKSPACE_INNARDS
    )
    assert reached == []


def test_the_checks_see_an_import_of_a_command_module_inside_a_function() -> None:
    """A lazy import (inside a function) of a command module is found, as the old `resume` -> drill import was."""
    code = "def resume():\n    from patchorch.cli.drill import finish_drill\n"
    assert _imported(ast.parse(code)) & COMMAND_MODULES == {"patchorch.cli.drill"}
