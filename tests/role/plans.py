"""One-stage plans for the role's tests on the test fleet."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from patchorch.domain.plan import (
    Batch,
    Mode,
    PackageSpec,
    PlannedHost,
    RolloutPlan,
    Stage,
    StageKind,
    UpdateScope,
    UpdateSpec,
)
from patchorch.rendering import RenderedRun, render_run
from patchorch.testing.fleet import TestFleet

ACME_MTA_NEW = PackageSpec(name="acme-mta", version="1.0-2")
ACME_TLS_NEW = PackageSpec(name="acme-tls", at_least="1.0-2")
# Failed health checks are final at once in tests: no retries, no delays.
FAST_CHECKS = "patchorch_patch_check_retries: 0\npatchorch_patch_check_delay: 0\n"


def one_batch_plan(
    hosts: tuple[str, ...],
    packages: tuple[PackageSpec, ...] = (ACME_MTA_NEW,),
    *,
    advisory: str = "DSA-5999-1",
    reason: str = "test",
) -> RolloutPlan:
    """A plan of one canary stage with one batch of `hosts` installing `packages`."""
    stage = Stage(
        name="canary", kind=StageKind.CANARY, index=1, batches=(Batch(index=1, hosts=hosts),), concurrency=len(hosts)
    )
    return RolloutPlan(
        mode=Mode.REGULAR,
        planned_at=datetime(2026, 1, 6, 9, 0, tzinfo=UTC),
        failure_budget=0,
        update=UpdateSpec(scope=UpdateScope.PACKAGES, packages=packages, advisory=advisory),
        stages=(stage,),
        hosts=tuple(PlannedHost(name=h, stage="canary", batch=1, risk_class="standard", reason=reason) for h in hosts),
    )


def render_for(fleet: TestFleet, plan: RolloutPlan, directory: Path) -> RenderedRun:
    """Render `plan` against the fleet's inventory, with fast health-check settings."""
    directory.mkdir(parents=True, exist_ok=True)
    settings = directory / "role-vars.yml"
    settings.write_text(FAST_CHECKS)
    return render_run(plan, directory / "run", inventory_sources=[fleet.inventory_path], extra_vars_from=settings)
