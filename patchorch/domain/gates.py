"""Gates decide, between batches and before stages, whether a rollout may go on.

Gates are values that compose: `ResultsComplete() & CanaryClean() & FailureBudget()` evaluates each and returns the
most severe verdict (halt > pause > await approval > wait > proceed). Thresholds come from the plan (and through it
from the policy), never from constants here.

    >>> after_batch = ResultsComplete() & CanaryClean() & FailureBudget()
    >>> decision = after_batch.check(context)          # doctest: +SKIP
    >>> decision.verdict is Verdict.PROCEED            # doctest: +SKIP
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from patchorch.domain.outcomes import HostStatus
from patchorch.domain.plan import RolloutPlan, Stage, StageKind


class Verdict(StrEnum):
    """What a gate says; listed from least to most severe."""

    PROCEED = "proceed"
    WAIT = "wait"  # not yet: a soak time has not passed (`GateDecision.until` says when)
    AWAIT_APPROVAL = "await-approval"
    PAUSE = "pause"  # inconclusive: results are missing; never proceeds on missing evidence
    HALT = "halt"

    @property
    def severity(self) -> int:
        """Position in the order above: the combined verdict of several gates is the most severe."""
        return list(Verdict).index(self)


@dataclass(frozen=True)
class GateDecision:
    """A gate's verdict, the gate's name and the reason in words."""

    verdict: Verdict
    gate: str
    reason: str = ""
    until: datetime | None = None

    @property
    def proceeds(self) -> bool:
        """True when the rollout may go on now."""
        return self.verdict is Verdict.PROCEED


@dataclass(frozen=True)
class GateContext:
    """What gates look at: the plan, the stage in question and the latest status of every dispatched host.

    `results` maps each dispatched host to its latest status, or None when it was dispatched and no evidence of an
    outcome exists (a crash, lost events).
    """

    plan: RolloutPlan
    stage: Stage
    results: Mapping[str, HostStatus | None]
    now: datetime
    approvals: frozenset[str] = frozenset()
    soak_until: datetime | None = None
    failure_budget: int | None = None  # overrides plan.failure_budget when set

    @property
    def failed_hosts(self) -> tuple[str, ...]:
        """Hosts, anywhere in the run, whose latest status spends the failure budget."""
        return tuple(sorted(h for h, s in self.results.items() if s is not None and s.counts_as_failure))


class Gate(ABC):
    """A check that returns a GateDecision; combine gates with `&`."""

    name = "gate"

    @abstractmethod
    def check(self, context: GateContext) -> GateDecision:
        """Decide for this context."""

    def __and__(self, other: Gate) -> Gate:
        return AllOf((*_parts(self), *_parts(other)))

    def _proceed(self) -> GateDecision:
        return GateDecision(Verdict.PROCEED, self.name)


def _parts(gate: Gate) -> tuple[Gate, ...]:
    return gate.gates if isinstance(gate, AllOf) else (gate,)


@dataclass(frozen=True)
class AllOf(Gate):
    """Every gate is checked; the most severe verdict wins (the first one on ties)."""

    gates: tuple[Gate, ...] = field(default=())
    name = "all"

    def check(self, context: GateContext) -> GateDecision:
        """The most severe decision of the parts."""
        decisions = [gate.check(context) for gate in self.gates]
        worst = GateDecision(Verdict.PROCEED, self.name)
        for decision in decisions:
            if decision.verdict.severity > worst.verdict.severity:
                worst = decision
        return worst


class FailureBudget(Gate):
    """Halts when more hosts have failed than a budget tolerates: the rollout's, counted across every stage and batch
    so far, or the stage's own (its risk class's budget over its hosts)."""

    name = "failure-budget"

    def check(self, context: GateContext) -> GateDecision:
        """Unreachable hosts count as failed."""
        budget = context.plan.failure_budget if context.failure_budget is None else context.failure_budget
        failed = context.failed_hosts
        if len(failed) > budget:
            return GateDecision(
                Verdict.HALT,
                self.name,
                f"{len(failed)} host(s) failed ({', '.join(failed)}), more than the failure budget of {budget}",
            )
        stage_budget = context.stage.failure_budget
        if stage_budget is not None:
            members = set(context.stage.hosts)
            in_stage = [h for h in failed if h in members]
            if len(in_stage) > stage_budget:
                return GateDecision(
                    Verdict.HALT,
                    self.name,
                    f"{len(in_stage)} host(s) of stage {context.stage.name} failed ({', '.join(in_stage)}), "
                    f"more than its failure budget of {stage_budget}",
                )
        return self._proceed()


class CanaryClean(Gate):
    """Halts everything when any canary host failed."""

    name = "canary"

    def check(self, context: GateContext) -> GateDecision:
        """Only canary stages are judged; any failure there halts the rollout before any wave."""
        if context.stage.kind is not StageKind.CANARY:
            return self._proceed()
        failed = [h for h in context.stage.hosts if (s := context.results.get(h)) is not None and s.counts_as_failure]
        if failed:
            return GateDecision(Verdict.HALT, self.name, f"canary failed on {', '.join(sorted(failed))}")
        return self._proceed()


class ResultsComplete(Gate):
    """Pauses when a dispatched host of the stage has no recorded outcome: missing evidence never proceeds."""

    name = "results"

    def check(self, context: GateContext) -> GateDecision:
        """Every dispatched host of the stage must have a status other than unknown."""
        missing = sorted(
            h for h in context.stage.hosts if h in context.results and context.results[h] in (None, HostStatus.UNKNOWN)
        )
        if missing:
            return GateDecision(Verdict.PAUSE, self.name, f"no outcome recorded for {', '.join(missing)}")
        return self._proceed()


class ApprovalGiven(Gate):
    """Awaits approval before a stage whose risk class requires one."""

    name = "approval"

    def check(self, context: GateContext) -> GateDecision:
        """Proceeds when the stage needs no approval or has one recorded."""
        if context.stage.approval_required and context.stage.name not in context.approvals:
            return GateDecision(Verdict.AWAIT_APPROVAL, self.name, f"stage {context.stage.name} requires approval")
        return self._proceed()


class SoakElapsed(Gate):
    """Waits until the soak time after the previous stage has passed."""

    name = "soak"

    def check(self, context: GateContext) -> GateDecision:
        """Proceeds once `now` has reached `soak_until`."""
        if context.soak_until is not None and context.now < context.soak_until:
            return GateDecision(
                Verdict.WAIT, self.name, f"soaking until {context.soak_until.isoformat()}", until=context.soak_until
            )
        return self._proceed()


class StartNotBefore(Gate):
    """Waits until the stage's earliest start (its hosts' maintenance window) in regular rollouts."""

    name = "window"

    def check(self, context: GateContext) -> GateDecision:
        """Proceeds once `now` has reached the stage's earliest start, if it has one."""
        start = context.stage.earliest_start
        if start is not None and context.now < start:
            return GateDecision(Verdict.WAIT, self.name, f"window opens {start.isoformat()}", until=start)
        return self._proceed()


def before_stage(*, per_host_windows: bool = False) -> Gate:
    """The gates checked before a stage starts. With `per_host_windows` (the plan carries each host's windows, so
    dispatch starts every host inside its own) the stage-wide window gate is left out: the dispatcher decides."""
    gate = ApprovalGiven() & SoakElapsed()
    return gate if per_host_windows else gate & StartNotBefore()


def after_batch() -> Gate:
    """The gates checked after every batch (and so after every stage)."""
    return ResultsComplete() & CanaryClean() & FailureBudget()
