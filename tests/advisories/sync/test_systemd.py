"""The shipped systemd units: their commands are real patchorch commands, and the timer runs daily."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest

from patchorch.cli._app import main

UNITS = Path(__file__).parents[3] / "contrib" / "systemd"


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # unit keys are case-sensitive
    parser.read_string((UNITS / name).read_text(encoding="utf-8"))
    return parser


@pytest.mark.parametrize(
    ("unit", "command"),
    [("patchorch-sync.service", ["advisories", "sync"]), ("patchorch-notify.service", ["exposure"])],
)
def test_service_runs_a_patchorch_command_the_cli_accepts(
    unit: str, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """ExecStart names an existing patchorch command with options it knows (checked by the CLI's own parser)."""
    argv = shlex.split(_unit(unit)["Service"]["ExecStart"])
    assert argv[0].endswith("/patchorch")
    assert all(word in argv for word in command)
    assert main([*argv[1:], "--help"]) == 0
    assert "Usage: patchorch" in capsys.readouterr().out


def test_sync_service_hands_over_to_notify_whatever_the_outcome() -> None:
    """The notify service runs after a sync that succeeded and after one that failed."""
    unit = _unit("patchorch-sync.service")["Unit"]
    assert unit["OnSuccess"] == unit["OnFailure"] == "patchorch-notify.service"


def test_timer_runs_the_sync_daily_and_catches_up() -> None:
    """The timer fires once a day and runs a missed sync at boot (Persistent)."""
    timer = _unit("patchorch-sync.timer")["Timer"]
    assert timer["OnCalendar"] == "*-*-* 05:00:00"
    assert timer["Persistent"] == "true"
