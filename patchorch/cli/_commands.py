"""Which module registers which command, so that running one command imports only its own module.

Each command module registers its commands on `patchorch.cli._app.app` when imported. A command line that names a
command imports the module(s) behind that name; anything else (`--help`, shell completion, a name that is no command)
imports every module, so the help lists all commands and click suggests among all of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

# In the order the help lists the commands (the order of registration).
MODULES = ("advisories", "advisory_sync", "drill", "inventory", "plan", "render", "report", "rollback", "rollout")

# Each top-level command or group and the modules that register it and its subcommands.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "exposure": ("advisories",),
    "advisories": ("advisories", "advisory_sync"),
    "facts": ("advisories",),
    "drill": ("drill",),
    "inventory": ("inventory",),
    "plan": ("plan",),
    "render": ("render",),
    "report": ("report",),
    "rollback": ("rollback",),
    **dict.fromkeys(("rollout", "resume", "approve", "abort", "runs", "status", "show", "audit"), ("rollout",)),
}

# The global options that take a value (`patchorch --state-dir DIR plan`): their value is no command name.
GLOBAL_VALUE_OPTIONS = frozenset({"--config", "--state-dir", "--store-url", "--log-format"})


def command_name(args: Sequence[str]) -> str | None:
    """The first argument that is neither a global option nor its value: the command named, if any."""
    arguments = iter(args)
    for arg in arguments:
        if arg in GLOBAL_VALUE_OPTIONS:
            next(arguments, None)
        elif not arg.startswith("-"):
            return arg
    return None


def register(args: Sequence[str] | None = None) -> None:
    """Register the command `args` names (all commands when `args` is None or names none that exists)."""
    name = command_name(args) if args is not None else None
    for module in COMMAND_MODULES.get(name or "", MODULES):
        importlib.import_module(f"patchorch.cli.{module}")
