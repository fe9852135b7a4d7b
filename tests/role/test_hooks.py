"""The role's hooks on real test hosts: drained during the update, undrained after it, also when it fails.

The fleet's health service can be drained (`fleet-service drain`); drains, undrains and acme-mta upgrades are logged
in order to the host's /var/log/fleet-events.log, with the drain state each upgrade saw.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from patchorch.domain.fleet import Hook
from patchorch.domain.plan import HostSettings, RolloutPlan
from patchorch.testing.fleet import Fault, TestFleet
from tests.role.ansible_run import run_batch
from tests.role.plans import one_batch_plan, render_for

pytestmark = [pytest.mark.fleet, pytest.mark.usefixtures("fresh_hosts")]

DRAIN = Hook(commands=(("/usr/local/sbin/fleet-service", "drain", "acme-mta"),))
UNDRAIN = Hook(commands=(("/usr/local/sbin/fleet-service", "undrain", "acme-mta"),))
EVENTS = "/var/log/fleet-events.log"


def _with_hooks(plan: RolloutPlan, host: str, pre: Hook | None = DRAIN, post: Hook | None = UNDRAIN) -> RolloutPlan:
    return plan.model_copy(update={"host_settings": (HostSettings(host=host, pre_hook=pre, post_hook=post),)})


def _events_since(fleet: TestFleet, host: str, offset: int) -> list[str]:
    text = fleet.exec(host, "cat", EVENTS, check=False).stdout
    return text.splitlines()[offset:]


def _event_count(fleet: TestFleet, host: str) -> int:
    return len(_events_since(fleet, host, 0))


def _drained(fleet: TestFleet, host: str) -> bool:
    answer = fleet.health(host)
    assert answer is not None
    return bool(answer.body["drained"])


def test_host_is_drained_during_the_update_and_undrained_after(test_fleet: TestFleet, tmp_path: Path) -> None:
    """Drain commands run before the upgrade, undrain after it; both hook results are exported as ok."""
    start = _event_count(test_fleet, "mx1")
    plan = _with_hooks(one_batch_plan(("mx1",)), "mx1")
    result = run_batch(render_for(test_fleet, plan, tmp_path), "canary", ["mx1"], tmp_path).result("mx1")
    assert result.failed_step is None
    assert _events_since(test_fleet, "mx1", start) == [
        "drain acme-mta",
        "upgrade acme-mta drained",
        "undrain acme-mta",
    ]
    assert {name: hook.status for name, hook in result.hooks.items()} == {"pre": "ok", "post": "ok"}
    assert result.hooks["pre"].hook == "commands: /usr/local/sbin/fleet-service drain acme-mta"
    assert not _drained(test_fleet, "mx1")


def test_failed_update_still_undrains_the_host(test_fleet: TestFleet, tmp_path: Path) -> None:
    """A refused upgrade fails the host at `update`, and the post hook still undrains it and records ok."""
    test_fleet.set_fault("mx2", Fault.FAILING_UPGRADE)
    try:
        start = _event_count(test_fleet, "mx2")
        plan = _with_hooks(one_batch_plan(("mx2",)), "mx2")
        run = run_batch(render_for(test_fleet, plan, tmp_path), "canary", ["mx2"], tmp_path)
    finally:
        test_fleet.clear_fault("mx2")
    result = run.result("mx2")
    assert result.failed_step == "update"
    assert _events_since(test_fleet, "mx2", start) == [
        "drain acme-mta",
        "refused-upgrade acme-mta drained",
        "undrain acme-mta",
    ]
    assert result.hooks["post"].status == "ok"
    assert not _drained(test_fleet, "mx2")
    assert run.rc != 0


def test_failing_post_hook_fails_the_host_at_post_hook(test_fleet: TestFleet, tmp_path: Path) -> None:
    """An undrain command that exits non-zero after a good update fails the host at `post-hook`, saying which."""
    failing = Hook(commands=(("/usr/local/sbin/fleet-service", "bogus", "acme-mta"),))
    plan = _with_hooks(one_batch_plan(("imap1",)), "imap1", post=failing)
    result = run_batch(render_for(test_fleet, plan, tmp_path), "canary", ["imap1"], tmp_path).result("imap1")
    assert result.failed_step == "post-hook"
    assert result.hooks["post"].status == "failed"
    assert "bogus acme-mta: exit 2" in result.hooks["post"].detail
    assert result.versions_after == {"acme-mta": "1.0-2"}
    test_fleet.exec("imap1", "/usr/local/sbin/fleet-service", "undrain", "acme-mta")


def test_check_mode_runs_no_hook_command(test_fleet: TestFleet, tmp_path: Path) -> None:
    """--check records both hooks as skipped and never drains the host."""
    start = _event_count(test_fleet, "relay1")
    plan = _with_hooks(one_batch_plan(("relay1",)), "relay1")
    result = run_batch(render_for(test_fleet, plan, tmp_path), "canary", ["relay1"], tmp_path, check=True).result(
        "relay1"
    )
    assert {name: hook.status for name, hook in result.hooks.items()} == {"pre": "skipped", "post": "skipped"}
    assert _events_since(test_fleet, "relay1", start) == []


def test_a_failing_snapshot_stops_the_host_before_any_change(test_fleet: TestFleet, tmp_path: Path) -> None:
    """The snapshot runs first: when it fails, the host is neither drained nor upgraded, and its exit status and
    output are recorded."""
    host = "relay1"  # this module's other tests only rehearse on it (check mode)
    start = _event_count(test_fleet, host)
    installed = test_fleet.exec(host, "dpkg-query", "-W", "-f=${Version}", "acme-mta").stdout
    assert installed == "1.0-1"  # an upgrade would show: this module leaves relay1 alone until here
    snapshot = Hook(commands=(("/bin/sh", "-c", "echo volume group full >&2; exit 3"),))
    plan = one_batch_plan((host,)).model_copy(
        update={"host_settings": (HostSettings(host=host, snapshot_hook=snapshot, pre_hook=DRAIN, post_hook=UNDRAIN),)}
    )
    run = run_batch(render_for(test_fleet, plan, tmp_path), "canary", [host], tmp_path)
    result = run.result(host)
    assert result.failed_step == "snapshot"
    assert list(result.hooks) == ["snapshot"]
    assert (result.hooks["snapshot"].status, result.hooks["snapshot"].rc) == ("failed", 3)
    assert result.hooks["snapshot"].output == "volume group full"
    assert _events_since(test_fleet, host, start) == []
    assert test_fleet.exec(host, "dpkg-query", "-W", "-f=${Version}", "acme-mta").stdout == installed
    assert run.rc != 0
