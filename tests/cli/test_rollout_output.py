"""A rollout's output on the test fleet: on a terminal the live display owns the screen and the log goes to a file;
without one, --json gives one JSON document on stdout and whole log lines on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.terminal import run_in_terminal
from tests.integration.conftest import NEW, Fleet

pytestmark = pytest.mark.fleet


def _rollout(fresh: Fleet, state_dir: Path, *extra: str) -> list[str]:
    return [
        "--state-dir",
        str(state_dir),
        *extra,
        "rollout",
        "-i",
        str(fresh.inventory),
        "--policy",
        str(fresh.fleet.policy_path),
        "--package",
        "acme-mta",
        "--emergency",
        "--yes",
        "--max-wait",
        "0",
    ]


def test_live_display_and_log_lines_never_share_the_terminal(fresh: Fleet, state_dir: Path) -> None:
    """On an 80-column terminal the rollout shows its display and result, no log line; the log file has them all."""
    screen = run_in_terminal(_rollout(fresh, state_dir), columns=80, rows=30, timeout=600)
    assert screen.status == 0, screen.raw
    visible = [line for line in screen.lines if line.strip()]
    assert max(len(line) for line in visible if "log: " not in line) <= 80  # the log's path is kept whole
    assert "host outcome" not in screen.raw
    assert "[info" not in screen.raw
    [result] = [line for line in visible if line.startswith("run ") and ": completed" in line]
    run_id = result.split()[1].rstrip(":")
    [log_line] = [line for line in visible if line.strip().startswith("log: ")]
    log = Path(log_line.split("log: ", 1)[1].strip())
    assert log == state_dir / "logs" / f"{run_id}.log"
    outcomes = [line for line in log.read_text().splitlines() if "host outcome" in line]
    targets = [h.name for h in fresh.fleet.hosts]
    assert sorted(h for h in targets if any(f"host={h}" in line.split() for line in outcomes)) == sorted(targets)
    assert all(fresh.version(host) == NEW for host in targets)


def test_json_without_a_terminal_gives_one_document_and_whole_log_lines(fresh: Fleet, state_dir: Path) -> None:
    """Piped, `rollout --check --json` prints one JSON document on stdout; every JSON log line on stderr is whole."""
    command = [sys.executable, "-m", "patchorch", *_rollout(fresh, state_dir, "--log-format", "json"), "--check"]
    done = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["state"] == "completed"
    assert sorted(result["hosts"]) == sorted(h.name for h in fresh.fleet.hosts)
    events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    outcomes = [e for e in events if e["event"] == "host outcome"]
    assert sorted(e["host"] for e in outcomes) == sorted(result["hosts"])
    assert all(e["run"] == result["run"] for e in outcomes)
    assert all(fresh.upgrades(host) == 0 for host in result["hosts"])  # check mode changed nothing


def test_facts_refresh_shows_progress_on_a_terminal_and_none_when_piped(fresh: Fleet, state_dir: Path) -> None:
    """On a terminal `facts refresh` shows what it is gathering while it works; piped, its output is plain lines."""
    command = ["--state-dir", str(state_dir), "facts", "refresh", "-i", str(fresh.inventory)]
    screen = run_in_terminal(command, columns=80, timeout=300)
    assert screen.status == 0, screen.raw
    assert "gathering package facts from" in screen.raw
    piped = subprocess.run(
        [sys.executable, "-m", "patchorch", *command], capture_output=True, text=True, timeout=300, check=False
    )
    assert piped.returncode == 0, piped.stderr
    assert "gathering package facts" not in piped.stdout + piped.stderr
    assert "\x1b" not in piped.stdout
    assert sorted(line.split()[0] for line in piped.stdout.splitlines() if "packages" in line) == sorted(
        h.name for h in fresh.fleet.hosts
    )
