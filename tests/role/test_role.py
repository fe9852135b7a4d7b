"""The patchorch_patch role on real test hosts: what it exports per host on success, failure and in check mode.

Each test patches its own host of the session fleet, so the tests do not depend on one another's order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from patchorch.testing.fleet import Fault, TestFleet
from tests.role.ansible_run import run_batch
from tests.role.plans import ACME_MTA_NEW, ACME_TLS_NEW, one_batch_plan, render_for

pytestmark = [pytest.mark.fleet, pytest.mark.usefixtures("fresh_hosts")]

SetFault = Callable[[str, Fault], None]


def _installed(fleet: TestFleet, host: str, package: str) -> str:
    return fleet.exec(host, "dpkg-query", "-W", "-f", "${Version}", package).stdout


@pytest.fixture
def fault(test_fleet: TestFleet) -> Iterator[SetFault]:
    """Set faults with `fault(host, Fault.X)`; every fault set is cleared after the test."""
    touched: list[str] = []

    def set_fault(host: str, mode: Fault) -> None:
        touched.append(host)
        test_fleet.set_fault(host, mode)

    yield set_fault
    for host in touched:
        test_fleet.clear_fault(host)


def test_upgrade_installs_the_pinned_version_and_exports_it(test_fleet: TestFleet, tmp_path: Path) -> None:
    """A pinned acme-mta upgrade installs 1.0-2, passes the health checks and exports before/after versions."""
    run = run_batch(render_for(test_fleet, one_batch_plan(("webmail1",)), tmp_path), "canary", ["webmail1"], tmp_path)
    result = run.result("webmail1")
    assert (result.failed_step, result.changed, run.rc) == (None, True, 0)
    assert (result.versions_before, result.versions_after) == ({"acme-mta": "1.0-1"}, {"acme-mta": "1.0-2"})
    assert [check.passed for check in result.checks] == [True, True, True]
    health = test_fleet.health("webmail1")
    assert health is not None
    assert health.body["version"] == "1.0-2"


def test_second_run_changes_nothing(test_fleet: TestFleet, tmp_path: Path) -> None:
    """Running the same batch again on a patched host exports changed=false and the same versions."""
    rendered = render_for(test_fleet, one_batch_plan(("webmail1",)), tmp_path)
    run_batch(rendered, "canary", ["webmail1"], tmp_path / "first")
    again = run_batch(rendered, "canary", ["webmail1"], tmp_path / "second").result("webmail1")
    assert (again.changed, again.rebooted, again.failed_step) == (False, False, None)
    assert again.versions_before == again.versions_after == {"acme-mta": "1.0-2"}


def test_reboot_requiring_update_really_reboots(test_fleet: TestFleet, tmp_path: Path) -> None:
    """acme-tls 1.0-2 flags a reboot: the role reboots the host (its boot id changes) and reports it."""
    before = test_fleet.health("mx1")
    plan = one_batch_plan(("mx1",), (ACME_MTA_NEW, ACME_TLS_NEW))
    result = run_batch(render_for(test_fleet, plan, tmp_path), "canary", ["mx1"], tmp_path).result("mx1")
    after = test_fleet.health("mx1")
    assert (result.reboot_required, result.rebooted, result.failed_step) == (True, True, None)
    assert result.versions_after == {"acme-mta": "1.0-2", "acme-tls": "1.0-2"}
    assert before is not None
    assert after is not None
    assert after.body["boot_id"] != before.body["boot_id"]


def test_check_mode_reports_the_change_and_leaves_the_host_alone(test_fleet: TestFleet, tmp_path: Path) -> None:
    """--check exports check_mode, changed=true and unchanged versions; the host keeps 1.0-1 and its boot id."""
    boot_id = test_fleet.health("imap1")
    plan = one_batch_plan(("imap1",), (ACME_MTA_NEW, ACME_TLS_NEW))
    result = run_batch(render_for(test_fleet, plan, tmp_path), "canary", ["imap1"], tmp_path, check=True).result(
        "imap1"
    )
    assert (result.check_mode, result.changed, result.rebooted, result.failed_step) == (True, True, False, None)
    assert result.versions_before == result.versions_after == {"acme-mta": "1.0-1", "acme-tls": "1.0-1"}
    assert (_installed(test_fleet, "imap1", "acme-mta"), _installed(test_fleet, "imap1", "acme-tls")) == ("1.0-1",) * 2
    after = test_fleet.health("imap1")
    assert boot_id is not None
    assert after is not None
    assert after.body["boot_id"] == boot_id.body["boot_id"]


def test_failing_upgrade_exports_the_update_step_then_fails(
    test_fleet: TestFleet, tmp_path: Path, fault: SetFault
) -> None:
    """A refused upgrade exports failed_step=update with apt's reason; the role's last task then fails the host."""
    fault("mx2", Fault.FAILING_UPGRADE)
    run = run_batch(render_for(test_fleet, one_batch_plan(("mx2",)), tmp_path), "canary", ["mx2"], tmp_path)
    result = run.result("mx2")
    assert (result.failed_step, result.changed) == ("update", False)
    assert result.message is not None
    assert "at their pinned versions" in result.message
    assert result.versions_after == {"acme-mta": "1.0-1"}
    assert run.failed["mx2"][-1] == "Fail the host at the step that failed"
    assert run.rc != 0


def test_failing_health_check_exports_the_post_check_step(
    test_fleet: TestFleet, tmp_path: Path, fault: SetFault
) -> None:
    """A 503 health endpoint after the upgrade exports failed_step=post-check with each check's verdict."""
    fault("imap2", Fault.FAILING_HEALTH)
    run = run_batch(render_for(test_fleet, one_batch_plan(("imap2",)), tmp_path), "canary", ["imap2"], tmp_path)
    result = run.result("imap2")
    assert result.failed_step == "post-check"
    verdicts = {check.name.split()[0]: check.passed for check in result.checks}
    assert verdicts == {"tcp": True, "http": False, "command": True}
    assert result.versions_after == {"acme-mta": "1.0-2"}
    assert "imap2" in run.failed


def test_unreachable_host_exports_nothing(test_fleet: TestFleet, tmp_path: Path, fault: SetFault) -> None:
    """An unreachable host is reported unreachable by Ansible and exports no patchorch_result."""
    fault("relay1", Fault.UNREACHABLE)
    run = run_batch(render_for(test_fleet, one_batch_plan(("relay1",)), tmp_path), "canary", ["relay1"], tmp_path)
    assert "relay1" in run.unreachable
    assert "relay1" not in run.results
    assert run.rc != 0
