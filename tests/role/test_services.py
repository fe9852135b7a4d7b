"""Stale services on real test hosts: after acme-tls is upgraded, acme-mta's daemon still runs the old library.

acme-mta's daemon maps acme-tls's library file and reports the version in the mapping. needrestart (in the fleet
image) finds it through acme-mta's init script; the role restarts it or only reports it, per the host's policy.
The hosts here never reboot (acme-tls asks for a reboot, which would restart everything anyway).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from patchorch.domain.fleet import StaleServices
from patchorch.domain.outcomes import RoleResult
from patchorch.domain.plan import HostSettings, RolloutPlan
from patchorch.rendering import render_run
from patchorch.testing.fleet import TestFleet
from tests.role.ansible_run import run_batch
from tests.role.plans import ACME_TLS_NEW, FAST_CHECKS, one_batch_plan

pytestmark = [pytest.mark.fleet, pytest.mark.usefixtures("fresh_hosts")]

# On the host: restart acme-mta and wait (at most 5 s, like its postinst) until it listens again.
RESTART_AND_WAIT = (
    "/usr/local/sbin/fleet-service restart acme-mta; read -r port < /etc/fleet/health_port; "
    "for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && exit 0; sleep 0.1; done; exit 1"
)


def _tls_loaded(fleet: TestFleet, host: str) -> str | None:
    answer = fleet.health(host)
    assert answer is not None
    return answer.body["tls"]


def _upgrade_tls(fleet: TestFleet, host: str, tmp_path: Path, policy: StaleServices | None) -> RoleResult:
    """Upgrade acme-tls on `host` (never rebooting) with the role, the daemon freshly started on 1.0-1 before."""
    fleet.exec(host, "bash", "-c", RESTART_AND_WAIT)
    assert _tls_loaded(fleet, host) == "1.0-1"
    inventory = yaml.safe_load(fleet.inventory_path.read_text())
    for group in inventory["all"]["children"].values():
        if host in (group.get("hosts") or {}):
            group["hosts"][host]["patchorch_reboot"] = "never"
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "role-vars.yml").write_text(FAST_CHECKS)
    plan: RolloutPlan = one_batch_plan((host,), (ACME_TLS_NEW,))
    if policy is not None:
        plan = plan.model_copy(update={"host_settings": (HostSettings(host=host, stale_services=policy),)})
    rendered = render_run(
        plan, tmp_path / "run", inventory_sources=[tmp_path / "hosts.yml"], extra_vars_from=tmp_path / "role-vars.yml"
    )
    return run_batch(rendered, "canary", [host], tmp_path / "runner").result(host)


def test_stale_service_is_detected_and_restarted(test_fleet: TestFleet, tmp_path: Path) -> None:
    """With stale_services: restart, needrestart finds acme-mta and the role restarts it onto acme-tls 1.0-2."""
    result = _upgrade_tls(test_fleet, "imap1", tmp_path, StaleServices.RESTART)
    assert (result.failed_step, result.rebooted, result.reboot_required) == (None, False, True)
    assert result.services is not None
    assert (result.services.tool, result.services.stale, result.services.restarted) == (
        "needrestart",
        ("acme-mta",),
        ("acme-mta",),
    )
    assert _tls_loaded(test_fleet, "imap1") == "1.0-2"


def test_stale_service_is_only_reported_by_default(test_fleet: TestFleet, tmp_path: Path) -> None:
    """Without a policy the stale acme-mta is reported, not restarted: it still runs acme-tls 1.0-1."""
    result = _upgrade_tls(test_fleet, "relay1", tmp_path, None)
    assert result.failed_step is None
    assert result.services is not None
    assert (result.services.stale, result.services.restarted) == (("acme-mta",), ())
    assert _tls_loaded(test_fleet, "relay1") == "1.0-1"
