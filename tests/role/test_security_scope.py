"""The default scope on real apt hosts: security updates only, from the fleet repository's security suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchorch.domain.plan import UpdateScope, UpdateSpec
from patchorch.testing.fleet import TestFleet
from tests.role.ansible_run import run_batch
from tests.role.plans import one_batch_plan, render_for

pytestmark = [pytest.mark.fleet, pytest.mark.usefixtures("fresh_hosts")]


def _installed(fleet: TestFleet, host: str) -> dict[str, str]:
    names = ("acme-mta", "acme-tls", "acme-broken")
    output = fleet.exec(host, "dpkg-query", "-W", "-f", "${Package}=${Version}\\n", *names).stdout
    return dict(line.split("=", 1) for line in output.split())


def test_security_scope_installs_the_security_fixes_and_leaves_the_rest(test_fleet: TestFleet, tmp_path: Path) -> None:
    """acme-mta and acme-tls 1.0-2 (security suite) are installed; acme-broken 1.0-2 (main suite) is not."""
    plan = one_batch_plan(("imap2",)).model_copy(update={"update": UpdateSpec(scope=UpdateScope.SECURITY)})
    result = run_batch(render_for(test_fleet, plan, tmp_path), "canary", ["imap2"], tmp_path).result("imap2")
    assert result.failed_step is None
    assert _installed(test_fleet, "imap2") == {"acme-mta": "1.0-2", "acme-tls": "1.0-2", "acme-broken": "1.0-1"}
    assert result.versions_after == {"acme-mta": "1.0-2", "acme-tls": "1.0-2"}
    assert result.rebooted


def test_security_scope_in_check_mode_names_only_the_security_fixes(test_fleet: TestFleet, tmp_path: Path) -> None:
    """A dry run of the security scope changes nothing and targets exactly the security suite's upgrades."""
    plan = one_batch_plan(("webmail1",)).model_copy(update={"update": UpdateSpec(scope=UpdateScope.SECURITY)})
    run = run_batch(render_for(test_fleet, plan, tmp_path), "canary", ["webmail1"], tmp_path, check=True)
    result = run.result("webmail1")
    assert (result.check_mode, result.changed, result.failed_step) == (True, True, None)
    assert result.versions_before == result.versions_after == {"acme-mta": "1.0-1", "acme-tls": "1.0-1"}
    assert _installed(test_fleet, "webmail1") == {"acme-mta": "1.0-1", "acme-tls": "1.0-1", "acme-broken": "1.0-1"}
