"""The example plan of the golden files: a canary and two waves over the test fleet's host names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

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

PLANNED_AT = datetime(2026, 1, 6, 9, 0, tzinfo=UTC)


def example_plan(
    *,
    advisory: str = "DSA-5999-1 acme-mta: remote code execution in the SMTP parser",
    reason: str = "mail-edge hosts after the canary",
    packages: tuple[PackageSpec, ...] = (PackageSpec(name="acme-mta", version="1.0-2"),),
) -> RolloutPlan:
    """Canary webmail1; wave-1 mx1 then mx2 (cluster budget 1); wave-2 imap1 and relay1 together."""
    stages = (
        Stage(
            name="canary",
            kind=StageKind.CANARY,
            index=1,
            batches=(Batch(index=1, hosts=("webmail1",)),),
            concurrency=1,
            soak=timedelta(minutes=30),
            reason="the canary proves the update first",
        ),
        Stage(
            name="wave-1",
            kind=StageKind.WAVE,
            index=2,
            risk_class="mail-edge",
            batches=(Batch(index=1, hosts=("mx1",)), Batch(index=2, hosts=("mx2",))),
            concurrency=1,
            reason=reason,
        ),
        Stage(
            name="wave-2",
            kind=StageKind.WAVE,
            index=3,
            risk_class="standard",
            batches=(Batch(index=1, hosts=("imap1", "relay1")),),
            concurrency=2,
        ),
    )
    hosts = tuple(
        PlannedHost(name=h, stage=s.name, batch=b.index, risk_class=s.risk_class or "canary", reason=reason)
        for s in stages
        for b in s.batches
        for h in b.hosts
    )
    return RolloutPlan(
        mode=Mode.REGULAR,
        planned_at=PLANNED_AT,
        failure_budget=1,
        update=UpdateSpec(scope=UpdateScope.PACKAGES, packages=packages, advisory=advisory),
        stages=stages,
        hosts=hosts,
    )


def host_vars_of(groups: Any) -> dict[str, dict[str, Any]]:
    """Every host's variables in the generated groups inventory, wherever its batch group sits."""
    found: dict[str, dict[str, Any]] = {}

    def walk(group: dict[str, Any]) -> None:
        for name, data in (group.get("hosts") or {}).items():
            found[name] = dict(data or {})
        for child in (group.get("children") or {}).values():
            walk(child or {})

    walk(groups["all"])
    return found
