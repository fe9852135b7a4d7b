"""`show` and `status` on an 80-column terminal: nothing cut off, versions and owners shown, outside text inert."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from patchorch.cli._app import main
from patchorch.domain.run import RunInputs, RunState
from patchorch.orchestrator.planning import plan_rollout
from patchorch.orchestrator.workspace import Workspace
from patchorch.testing import FakeClock, SimulatedExecutor
from tests.cli.terminal import run_in_terminal

EXAMPLE = Path(__file__).resolve().parents[2] / "inventories" / "example-mail"
# Long enough that a table squeezed into 80 columns used to cut them down to the package name.
PACKAGE = "acme-mta-daemon-common"
OLD, NEW = "1:2.36.1-8+deb12u1~bpo11+1", "1:2.36.1-8+deb12u2~bpo11+1"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A state directory with one emergency run over the example inventory, halted by its one failed host."""
    state = tmp_path_factory.mktemp("state")
    clock = FakeClock()
    plan = plan_rollout([EXAMPLE], emergency=True, now=clock.now())
    failing = plan.stages[-1].hosts[-1]
    executor = SimulatedExecutor(clock=clock, packages={PACKAGE: (OLD, NEW)}, fail={failing})
    workspace = Workspace.open(state, actor="ops@bastion", clock=clock, executor=executor)
    report = workspace.start(plan, inventory=[EXAMPLE], inputs=RunInputs(inventory=(str(EXAMPLE),)))
    assert report.state is RunState.HALTED, report.reason
    assert report.failed_hosts == (failing,)
    return state, report.run_id, failing


def _widest(lines: list[str]) -> int:
    return max(len(line) for line in lines)


def test_show_fits_80_columns_with_every_version_and_owner(recorded: tuple[Path, str, str]) -> None:
    """Every attempt of `show` on 80 columns carries its owner and both versions in full; no line is wider."""
    state, run_id, failing = recorded
    screen = run_in_terminal(["--state-dir", str(state), "show", run_id])
    assert screen.status == 0, screen.raw
    assert _widest(screen.lines) <= 80
    text = "\n".join(screen.lines)
    # Too long for one line at 80 columns: each version stands whole on a line of its own.
    assert f"      before {OLD}" in screen.lines
    assert f"      after  {NEW}" in screen.lines
    assert f"    {PACKAGE}  {OLD} (unchanged)" in screen.lines  # the failing host kept its version; it fits
    assert "mail-platform <mail-platform@example.org>" in text
    assert failing in text
    assert "…" not in text


def test_status_fits_80_columns_and_names_the_failed_host_with_its_owner(recorded: tuple[Path, str, str]) -> None:
    """`status` lists the stages and, for the host that failed, its owner; nothing wider than 80 columns."""
    state, run_id, failing = recorded
    screen = run_in_terminal(["--state-dir", str(state), "status", run_id])
    assert screen.status == 0, screen.raw
    assert _widest(screen.lines) <= 80
    [line] = [line for line in screen.lines if line.strip().startswith(failing)]
    assert "failed" in line
    assert "<" in line  # team <contact>
    assert "…" not in "\n".join(screen.lines)


def test_status_and_show_json_carry_owners_and_attempts(
    recorded: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The JSON of `status` names owners; that of `show` has every attempt with its versions."""
    state, run_id, failing = recorded
    capsys.readouterr()
    assert main(["--state-dir", str(state), "status", run_id, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["hosts"][failing] == "failed"
    assert data["owners"][failing]
    assert main(["--state-dir", str(state), "show", run_id, "--json"]) == 0
    attempts = json.loads(capsys.readouterr().out)["attempts"]
    assert all(a["outcome"]["versions_before"] == {PACKAGE: OLD} for a in attempts)


def test_shell_completion_script_is_offered(capsys: pytest.CaptureFixture[str]) -> None:
    """`--show-completion bash` prints a completion script for patchorch."""
    assert main(["--show-completion", "bash"]) == 0
    assert "_PATCHORCH_COMPLETE" in capsys.readouterr().out


def test_plan_names_each_hosts_owning_team_within_80_columns() -> None:
    """`plan` on an 80-column terminal puts every target's owning team beside it; no line is wider."""
    screen = run_in_terminal(["plan", "--emergency", "-i", str(EXAMPLE)])
    assert screen.status == 0, screen.raw
    assert _widest(screen.lines) <= 80
    text = " ".join(" ".join(screen.lines).split())  # lines joined where the terminal wrapped them
    assert "imap1.mail.example.org (mail-storage)" in text
    assert "mon1.mail.example.org* (observability)" in text  # * marks its risk-class override


def test_show_names_who_acknowledged_a_failure_on_resume(tmp_path: Path) -> None:
    """After a resume accepts a failure, `show` says under that attempt who acknowledged it and when."""
    clock = FakeClock()
    plan = plan_rollout([EXAMPLE], emergency=True, now=clock.now())
    failing = plan.stages[-1].hosts[-1]
    executor = SimulatedExecutor(clock=clock, packages={PACKAGE: (OLD, NEW)}, fail={failing})
    workspace = Workspace.open(tmp_path, actor="ops@bastion", clock=clock, executor=executor)
    report = workspace.start(plan, inventory=[EXAMPLE], inputs=RunInputs(inventory=(str(EXAMPLE),)))
    workspace.resume(report.run_id)
    screen = run_in_terminal(["--state-dir", str(tmp_path), "show", report.run_id])
    assert screen.status == 0, screen.raw
    at = f"{clock.now():%Y-%m-%d %H:%M}"
    assert screen.lines.count(f"    acknowledged by ops@bastion at {at} UTC") == 1
