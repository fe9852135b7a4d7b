"""Gates: each verdict, and how they compose."""

from __future__ import annotations

from datetime import timedelta

from patchorch.domain.gates import (
    ApprovalGiven,
    CanaryClean,
    FailureBudget,
    GateContext,
    ResultsComplete,
    SoakElapsed,
    Verdict,
    after_batch,
    before_stage,
)
from patchorch.domain.outcomes import HostStatus
from tests.plans import PLANNED_AT, make_plan


def _context(results, *, stage=0, budget=1, approval=None, soak_until=None):  # type: ignore[no-untyped-def]
    plan = make_plan([[["c1"]], [["a", "b"], ["c"]]], failure_budget=budget, approval=approval)
    return GateContext(plan=plan, stage=plan.stages[stage], results=results, now=PLANNED_AT, soak_until=soak_until)


def test_failure_budget_counts_unreachable_as_failed() -> None:
    """Two unreachable hosts exceed a budget of one."""
    context = _context({"a": HostStatus.UNREACHABLE, "c": HostStatus.UNREACHABLE}, stage=1)
    decision = FailureBudget().check(context)
    assert decision.verdict is Verdict.HALT
    assert "2 host(s) failed (a, c)" in decision.reason


def test_failure_budget_within_budget_proceeds() -> None:
    """One failure within a budget of one proceeds."""
    assert FailureBudget().check(_context({"a": HostStatus.FAILED}, stage=1)).proceeds


def test_stage_budget_halts_before_the_rollout_budget() -> None:
    """A stage whose own budget is 0 halts on its first failure even if the rollout tolerates more."""
    context = _context({"a": HostStatus.FAILED}, stage=1, budget=5)
    stage = context.stage.model_copy(update={"failure_budget": 0})
    decision = FailureBudget().check(
        GateContext(plan=context.plan, stage=stage, results=context.results, now=PLANNED_AT)
    )
    assert decision.verdict is Verdict.HALT
    assert "stage wave-1" in decision.reason


def test_canary_failure_halts_even_within_budget() -> None:
    """Any canary failure halts, whatever the failure budget."""
    decision = CanaryClean().check(_context({"c1": HostStatus.FAILED}, budget=10))
    assert decision.verdict is Verdict.HALT


def test_missing_result_pauses() -> None:
    """A dispatched host without an outcome pauses the run."""
    decision = ResultsComplete().check(_context({"a": None, "b": HostStatus.PATCHED}, stage=1))
    assert decision.verdict is Verdict.PAUSE
    assert "a" in decision.reason


def test_approval_required_awaits() -> None:
    """A stage needing approval waits for it, and proceeds once it is given."""
    context = _context({}, stage=1, approval={"wave-1"})
    assert ApprovalGiven().check(context).verdict is Verdict.AWAIT_APPROVAL
    approved = GateContext(plan=context.plan, stage=context.stage, results={}, now=PLANNED_AT,
                           approvals=frozenset({"wave-1"}))  # fmt: skip
    assert ApprovalGiven().check(approved).proceeds


def test_soak_waits_until_its_end() -> None:
    """Soak says wait, with the time it ends."""
    until = PLANNED_AT + timedelta(minutes=10)
    decision = SoakElapsed().check(_context({}, stage=1, soak_until=until))
    assert decision.verdict is Verdict.WAIT
    assert decision.until == until


def test_composed_gates_return_the_most_severe_verdict() -> None:
    """Halt beats pause beats proceed when gates are combined with &."""
    results = {"c1": HostStatus.FAILED, "x": None}
    context = _context(results | {"c1": HostStatus.FAILED}, stage=0)
    context = GateContext(plan=context.plan, stage=context.stage, results={"c1": HostStatus.FAILED, "a": None},
                          now=PLANNED_AT)  # fmt: skip
    assert after_batch().check(context).verdict is Verdict.HALT
    combined = ResultsComplete() & FailureBudget()
    paused = _context({"a": None}, stage=1)
    assert combined.check(paused).verdict is Verdict.PAUSE
    assert before_stage().check(_context({}, stage=1)).proceeds


def test_before_stage_leaves_the_window_to_dispatch_when_hosts_carry_their_windows() -> None:
    """With per-host windows the stage-wide window gate is not part of the gates before a stage."""
    from patchorch.domain.gates import StartNotBefore, before_stage

    assert any(isinstance(g, StartNotBefore) for g in before_stage().gates)  # type: ignore[attr-defined]
    assert not any(isinstance(g, StartNotBefore) for g in before_stage(per_host_windows=True).gates)  # type: ignore[attr-defined]
