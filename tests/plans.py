"""Small hand-built plans for tests that must not depend on the planner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from patchorch.domain.plan import Batch, Mode, PlannedHost, RolloutPlan, Stage, StageKind
from patchorch.testing import FakeContent as FakeContent  # the public fake, where tests have long imported it

PLANNED_AT = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def make_plan(
    stages: list[list[list[str]]],
    *,
    failure_budget: int = 1,
    soak: timedelta = timedelta(0),
    approval: set[str] | None = None,
    canary: bool = True,
    retries: int = 2,
    backoff: int = 10,
    concurrency: int = 5,
) -> RolloutPlan:
    """A plan whose first stage is the canary (when `canary`) and the rest waves; stages -> batches -> hosts."""
    built = []
    planned = []
    for index, batches in enumerate(stages, start=1):
        kind = StageKind.CANARY if canary and index == 1 else StageKind.WAVE
        name = "canary" if kind is StageKind.CANARY else f"wave-{index - (1 if canary else 0)}"
        stage = Stage(
            name=name,
            kind=kind,
            index=index,
            risk_class=None if kind is StageKind.CANARY else "medium",
            batches=tuple(Batch(index=i, hosts=tuple(hosts)) for i, hosts in enumerate(batches, start=1)),
            concurrency=concurrency,
            soak=soak,
            approval_required=name in (approval or set()),
        )
        built.append(stage)
        for batch in stage.batches:
            planned.extend(
                PlannedHost(name=h, stage=name, batch=batch.index, risk_class="medium", reason=f"{h}: {name}")
                for h in batch.hosts
            )
    return RolloutPlan(
        mode=Mode.EMERGENCY,
        planned_at=PLANNED_AT,
        failure_budget=failure_budget,
        unreachable_retries=retries,
        retry_backoff_seconds=backoff,
        stages=tuple(built),
        hosts=tuple(planned),
    )
