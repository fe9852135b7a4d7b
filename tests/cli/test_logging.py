"""Structured logs: readable console lines by default, JSON lines with --log-format json, the run id bound."""

from __future__ import annotations

import json

import pytest
import structlog
from structlog.contextvars import bound_contextvars

from patchorch.cli._common import configure_logging


def test_json_log_lines_carry_the_bound_run_id(capsys: pytest.CaptureFixture[str]) -> None:
    """With the json format every line is a JSON object that includes the run id bound by the orchestrator."""
    configure_logging("json")
    with bound_contextvars(run="20261130-101500-ab12"):
        structlog.get_logger("patchorch.rollout").info("stage started", stage="canary")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["run"] == "20261130-101500-ab12"
    assert line["event"] == "stage started"
    assert line["level"] == "info"


def test_console_log_lines_are_readable_text(capsys: pytest.CaptureFixture[str]) -> None:
    """The default format is one readable line with key=value pairs, not JSON."""
    configure_logging("console")
    structlog.get_logger("patchorch.rollout").info("stage started", stage="canary")
    text = capsys.readouterr().err.strip().splitlines()[-1]
    assert "stage started" in text
    assert "stage=canary" in text
    assert not text.startswith("{")


def test_console_log_lines_write_out_control_characters(capsys: pytest.CaptureFixture[str]) -> None:
    """Outside text with ESC and a newline, as the event or a value, stays one inert console line."""
    configure_logging("console")
    structlog.get_logger("patchorch.rollout").info("mx1: \x1b[2Jgone\nfake line", reason="\x1b[31mred")
    err = capsys.readouterr().err
    assert "\x1b" not in err
    assert err.count("\n") == 1
    assert "mx1: \\x1b[2Jgone\\nfake line" in err
