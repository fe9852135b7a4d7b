"""The leases of run locks and host claims are settings (`run_lock_lease`, `claim_lease` in patchorch.yml or the
environment): 10 s to 1 h, 60 s and 10 min by default; a bad value is bad input naming the file and the field."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from patchorch.cli._app import main
from patchorch.cli._wiring import open_workspace
from patchorch.config import load_settings
from patchorch.domain.plan import Stage
from patchorch.domain.run import RunInputs, RunState
from patchorch.errors import RunLockedError
from patchorch.orchestrator.locks import RunLock
from patchorch.orchestrator.observers import Observer
from patchorch.orchestrator.workspace import Leases, Workspace
from patchorch.testing import FakeClock, SimulatedExecutor
from tests.plans import FakeContent, make_plan


def _lock_until(workspace: Workspace, run_id: str) -> datetime:
    """Until when `run_id`'s lock holds, as another process trying to take it is told."""
    with pytest.raises(RunLockedError) as refused:
        RunLock(workspace.store, workspace.clock, holder="bastion-9:1").acquire(run_id)
    until = refused.value.context["until"]
    assert isinstance(until, datetime)
    return until


def test_the_defaults_are_unchanged(tmp_path: Path) -> None:
    """Without the settings a run's lock holds 60 s and a host claim 10 min."""
    settings = load_settings(cwd=tmp_path, environ={"PATCHORCH_STATE_DIR": str(tmp_path / "state")})
    assert (settings.run_lock_lease, settings.claim_lease) == (timedelta(seconds=60), timedelta(minutes=10))


def test_the_run_lock_lease_of_patchorch_yml_reaches_the_lock(tmp_path: Path) -> None:
    """`run_lock_lease: 30s` in patchorch.yml: a command's run lock expires 30 s after it was taken."""
    (tmp_path / "patchorch.yml").write_text("run_lock_lease: 30s\nstate_dir: state\n", encoding="utf-8")
    clock = FakeClock()
    workspace = open_workspace(load_settings(cwd=tmp_path, environ={}), clock=clock)
    with workspace.orchestrator.locked("r1"):
        assert _lock_until(workspace, "r1") == clock.now() + timedelta(seconds=30)


def test_the_claim_lease_reaches_the_claims_of_a_run(tmp_path: Path) -> None:
    """With a claim lease of 20 min the hosts of a dispatched batch are claimed until 20 min after dispatch."""
    clock = FakeClock()
    workspace = Workspace.open(
        tmp_path / "state",
        actor="pytest",
        clock=clock,
        executor=SimulatedExecutor(clock=clock, mean_seconds=0),
        leases=Leases(claim_lease=timedelta(minutes=20)),
    )
    seen: list[timedelta] = []

    class ClaimWatch(Observer):
        def batch_started(self, run_id: str, stage: Stage, batch: int, attempt: int, hosts: tuple[str, ...]) -> None:
            seen.extend(c.expires_at - clock.now() for c in workspace.store.claims())

    workspace.orchestrator.add_observer(ClaimWatch())
    report = workspace.orchestrator.start(make_plan([[["a", "b"]]]), FakeContent(), RunInputs(), run_id="r1")
    assert report.state is RunState.COMPLETED, report.reason
    assert seen == [timedelta(minutes=20)] * 2


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [("run_lock_lease", "5s", "between 10s and 1h"), ("claim_lease", "2h", "between 10s and 1h")],
)
def test_a_lease_out_of_range_in_patchorch_yml_exits_2_naming_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, value: str, allowed: str
) -> None:
    """A lease outside 10 s to 1 h: exit 2, one line naming patchorch.yml, the field and what is allowed."""
    config = tmp_path / "patchorch.yml"
    config.write_text(f"{field}: {value}\nstate_dir: state\n", encoding="utf-8")
    assert main(["--config", str(config), "runs"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert str(config) in err
    assert field in err
    assert allowed in err


def test_a_lease_that_is_no_duration_in_the_environment_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """PATCHORCH_CLAIM_LEASE=soon: exit 2, one line naming claim_lease and the duration forms allowed."""
    monkeypatch.setenv("PATCHORCH_CLAIM_LEASE", "soon")
    monkeypatch.chdir(tmp_path)
    assert main(["--state-dir", str(tmp_path / "state"), "runs"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "claim_lease" in err
    assert "expected a duration like" in err
