"""What every command shares: settings, consoles, exit statuses and the common options."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.text import Text

from patchorch.config import Settings, default_state_dir, load_settings
from patchorch.errors import ConfigError, Problem

if TYPE_CHECKING:
    from patchorch.domain.fleet import Fleet
    from patchorch.execution.base import Credentials, VaultId

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2
EXIT_AWAITING_APPROVAL = 3
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130

console = Console(highlight=False)
# Characters that must never reach a terminal as themselves: C0 and C1 controls (ESC starts every escape sequence;
# CR and newline forge lines), DEL, and the Unicode format characters that reorder or hide text (bidi overrides,
# zero-width joiners, the BOM).
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def plain(value: object) -> str:
    """`value` as one line of inert text: control and format characters written out as `\\x1b`, `\\n`, `\\u202e`.

    The one escaping function for everything that came from outside (inventory values, host names, messages from
    hosts, reasons). Print the result only as rich `Text` (`cell`) or with `markup=False`, so `[red]` stays text.
    """
    return _UNPRINTABLE.sub(_escaped, str(value))


def cell(value: object, style: str = "") -> Text:
    """Outside text as a rich `Text`: escaped by `plain`, never parsed as markup (table cells and lines)."""
    return Text(plain(value), style=style)


# Errors stay on one line whatever the terminal width, so they can be grepped and pasted into a ticket.
console_err = Console(stderr=True, highlight=False, soft_wrap=True)

InventoryOption = Annotated[
    list[Path] | None,
    typer.Option("-i", "--inventory", help="Inventory source (file, directory or script); repeatable."),
]
LimitOption = Annotated[
    str | None, typer.Option("-l", "--limit", help="Only hosts matching this Ansible host pattern.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
PolicyOption = Annotated[Path | None, typer.Option("--policy", help="Policy file (default: from settings).")]
VaultIdOption = Annotated[
    list[str] | None,
    typer.Option(
        "--vault-id",
        help="An Ansible vault id: LABEL@prompt asks for its password here (kept in memory), LABEL@FILE names a "
        "password file or client script of yours that Ansible reads; repeatable.",
    ),
]
VaultPasswordFileOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--vault-password-file",
        help="A vault password file or client script of yours, read by Ansible itself (as --vault-id FILE); "
        "repeatable.",
    ),
]


def ask_credentials(
    ask_become_pass: bool, vault_ids: Sequence[str] | None, password_files: Sequence[Path] | None = None
) -> Credentials | None:
    """The become password and vault ids the operator asked for, prompting (without echo) for those to type.

    A vault password file must exist (it is checked before anything runs); its content is Ansible's to read."""
    files = [str(path) for path in password_files or ()]
    wanted = [*(vault_ids or ()), *files]
    if not ask_become_pass and not wanted:
        return None
    for value in wanted:
        source = value.rpartition("@")[2]
        if source and source != "prompt" and not Path(source).is_file():
            field = "--vault-password-file" if value in files else "--vault-id"
            raise ConfigError([Problem(f"{source} is not a file", field=field, value=value)])
    from patchorch.execution.base import Credentials, VaultId

    become = typer.prompt("BECOME password", hide_input=True, err=True) if ask_become_pass else None
    vaults = []
    for value in wanted:
        label, at, source = value.rpartition("@")
        if not at:
            label, source = "default", value
        if not label or not source:
            raise ConfigError(
                [Problem(f"{value!r} is not a vault id", field="--vault-id", allowed="LABEL@prompt or LABEL@FILE")]
            )
        if source == "prompt":
            vaults.append(VaultId(label, password=typer.prompt(f"Vault password ({label})", hide_input=True, err=True)))
        else:
            vaults.append(VaultId(label, source=source))
    return Credentials(become_password=become, vault_ids=tuple(vaults))


def ask_vault_ids(vault_ids: Sequence[str] | None, password_files: Sequence[Path] | None) -> tuple[VaultId, ...]:
    """The vault ids of a command that only reads the inventory (no become password), prompting for those to type."""
    credentials = ask_credentials(False, vault_ids, password_files)
    return credentials.vault_ids if credentials is not None else ()


@dataclass
class State:
    """Global options, resolved into Settings on first use."""

    config: Path | None = None
    state_dir: Path | None = None
    store_url: str | None = None
    log_format: str | None = None
    _settings: Settings | None = field(default=None, repr=False)

    def settings(self, **flags: Any) -> Settings:
        """Settings with this command's flags applied on top (flags win)."""
        overrides = {
            "state_dir": self.state_dir,
            "store_url": self.store_url,
            "log_format": self.log_format,
            **flags,
        }
        settings = load_settings(config_file=self.config, overrides=overrides)
        _last_state_dir[0] = settings.state_dir
        return settings


def owners_in(fleet: Fleet, *, contact: bool = True) -> dict[str, str]:
    """Each host's owner of an already loaded fleet as 'team <contact>' (or the team alone)."""
    return {
        h.name: plain(f"{h.owner.team} <{h.owner.contact}>" if contact else h.owner.team)
        for h in fleet
        if h.owner is not None
    }


def missing_setting(settings: Settings, field: str, message: str, allowed: str) -> ConfigError:
    """A settings error naming the project file and the key that is missing."""
    where = str(settings.config_file) if settings.config_file else None
    return ConfigError([Problem(message, file=where, field=field, allowed=allowed)])


def require_inventory(settings: Settings) -> tuple[Path, ...]:
    """The inventory sources of these settings; one clear error naming every way to give one when there is none."""
    if not settings.inventory:
        raise ConfigError(
            [
                Problem(
                    "no inventory given",
                    field="-i/--inventory",
                    allowed="-i PATH, `inventory:` in patchorch.yml, or PATCHORCH_INVENTORY",
                )
            ]
        )
    return settings.inventory


def state(ctx: typer.Context) -> State:
    """The State the global callback stored (a fresh one when a command is invoked on its own in tests)."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, State) else State()


def configure_logging(log_format: str, stream: TextIO | None = None) -> None:
    """structlog to `stream` (stderr by default): readable console lines, or JSON lines with --log-format json.

    While a live display owns the terminal the log goes to a file instead (`patchorch.cli._driving`), so the two
    never interleave. Only the commands that run something log (`patchorch.cli._wiring.open_workspace` configures it),
    so structlog, and the rich tracebacks its console renderer brings, load only there.
    """
    import structlog

    json_lines = log_format == "json"
    renderer: Any = structlog.processors.JSONRenderer() if json_lines else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            # JSON escapes control characters itself; the console renderer prints the event and simple values as they
            # are, so there they are written out like every text for a terminal.
            *(() if json_lines else (_escape_strings,)),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.DEBUG if os.environ.get("PATCHORCH_DEBUG") else logging.INFO
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def _escape_strings(_logger: object, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """A structlog processor: every string of a console log line through `plain`."""
    return {key: plain(value) if isinstance(value, str) else value for key, value in event.items()}


# The state directory of the settings the running command resolved, so error tracebacks land beside its state.
_last_state_dir: list[Path | None] = [None]


def debug_dir() -> Path:
    """Where tracebacks of unexpected errors are kept: the command's state directory, else the default one."""
    base = _last_state_dir[0] or Path(os.environ.get("PATCHORCH_STATE_DIR") or default_state_dir(os.environ))
    return base / "debug"


def print_json(data: Any) -> None:
    """Print JSON data to stdout, sorted and indented, without rich markup."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
