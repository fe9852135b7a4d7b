"""`patchorch rollback`: bad input exits 2 with one line and records nothing; `runs` and `show` link a rollback and
the run it undoes both ways (records written straight into the store, no host touched)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from patchorch.cli._app import main
from patchorch.domain.fleet import Fleet, Host
from patchorch.domain.outcomes import HostOutcome, HostStatus
from patchorch.domain.plan import Mode, UpdateScope, UpdateSpec
from patchorch.domain.planner import plan
from patchorch.domain.policy import Policy
from patchorch.domain.rollback import plan_rollback, run_changes
from patchorch.domain.run import RunInputs, RunState
from patchorch.store.runs import RunStore

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ROLLOUT = "20261207-090000-aaaa"
HOSTS = ("mx1", "mx2")
POLICY = Policy.model_validate(
    {"classes": {"low": {"sla": "30d", "concurrency": 5}}, "wave_order": ["low"], "default_class": "low"}
)


def _store(state_dir: Path) -> RunStore:
    state_dir.mkdir(exist_ok=True)
    return RunStore.open(f"sqlite:///{state_dir / 'patchorch.db'}", actor="pytest")


def _recorded_rollout(tmp_path: Path, *, after: str = "1.0-2", check: bool = False) -> tuple[Path, RunStore]:
    """A completed run that took mx1 and mx2 from acme-mta 1.0-1 to `after`, with its inventory on disk."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n" + "".join(f"    {h}:\n" for h in (*HOSTS, "relay1")))
    store = _store(tmp_path / "state")
    fleet = Fleet(hosts=tuple(Host(name=h) for h in (*HOSTS, "relay1")))
    rollout = plan(fleet, POLICY, mode=Mode.EMERGENCY, now=NOW, targets=HOSTS, update=UpdateSpec())
    store.create_run(ROLLOUT, rollout, RunInputs(inventory=(str(inventory),), check=check))
    for stage in rollout.stages:
        store.record_intent(ROLLOUT, stage.name, 1, 1, stage.hosts)
        outcomes = [
            HostOutcome(
                host=h,
                status=HostStatus.PATCHED,
                versions_before={"acme-mta": "1.0-1"},
                versions_after={"acme-mta": after},
            )
            for h in stage.hosts
        ]
        store.record_outcomes(ROLLOUT, stage.name, 1, outcomes, evidence="test")
    store.set_run_state(ROLLOUT, RunState.COMPLETED)
    return inventory, store


def _bad(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    status = main(["--state-dir", str(tmp_path / "state"), *argv])
    err = capsys.readouterr().err
    assert status == 2, err
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    return err


def test_an_unknown_run_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Rolling back a run the store does not hold is one line, exit 2."""
    _store(tmp_path / "state")
    assert "no run 'nosuchrun' in the store" in _bad(["rollback", "nosuchrun", "--yes"], tmp_path, capsys)


def test_a_run_that_changed_nothing_exits_2_and_records_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run whose hosts kept their versions leaves nothing to undo: exit 2, no run recorded."""
    _, store = _recorded_rollout(tmp_path, after="1.0-1")
    err = _bad(["rollback", ROLLOUT, "--yes"], tmp_path, capsys)
    assert f"run {ROLLOUT} changed no host's packages: nothing to undo" in err
    assert [r.id for r in store.runs()] == [ROLLOUT]


def test_a_check_mode_run_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A rehearsal installed nothing: nothing to undo."""
    _recorded_rollout(tmp_path, check=True)
    assert "nothing to undo" in _bad(["rollback", ROLLOUT, "--yes"], tmp_path, capsys)


def test_hosts_matching_nothing_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--hosts matching none of the run's hosts is one line naming the flag, exit 2."""
    _recorded_rollout(tmp_path)
    err = _bad(["rollback", ROLLOUT, "--hosts", "relay1", "--yes"], tmp_path, capsys)
    assert f"--hosts relay1 matches only hosts run {ROLLOUT} did not change" in err


def test_runs_and_show_link_a_rollback_and_the_run_it_undoes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`runs` says which run rolls back which; `show` names the link from both ends."""
    inventory, store = _recorded_rollout(tmp_path)
    changes = run_changes(store.run(ROLLOUT), store.plan(ROLLOUT), store.attempts(ROLLOUT))
    rollback = plan_rollback(
        Fleet(hosts=tuple(Host(name=h) for h in HOSTS)), POLICY, changes, mode=Mode.REGULAR, now=NOW
    )
    assert rollback.update.scope is UpdateScope.ROLLBACK
    later = "20261207-100000-bbbb"
    store.create_run(later, rollback, RunInputs(inventory=(str(inventory),)))
    state = ["--state-dir", str(tmp_path / "state")]

    assert main([*state, "runs", "--json"]) == 0
    listed = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert (listed[later]["rollback_of"], listed[ROLLOUT]["rolled_back_by"]) == (ROLLOUT, [later])
    assert main([*state, "runs"]) == 0
    table = capsys.readouterr().out
    assert f"{later} rolls back {ROLLOUT}\n" in table
    assert main([*state, "show", ROLLOUT]) == 0
    assert f"rolled back by run {later}" in capsys.readouterr().out
    assert main([*state, "show", later]) == 0
    assert f"rolls back run {ROLLOUT}" in capsys.readouterr().out


def test_the_plan_uses_the_runs_own_policy_not_the_configured_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run started under the built-in policy is rolled back under it, whatever policy is configured now."""
    _recorded_rollout(tmp_path)
    configured = tmp_path / "policy.yml"
    configured.write_text("classes: {low: {sla: 30d, concurrency: 5}}\nwave_order: [low]\ndefault_class: low\n")
    monkeypatch.setenv("PATCHORCH_POLICY", str(configured))
    monkeypatch.chdir(tmp_path)
    status = main(["--state-dir", str(tmp_path / "state"), "rollback", ROLLOUT])
    shown = capsys.readouterr()
    assert (status, shown.err) == (2, "error: --yes: refusing to run without a terminal to confirm; pass --yes\n")
    compact = "".join(shown.out.split())  # the plan wraps at the terminal's width
    assert "·policybuilt-indefault(" in compact
    assert str(configured) not in compact
