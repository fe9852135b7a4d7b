"""The orchestrator: drives a recorded run stage by stage, batch by batch, through the gates.

Invariants it keeps:
- intent before dispatch: a host's attempt is recorded before Ansible starts on it, its outcome only after, and
  only with evidence (runner events, or a check-mode reconciliation run);
- a halted, paused or approval-waiting run dispatches nothing until an operator resumes, approves or aborts it;
- resume first makes sure no ansible-playbook of the run is still alive (one that outlived its orchestrator is waited
  for while it makes progress, then stopped), reconciles every host whose outcome is unknown with a read-only play,
  and never dispatches the update again to a host that has it;
- inside a stage there is no batch barrier: `domain.dispatch.StageDispatcher` says which hosts may start (slots,
  cluster room, windows, failure budget) and hosts that may start together share one ansible-playbook;
- the host next in line of each busy cluster, and the hosts the next stage starts with once every host of a stage
  has started (emergency, nothing to wait for between), are started ahead of their turn: their playbook does the
  read-only steps (facts, prechecks, versions) and waits at the role's gate; they count as started, and their intent
  is recorded, only when the dispatcher lets them all start and the gate releases them;
- unreachable hosts (only those) are retried with doubling back-off, each attempt recorded.
"""

from __future__ import annotations

import itertools
import queue
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from structlog.contextvars import bound_contextvars

from patchorch.clock import Clock, SystemClock
from patchorch.domain.dispatch import DispatchLimits, StageDispatcher, dispatch_host, limits_for
from patchorch.domain.gates import GateContext, GateDecision, Verdict, after_batch, before_stage
from patchorch.domain.outcomes import BatchOutcome, HostOutcome, HostStatus
from patchorch.domain.plan import Mode, RolloutPlan, Stage
from patchorch.domain.run import (
    CLAIM_LEASE,
    RUN_LOCK_LEASE,
    ApprovalRecord,
    AttemptRecord,
    AuditRecord,
    RunInputs,
    RunState,
    StageRecord,
    StageState,
)
from patchorch.errors import HostClaimedError, RunStateError
from patchorch.execution.base import BatchInterrupted, BatchRequest, Executor, HostEvent
from patchorch.orchestrator.claims import HostClaims
from patchorch.orchestrator.locks import RunLock
from patchorch.orchestrator.observers import Observer
from patchorch.orchestrator.processes import SurvivorWatch, run_processes, terminate
from patchorch.store.runs import RunStore

EVIDENCE_EVENTS = "ansible-runner events"
EVIDENCE_RECONCILED = "check-mode reconciliation"
# The prepare phase's name in executor requests and events, and its widest fan-out.
PREPARE_STAGE = "prepare"
PREPARE_FORKS = 50
# How often the orchestrator's thread wakes while playbooks run, so that Ctrl-C reaches it promptly.
_POLL_SECONDS = 0.2
# How long a stage that ends waits for a playbook it told to stop (runner polls its cancel check every second).
_STOP_GRACE_SECONDS = 60.0
# How often a host another run holds is tried again while the run waits for its claim (--wait-for-claims).
_CLAIM_POLL = timedelta(seconds=30)
# At most this many hosts of a stage wait at the role's gate at once (never more than the stage's concurrency).
_AHEAD = 4


class StageContent(Protocol):
    """The rendered Ansible content of a run (rendering.RenderedRun satisfies this)."""

    def stage_playbook(self, stage: str) -> Path:
        """The playbook of one stage."""
        ...

    @property
    def prepare_playbook(self) -> Path:
        """The playbook of the prepare phase (prechecks, index refresh, download only)."""
        ...

    @property
    def inventory_sources(self) -> tuple[Path, ...]:
        """Every inventory source ansible-playbook must combine."""
        ...

    @property
    def ansible_cfg(self) -> Path | None:
        """The ansible.cfg of the run directory."""
        ...

    @property
    def fact_cache(self) -> Path | None:
        """Where the run's playbooks share what they learned about each host (None: nowhere)."""
        ...


@dataclass(frozen=True)
class RolloutReport:
    """Where a run stands after the orchestrator stopped driving it, and every target host's latest status."""

    run_id: str
    state: RunState
    reason: str
    plan: RolloutPlan
    hosts: Mapping[str, HostStatus | None] = field(default_factory=dict)

    @property
    def failed_hosts(self) -> tuple[str, ...]:
        """Target hosts whose latest attempt failed or was unreachable."""
        return tuple(h for h, s in self.hosts.items() if s is not None and s.counts_as_failure)

    @property
    def patched_hosts(self) -> tuple[str, ...]:
        """Target hosts patched or already up to date."""
        return tuple(h for h, s in self.hosts.items() if s is not None and s.is_success)

    @property
    def succeeded(self) -> bool:
        """The run completed and every target host is patched or up to date."""
        return self.state is RunState.COMPLETED and len(self.patched_hosts) == len(self.plan.targets)


def new_run_id(now: datetime) -> str:
    """A sortable, readable run id: UTC time plus four random hex digits."""
    return f"{now.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


class _Stopped(Exception):  # internal control flow, never leaves this module
    """The run stops here (halt, pause, approval, cancel); the state is already recorded."""


class Orchestrator:
    """Drives runs recorded in `store` with `executor`; `observers` watch every event.

    Soak times and maintenance windows are waited for on `clock`; a wait longer than `max_wait` (None: no limit)
    instead leaves the run `waiting`, to be resumed once the time has come. A host another run claims, and the run's
    lock held by another process, are waited for up to `claim_wait` (None: not at all; the run pauses, or the
    command is refused, naming the holder).

    >>> orchestrator = Orchestrator(store, AnsibleRunnerExecutor())  # doctest: +SKIP
    >>> report = orchestrator.start(plan, render_run(plan, run_dir, inventory_sources=[inv]))  # doctest: +SKIP
    """

    def __init__(
        self,
        store: RunStore,
        executor: Executor,
        *,
        clock: Clock | None = None,
        observers: Iterable[Observer] = (),
        survivors: SurvivorWatch | None = None,
        max_wait: timedelta | None = None,
        claim_lease: timedelta = CLAIM_LEASE,
        claim_wait: timedelta | None = None,
        run_lock_lease: timedelta = RUN_LOCK_LEASE,
    ) -> None:
        self.store = store
        self.executor = executor
        self.clock: Clock = clock or SystemClock()
        self.observers = tuple(observers)
        self._survivors = survivors or SurvivorWatch()
        self._max_wait = max_wait
        self._cancel = threading.Event()
        self._claims = HostClaims(store, lease=claim_lease)
        self._lock = RunLock(store, self.clock, lease=run_lock_lease, holder=self._claims.holder)
        self._claim_wait = claim_wait

    # -- operator actions ---------------------------------------------------------------------------------------

    def start(
        self, plan: RolloutPlan, content: StageContent, inputs: RunInputs, *, run_id: str | None = None
    ) -> RolloutReport:
        """Record a new run of `plan` and drive it as far as the gates allow."""
        run_id = run_id or new_run_id(self.clock.now())
        self._cancel.clear()  # a cancel stops the run it was asked of, not the next one
        with self._lock.held(run_id, wait=self._claim_wait), bound_contextvars(run=run_id):
            self.store.create_run(run_id, plan, inputs)
            if plan.mode is Mode.EMERGENCY:
                windowed = sorted(h.name for h in plan.hosts if h.windows) or None
                self.store.note(
                    run_id,
                    "windows-ignored",
                    {"reason": "emergency rollout: maintenance windows are ignored"}
                    | ({"hosts": windowed} if windowed else {}),
                )
            return self._drive(_Run(run_id, plan, inputs, content))

    def resume(self, run_id: str, content: StageContent, *, retry_failed: bool = False) -> RolloutReport:
        """Continue a run that halted, paused, awaited approval or was interrupted (even by kill -9).

        Failures recorded before the resume are acknowledged: they no longer spend the failure budget, and the
        hosts are not dispatched again unless `retry_failed`.
        """
        self._cancel.clear()  # a cancel stops the run it was asked of, not the next one
        with self._lock.held(run_id, wait=self._claim_wait), bound_contextvars(run=run_id):
            record = self.store.run(run_id)
            if record.state.is_final:
                raise RunStateError(f"run {run_id} is {record.state.value}; it cannot be resumed", run=run_id)
            self._guard_processes(run_id)
            # The plan, inputs and attempts are read once here; the drive keeps them true by writing through them.
            run = _Run(run_id, self.store.plan(run_id), record.inputs, content, retry_failed=retry_failed)
            run.absorb(self.store.attempts(run_id))
            failed = sorted(run.failed())
            if failed and not retry_failed:
                self.store.acknowledge_failures(run_id, failed)
                run.absorb(self.store.attempts(run_id))
            self._reconcile(run)
            return self._drive(run)

    def locked(self, run_id: str) -> AbstractContextManager[None]:
        """Hold the run's lock for a block (waiting up to `claim_wait`), so that work done before `resume` (rendering
        the run's directory) is refused with RunLockedError like the resume itself; `resume` inside keeps it."""
        return self._lock.held(run_id, wait=self._claim_wait)

    def approve(self, run_id: str, approver: str, *, stage: str | None = None, comment: str = "") -> ApprovalRecord:
        """Approve `stage`, or the stage the run is waiting for; the run continues on `resume`."""
        run = self.store.run(run_id)
        if run.state.is_final:
            raise RunStateError(f"run {run_id} is {run.state.value}; nothing to approve", run=run_id)
        plan = self.store.plan(run_id)
        approved = {a.stage for a in self.store.approvals(run_id)}
        if stage is None:
            done = {s.name for s in self.store.stages(run_id) if s.state is StageState.COMPLETED}
            waiting = [s for s in plan.stages if s.approval_required and s.name not in approved | done]
            if not waiting:
                raise RunStateError(f"run {run_id} has no stage waiting for approval", run=run_id)
            stage = waiting[0].name
        try:
            target = plan.stage(stage)
        except KeyError:
            names = ", ".join(s.name for s in plan.stages)
            raise RunStateError(f"run {run_id} has no stage {stage!r} (stages: {names})", run=run_id) from None
        if not target.approval_required:
            raise RunStateError(f"stage {stage} of run {run_id} does not require approval", run=run_id, stage=stage)
        return self.store.approve(run_id, stage, approver, comment)

    def abort(self, run_id: str, reason: str) -> None:
        """End a run for good: nothing more is dispatched; pending stages are marked cancelled."""
        with self._lock.held(run_id, wait=self._claim_wait):
            run = self.store.run(run_id)
            if run.state.is_final:
                raise RunStateError(f"run {run_id} is already {run.state.value}", run=run_id)
            for record in self.store.stages(run_id):
                if record.state in (StageState.PENDING, StageState.RUNNING, StageState.HALTED):
                    self.store.set_stage_state(run_id, record.name, StageState.CANCELLED, reason=reason)
            self._set_state(run_id, RunState.ABORTED, reason)

    def add_observer(self, observer: Observer) -> None:
        """Let `observer` watch every event from now on (for example a display built once the plan is known)."""
        self.observers = (*self.observers, observer)

    def cancel(self) -> None:
        """Ask the running batch to stop (thread-safe); the run ends interrupted, as with Ctrl-C."""
        self._cancel.set()

    def report(self, run_id: str) -> RolloutReport:
        """The run's state and every target host's latest status."""
        run = self.store.run(run_id)
        plan = self.store.plan(run_id)
        latest = _latest(self.store.attempts(run_id))
        hosts = {h: (latest[h].status if h in latest else None) for h in plan.targets}
        return RolloutReport(run_id, run.state, run.state_reason, plan, hosts)

    # -- driving ------------------------------------------------------------------------------------------------

    def _report(self, run: _Run) -> RolloutReport:
        """`report` from what the drive holds: only the run's state is read."""
        record = self.store.run(run.id)
        latest = run.latest()
        hosts = {h: (latest[h].status if h in latest else None) for h in run.plan.targets}
        return RolloutReport(run.id, record.state, record.state_reason, run.plan, hosts)

    def _drive(self, run: _Run) -> RolloutReport:
        run_id, plan, inputs = run.id, run.plan, run.inputs
        self._set_state(run_id, RunState.RUNNING, "")
        run.expected = self._measured_durations(plan)
        records = {r.name: r for r in self.store.stages(run_id)}
        previous: StageRecord | None = None
        try:
            self._prepare(run)
            for stage in plan.stages:
                record = records[stage.name]
                if record.state in (StageState.COMPLETED, StageState.SOAKING):
                    previous = record
                    continue
                self._wait_before(run, stage, previous)
                if previous is not None and previous.state is StageState.SOAKING:
                    self.store.set_stage_state(run_id, previous.name, StageState.COMPLETED)
                if record.state is not StageState.RUNNING:
                    self.store.set_stage_state(run_id, stage.name, StageState.RUNNING)
                self._notify(lambda o, s=stage: o.stage_started(run_id, s))
                with self._claims.kept(run_id):  # the heartbeat renews this run's claims while its hosts run
                    self._run_stage(run, stage)
                previous = self._finish_stage(run, stage)
        except _Stopped:
            return self._report(run)
        finally:
            # However the drive ends, no playbook started ahead of its turn outlives it: each one still waiting at
            # the gate ends its host there, untouched, and is waited for.
            waiting = [e.thread for e in _batches(run.ahead.values())]
            _stop_ahead(run)
            for thread in waiting:
                thread.join(timeout=_STOP_GRACE_SECONDS)
        if previous is not None and previous.state is StageState.SOAKING:
            self.store.set_stage_state(run_id, previous.name, StageState.COMPLETED)
        report = self._report(run)
        failed = report.failed_hosts
        if inputs.drill:
            summary = f"drill: {len(report.patched_hosts)} of {len(plan.targets)} host(s) rehearsed in check mode"
            blocked = sorted(run.blocked | set(failed))
            if blocked:
                summary += f"; blockers: {', '.join(blocked)}"
        else:
            summary = f"{len(report.patched_hosts)} of {len(plan.targets)} host(s) patched or up to date"
            if failed:
                summary += f"; failed within the budget: {', '.join(failed)}"
        self._set_state(run_id, RunState.COMPLETED, summary)
        return self._report(run)

    def _wait_before(self, run: _Run, stage: Stage, previous: StageRecord | None) -> None:
        run_id, plan, inputs = run.id, run.plan, run.inputs
        soak_until = previous.soak_until if previous is not None and previous.state is StageState.SOAKING else None
        while True:
            approvals = frozenset(a.stage for a in self.store.approvals(run_id))
            if inputs.drill and inputs.skip_approvals and stage.approval_required and stage.name not in approvals:
                # A drill without approvers: the approval is recorded as skipped, never as given.
                self.store.note(run_id, "approval-skipped", {"stage": stage.name, "reason": "drill --no-approvals"})
                approvals |= {stage.name}
            context = GateContext(
                plan=plan,
                stage=stage,
                results={},
                now=self.clock.now(),
                approvals=approvals,
                soak_until=soak_until,
            )
            decision = before_stage(per_host_windows=_per_host_windows(plan, stage)).check(context)
            if decision.verdict is Verdict.PROCEED:
                return
            self._notify(lambda o, d=decision: o.gate(run_id, stage, d))
            if decision.verdict is Verdict.WAIT and decision.until is not None:
                if self._max_wait is not None and decision.until - context.now > self._max_wait:
                    # Nobody keeps a shell open for a window days away: record when to come back, and stop.
                    reason = f"{decision.reason}; resume at or after {decision.until.isoformat()}"
                    self._set_state(run_id, RunState.WAITING, reason)
                    raise _Stopped
                self._wait_until(run, decision.until, decision.reason)
                continue
            self._set_state(run_id, RunState.AWAITING_APPROVAL, decision.reason)
            raise _Stopped

    def _wait_until(self, run: _Run, until: datetime, reason: str) -> None:
        run_id = run.id
        self._notify(lambda o: o.waiting(run_id, until, reason))
        remaining = (until - self.clock.now()).total_seconds()
        if run.inputs.drill and remaining > 0:
            # A drill runs on a DrillClock, which skips the wait: the record says what was shortened.
            self.store.note(
                run_id, "wait-shortened", {"until": until.isoformat(), "seconds": remaining, "reason": reason}
            )
        if remaining > 0:
            self.clock.sleep(remaining)

    def _finish_stage(self, run: _Run, stage: Stage) -> StageRecord:
        run_id, plan = run.id, run.plan
        last = stage.index == len(plan.stages)
        if stage.soak > timedelta(0) and not last:
            until = self.clock.now() + stage.soak
            self.store.set_stage_state(run_id, stage.name, StageState.SOAKING, soak_until=until)
            state = StageState.SOAKING
        else:
            self.store.set_stage_state(run_id, stage.name, StageState.COMPLETED)
            state = StageState.COMPLETED
        self._notify(lambda o: o.stage_finished(run_id, stage, state))
        return next(r for r in self.store.stages(run_id) if r.name == stage.name)

    def _run_stage(self, run: _Run, stage: Stage) -> None:
        """Dispatch the stage's hosts through a `StageDispatcher`: no batch barrier, gates checked at every completion.

        Hosts that become startable together share one ansible-playbook (the stage playbook with --limit); several
        playbooks run at once in threads, so a slow host never holds back a free slot.
        """
        run_id = run.id
        todo, dispatcher = _stage_dispatcher(run, stage)
        attempts = run.attempts
        ahead = run.ahead
        tries = Counter(a.host for a in attempts if a.stage == stage.name)
        group = 1 + max(
            [a.batch for a in attempts if a.stage == stage.name]
            + [e.batch for e in ahead.values() if e.stage == stage.name],
            default=0,
        )
        retries: Counter[str] = Counter()
        running: dict[int, tuple[tuple[str, ...], int]] = {}  # playbooks by token: their hosts and attempt number
        done = run.done
        stop: GateDecision | None = None
        interrupted: str | None = None
        stopping = threading.Event()  # stops this stage's other playbooks after one was interrupted
        threads: list[threading.Thread] = []
        claim_waits: dict[str, datetime] = {}  # until when each host another run holds is waited for
        cold: set[str] = set()  # hosts never to start ahead again in this stage (their early playbook ended itself)

        def cancelled() -> bool:
            return self._cancel.is_set() or stopping.is_set()

        try:
            if not todo:
                self._gate_after(run, stage)
                return
            while True:
                now = self.clock.now()
                if stop is None and interrupted is None and not self._cancel.is_set():
                    ready = dispatcher.startable(now)
                    if ready:
                        # Hosts waiting at the gate go on in the playbook they are in, when all of its hosts may
                        # start; any other (its playbook ended on its own, or only part of it may start) is told to
                        # stop there and its hosts that may start start afresh below, with the rest.
                        released: set[str] = set()
                        for early in _batches(ahead[h] for h in ready if h in ahead):
                            _drop(run, early)
                            if early.release.ended or not set(early.hosts) <= set(ready):
                                early.release.answer(go=False)
                                continue
                            self._release(run, stage, early)
                            tries.update(dict.fromkeys(early.hosts, early.attempt))
                            running[early.token] = (early.hosts, early.attempt)
                            released.update(early.hosts)
                        ready = tuple(h for h in ready if h not in released)
                        # One playbook per attempt number: a retried host never drags a first try into its attempt.
                        for attempt in sorted({tries[h] + 1 for h in ready}):
                            hosts = tuple(h for h in ready if tries[h] + 1 == attempt)
                            try:
                                token, thread = self._launch(run, stage, (group, attempt), hosts, cancelled)
                            except HostClaimedError as exc:
                                if self._wait_for_claim(run_id, stage, exc, hosts, dispatcher, claim_waits, now):
                                    continue
                                # Another run holds one of these hosts: start nothing more, let the running finish.
                                stop = GateDecision(Verdict.PAUSE, "host-claimed", str(exc))
                                break
                            threads.append(thread)
                            for host in hosts:
                                tries[host] = attempt
                            running[token] = (hosts, attempt)
                            group += 1
                        continue
                    if running:
                        group = self._start_ahead(run, stage, dispatcher.next_up(now), group, cold, cancelled)
                        threads.extend(
                            e.thread
                            for e in _batches(ahead.values())
                            if e.stage == stage.name and e.thread not in threads
                        )
                        if not dispatcher.pending:
                            self._start_next_stage_ahead(run, stage)
                if running:
                    finished = self._next_finished(done, until=None if stop else dispatcher.next_event(now))
                    if finished is None:
                        continue  # a window opened or a retry fell due while hosts ran: start what may start
                    if finished.token not in running:
                        # A playbook started ahead of its turn ended before it was released: its host was left
                        # untouched (stopped at the gate) or a read-only step failed; it starts afresh in its turn.
                        for early in _batches(e for e in ahead.values() if e.token == finished.token):
                            _drop(run, early)
                            cold.update(early.hosts)
                        continue
                    hosts, attempt = running.pop(finished.token)
                    if finished.interrupted is not None:
                        self._record(run, stage, attempt, finished.interrupted.outcomes)
                        interrupted = "interrupted by the operator (Ctrl-C)"
                        stopping.set()
                        continue
                    if finished.error is not None:
                        stopping.set()  # the stage's other playbooks stop; resume reconciles what they left open
                        raise finished.error
                    outcome = finished.outcome
                    if outcome is None:  # pragma: no cover  # a worker always reports one of the three
                        raise RunStateError(f"lost the result of {hosts}", run=run_id, stage=stage.name)
                    self._record(run, stage, attempt, outcome.outcomes)
                    self._notify(lambda o, out=outcome: o.batch_finished(run_id, stage, out))
                    if outcome.cancelled and interrupted is None:
                        interrupted = "cancelled"
                    self._settle(run, stage, dispatcher, outcome, retries)
                    if stop is None and interrupted is None:
                        unsettled = dispatcher.in_flight | set(dispatcher.pending)
                        stop = self._gate_after(run, stage, unsettled=unsettled, stop_now=False)
                    continue
                if interrupted is not None:
                    self._interrupted(run_id, stage, interrupted)
                    if interrupted == "cancelled":
                        raise _Stopped
                    raise KeyboardInterrupt
                if stop is not None:
                    self._stop_on(run_id, stage, stop)
                if self._cancel.is_set():
                    self._interrupted(run_id, stage, "cancelled")
                    raise _Stopped
                if dispatcher.done:
                    return
                self._wait_for_windows(run, stage, dispatcher, now)
        except KeyboardInterrupt:
            stopping.set()
            if running:
                # Ctrl-C while playbooks run: stop them, record what their events proved, then stop the run.
                _stop_ahead(run)
                while running:
                    finished = self._next_finished(done, interruptible=False)
                    if finished is None or finished.token not in running:  # or one that was never released
                        continue
                    hosts, attempt = running.pop(finished.token)
                    got = finished.outcome.outcomes if finished.outcome is not None else ()
                    if finished.interrupted is not None:
                        got = finished.interrupted.outcomes
                    self._record(run, stage, attempt, got)
                self._interrupted(run_id, stage, "interrupted by the operator (Ctrl-C)")
            self._stop_survivors(run_id)
            raise
        finally:
            # However the stage ends, none of its playbooks outlives it: a playbook thread still running (an
            # interrupt that landed between its start and its bookkeeping) is told to stop, which kills its
            # ansible-playbook's process group, and waited for. One of the stage still waiting at the gate is told to
            # stop there (one of the next stage, started ahead, stays for it; `_drive` stops it if the run ends).
            _stop_ahead(run, stage.name)
            if any(thread.is_alive() for thread in threads):
                stopping.set()
                for thread in threads:
                    thread.join(timeout=_STOP_GRACE_SECONDS)

    def _prepare(self, run: _Run) -> None:
        """The prepare phase: every target not yet prepared (nor patched) at once, outside the cluster budgets.

        Each host's prepared versions are recorded (audit event `prepared`). A host that fails to prepare halts the
        run before any host is disrupted, naming the host, its owner and what failed; `resume` prepares it again.
        """
        run_id, plan, content, inputs = run.id, run.plan, run.content, run.inputs
        latest = run.latest()
        history = self.store.audit_log(run_id)
        prepared = _prepared(history)
        todo = tuple(h for h in plan.targets if h not in prepared and not _succeeded(latest.get(h)))
        if not todo:
            return
        tries = sum(1 for r in history if r.event == "prepare-started")
        self.store.note(run_id, "prepare-started", {"hosts": list(todo)})
        self._notify(lambda o: o.waiting(run_id, self.clock.now(), f"preparing {len(todo)} host(s)"))
        request = BatchRequest(
            run_id=run_id,
            stage=PREPARE_STAGE,
            batch=1,
            attempt=tries + 1,
            hosts=todo,
            playbook=content.prepare_playbook,
            inventory=content.inventory_sources,
            ansible_cfg=content.ansible_cfg,
            fact_cache=content.fact_cache,
            check=inputs.check,
            forks=min(len(todo), PREPARE_FORKS),
            phase="prepare",
        )
        try:
            outcome = self.executor.run_batch(request, on_event=self._on_event, cancelled=self._cancel.is_set)
        except BatchInterrupted:
            self._set_state(run_id, RunState.INTERRUPTED, "interrupted during the prepare phase; no host was disrupted")
            raise KeyboardInterrupt from None
        ready = {o.host: o.prepared for o in outcome.outcomes if o.status.is_success}
        failed = {o.host: o for o in outcome.outcomes if not o.status.is_success}
        self.store.note(
            run_id,
            "prepared",
            {
                "hosts": ready,
                "failed": {
                    h: {"status": o.status.value, "step": o.failed_step, "message": o.message or ""}
                    for h, o in failed.items()
                },
            },
        )
        if outcome.cancelled:
            self._set_state(run_id, RunState.INTERRUPTED, "cancelled during the prepare phase; no host was disrupted")
            raise _Stopped
        if failed and inputs.drill:
            # A drill goes on with the hosts that could be patched; the others are its blockers (audit `prepared`).
            run.blocked = set(failed)
            return
        if failed:
            owners = {h.name: h.owner for h in plan.hosts}
            parts = [
                f"{h} (owner {owners.get(h) or 'unknown'}): {o.status.value}"
                + (f" at {o.failed_step}" if o.failed_step else "")
                + (f": {o.message}" if o.message else "")
                for h, o in sorted(failed.items())
            ]
            self._set_state(
                run_id, RunState.HALTED, "prepare failed before any host was disrupted: " + "; ".join(parts)
            )
            raise _Stopped

    def _measured_durations(self, plan: RolloutPlan, runs: int = 20) -> dict[str, timedelta]:
        """Each target's median apply duration over its successful attempts in the last `runs` runs: the expected
        duration the windows must fit (hosts never measured keep the plan's value)."""
        targets = set(plan.targets)
        measured: dict[str, list[timedelta]] = {}
        for run in self.store.runs(limit=runs):
            for attempt in self.store.attempts(run.id):
                ended = attempt.ended
                if attempt.host in targets and ended is not None and attempt.status is HostStatus.PATCHED:
                    measured.setdefault(attempt.host, []).append(ended - attempt.started)
        return {host: sorted(spans)[len(spans) // 2] for host, spans in measured.items()}

    def _launch(
        self,
        run: _Run,
        stage: Stage,
        numbers: tuple[int, int],
        hosts: tuple[str, ...],
        cancelled: Callable[[], bool],
    ) -> tuple[int, threading.Thread]:
        """Claim `hosts` in the store (HostClaimedError if another run holds one), record intent, then run one
        ansible-playbook on them in a thread that reports to the run's queue; its token and thread."""
        run_id, (group, attempt) = run.id, numbers
        self._claims.claim(run_id, hosts)
        run.absorb(self.store.record_intent(run_id, stage.name, group, attempt, hosts))
        self._notify(lambda o: o.batch_started(run_id, stage, group, attempt, hosts))
        return self._play(run, stage, numbers, hosts, cancelled)

    def _start_ahead(
        self,
        run: _Run,
        stage: Stage,
        next_up: Sequence[str],
        batch: int,
        cold: set[str],
        cancelled: Callable[[], bool],
    ) -> int:
        """Keep the hosts next in line (`next_up`, at most the stage's concurrency and _AHEAD) waiting at the gate,
        each in a playbook of its own that does the read-only steps meanwhile; stop those no longer next in line.
        Returns the next free batch number. Nothing is recorded: a host is dispatched when it is released."""
        wanted = [h for h in next_up if h not in cold][: min(_AHEAD, stage.concurrency)]
        for early in _batches(run.ahead.values()):
            if early.stage == stage.name and not set(early.hosts) <= set(wanted):
                _drop(run, early)  # a retry or a window came first: its hosts start afresh later
                early.release.answer(go=False)
        for host in wanted:
            if host in run.ahead:
                continue
            attempt = 1 + sum(1 for a in run.attempts if a.stage == stage.name and a.host == host)
            if not self._ahead(run, stage, (host,), (batch, attempt), cancelled):
                cold.add(host)  # another run holds it: its turn waits for the claim as any start does
                continue
            batch += 1
        return batch

    def _start_next_stage_ahead(self, run: _Run, stage: Stage) -> None:
        """Every host of `stage` has started: the hosts the next stage starts with wait at its gate already, when
        that stage follows at once (emergency: no windows; no soak after this stage, no approval before the next)."""
        plan = run.plan
        following = next((s for s in plan.stages if s.index == stage.index + 1), None)
        if (
            following is None
            or plan.mode is not Mode.EMERGENCY
            or stage.soak > timedelta(0)
            or following.approval_required
            or following.name in run.started_ahead
        ):
            return
        run.started_ahead.add(following.name)  # once: a host whose early playbook ends starts in its turn
        _, preview = _stage_dispatcher(run, following)
        first = preview.startable(self.clock.now())  # what the stage starts with: one playbook, as it would start
        tries = Counter(a.host for a in run.attempts if a.stage == following.name)
        batch = 1 + max((a.batch for a in run.attempts if a.stage == following.name), default=0)
        for attempt in sorted({tries[h] + 1 for h in first}):
            hosts = tuple(h for h in first if tries[h] + 1 == attempt)
            if self._ahead(run, following, hosts, (batch, attempt), self._cancel.is_set):
                batch += 1

    def _ahead(
        self,
        run: _Run,
        stage: Stage,
        hosts: tuple[str, ...],
        numbers: tuple[int, int],
        cancelled: Callable[[], bool],
    ) -> bool:
        """Start one playbook of `stage` on `hosts` ahead of their turn, as (batch, attempt) `numbers`; False when
        another run holds one of them."""
        try:
            self._claims.claim(run.id, hosts)
        except HostClaimedError:
            return False
        batch, attempt = numbers
        release = _Release()
        token, thread = self._play(run, stage, numbers, hosts, cancelled, release=release)
        early = _Ahead(hosts, stage.name, token, batch, attempt, release, thread)
        run.ahead.update(dict.fromkeys(hosts, early))
        return True

    def _release(self, run: _Run, stage: Stage, early: _Ahead) -> None:
        """The dispatcher started the hosts that wait at `early`'s gate: record intent, then let the playbook go on."""
        run_id, hosts = run.id, early.hosts
        run.absorb(self.store.record_intent(run_id, stage.name, early.batch, early.attempt, hosts))
        self._notify(lambda o: o.batch_started(run_id, stage, early.batch, early.attempt, hosts))
        early.release.answer(go=True)

    def _play(
        self,
        run: _Run,
        stage: Stage,
        numbers: tuple[int, int],
        hosts: tuple[str, ...],
        cancelled: Callable[[], bool],
        *,
        release: _Release | None = None,
    ) -> tuple[int, threading.Thread]:
        """Run the stage playbook on `hosts` in a thread that reports to the run's queue under a token of its own;
        with `release`, its hosts wait at the role's gate for it, and their events reach the observers only once
        released. The token and the thread."""
        group, attempt = numbers
        token, done = next(run.tokens), run.done
        request = _request(run.id, stage, group, attempt, hosts, run.content, check=run.inputs.check)

        def on_event(event: HostEvent) -> None:
            if release is None or release.go:
                self._on_event(event)

        def work() -> None:
            try:
                try:
                    outcome = self.executor.run_batch(request, on_event=on_event, cancelled=cancelled, release=release)
                finally:
                    if release is not None:
                        release.ended = True
                done.put(_Finished(token, outcome=outcome))
            except BatchInterrupted as interrupted:
                done.put(_Finished(token, interrupted=interrupted))
            except Exception as exc:  # handed to the orchestrator's thread, which raises it
                done.put(_Finished(token, error=exc))

        thread = threading.Thread(target=work, name=f"patchorch-{stage.name}-{group}", daemon=True)
        thread.start()
        return token, thread

    def _next_finished(
        self, done: queue.Queue[_Finished], *, until: datetime | None = None, interruptible: bool = True
    ) -> _Finished | None:
        """The next finished playbook, or None once the clock reaches `until` (a window opens, a retry falls due);
        waits in short steps so that Ctrl-C reaches this thread."""
        while True:
            try:
                return done.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if until is not None and self.clock.now() >= until:
                    return None
                continue
            except KeyboardInterrupt:
                if interruptible:
                    raise
                self._cancel.set()

    def _wait_for_claim(
        self,
        run_id: str,
        stage: Stage,
        refused: HostClaimedError,
        hosts: tuple[str, ...],
        dispatcher: StageDispatcher,
        deadlines: dict[str, datetime],
        now: datetime,
    ) -> bool:
        """Another run holds a host of `hosts`: while `claim_wait` lasts, give the group back to the dispatcher (the
        held host to be tried again shortly, the others at once) and return True; else False (the run pauses)."""
        host = str(refused.context.get("host"))
        if self._claim_wait is None:
            return False
        if host not in deadlines:
            deadlines[host] = now + self._claim_wait
            until = deadlines[host].isoformat()
            self.store.note(
                run_id, "claim-wait", {"stage": stage.name, "host": host, "claim": str(refused), "until": until}
            )
        if now >= deadlines[host]:
            refused.message += f"; waited {self._claim_wait} (--wait-for-claims) for it"
            return False
        # The claim may be released before its lease ends (the other run records the host): look again soon.
        look = min(now + _CLAIM_POLL, deadlines[host])
        for name in hosts:
            dispatcher.complete(name, retry_at=look if name == host else now)
        return True

    def _settle(
        self, run: _Run, stage: Stage, dispatcher: StageDispatcher, outcome: BatchOutcome, retries: Counter[str]
    ) -> None:
        """Tell the dispatcher how each host ended; unreachable hosts with retries left go back with a back-off."""
        run_id, plan = run.id, run.plan
        now = self.clock.now()
        for result in outcome.outcomes:
            if result.status is HostStatus.UNREACHABLE and retries[result.host] < plan.unreachable_retries:
                wait = min(600, plan.retry_backoff_seconds * 2 ** retries[result.host])
                retries[result.host] += 1
                dispatcher.complete(result.host, retry_at=now + timedelta(seconds=wait))
                self.store.note(
                    run_id, "retry-scheduled", {"stage": stage.name, "hosts": [result.host], "in_seconds": wait}
                )
                continue
            dispatcher.complete(result.host, failed=not result.status.is_success)

    def _wait_for_windows(self, run: _Run, stage: Stage, dispatcher: StageDispatcher, now: datetime) -> None:
        """Nothing runs and nothing may start: wait for the next window or retry, or leave the run waiting."""
        run_id, plan = run.id, run.plan
        upcoming = dispatcher.next_event(now)
        waiting = dispatcher.waiting(now)
        if upcoming is not None and (self._max_wait is None or upcoming - now <= self._max_wait):
            names = ", ".join(w.host for w in waiting) or ", ".join(dispatcher.pending)
            self._wait_until(run, upcoming, f"next start of {names}")
            return
        hosts = {w.host: (w.next_start.isoformat() if w.next_start else None) for w in waiting}
        blocked = [h for h in dispatcher.pending if h not in hosts]
        owners = {h.name: h.owner for h in plan.hosts}
        if blocked and upcoming is None:
            # Nothing runs and no window or retry is ahead: only failed members can be holding the cluster's budget.
            reason = (
                f"stage {stage.name}: failed cluster members use the whole disruption budget, so "
                f"{', '.join(blocked)} cannot be patched without taking more down; fix or retry the failed hosts "
                "(resume --retry-failed)"
            )
            decision = GateDecision(Verdict.HALT, "cluster-budget", reason)
            self._notify(lambda o: o.gate(run_id, stage, decision))
            self._stop_on(run_id, stage, decision)
        self.store.note(
            run_id,
            "hosts-waiting",
            {"stage": stage.name, "hosts": hosts, "owners": {h: owners.get(h) for h in hosts}, "blocked": blocked},
        )
        parts = [
            f"{h} (owner {owners.get(h) or 'unknown'}, next opening {at or 'not within the horizon'})"
            for h, at in hosts.items()
        ]
        reason = f"stage {stage.name}: waiting for maintenance windows: {'; '.join(parts)}"
        if upcoming is not None:
            reason += f"; resume at or after {upcoming.isoformat()}"
        self._set_state(run_id, RunState.WAITING, reason)
        raise _Stopped

    def _record(self, run: _Run, stage: Stage, attempt: int, outcomes: Sequence[HostOutcome]) -> None:
        # Hosts without evidence keep their intent open; resume reconciles them.
        proven = [o for o in outcomes if o.status is not HostStatus.UNKNOWN]
        if proven:
            run.absorb(self.store.record_outcomes(run.id, stage.name, attempt, proven, evidence=EVIDENCE_EVENTS))
            self._claims.release(run.id, [o.host for o in proven])

    def _interrupted(self, run_id: str, stage: Stage, reason: str) -> None:
        self.store.set_stage_state(run_id, stage.name, StageState.CANCELLED, reason=reason)
        self._set_state(run_id, RunState.INTERRUPTED, reason)

    def _gate_after(
        self, run: _Run, stage: Stage, *, unsettled: Collection[str] = frozenset(), stop_now: bool = True
    ) -> GateDecision | None:
        """Check the gates after a completion; with `stop_now` stop the run on a failed gate, else return it.

        `unsettled` hosts (still running, or waiting for a retry) are not judged yet.
        """
        run_id, attempts = run.id, run.attempts
        acknowledged = _acknowledged(attempts)
        results = {h: a.status for h, a in _latest(attempts).items() if h not in acknowledged and h not in unsettled}
        context = GateContext(plan=run.plan, stage=stage, results=results, now=self.clock.now())
        decision = after_batch().check(context)
        if decision.verdict is Verdict.PROCEED:
            return None
        self._notify(lambda o: o.gate(run_id, stage, decision))
        if stop_now:
            self._stop_on(run_id, stage, decision)
        return decision

    def _stop_on(self, run_id: str, stage: Stage, decision: GateDecision) -> None:
        if decision.verdict is Verdict.PAUSE:
            self._set_state(run_id, RunState.PAUSED, decision.reason)
        else:
            self.store.set_stage_state(run_id, stage.name, StageState.HALTED, reason=decision.reason)
            self._notify(lambda o: o.stage_finished(run_id, stage, StageState.HALTED))
            self._set_state(run_id, RunState.HALTED, decision.reason)
        raise _Stopped

    # -- resume helpers -----------------------------------------------------------------------------------------

    def _stop_survivors(self, run_id: str) -> None:
        """After Ctrl-C: no process of the run outlives the orchestrator (a playbook whose runner was not yet
        watching its cancel check is stopped here); what was stopped is recorded."""
        pids = run_processes(run_id)
        if not pids:
            return
        terminate(pids)
        # Real processes end in real time: poll the real clock, bounded.
        deadline = time.monotonic() + 15
        while pids and time.monotonic() < deadline:
            time.sleep(0.2)
            pids = run_processes(run_id)
        self.store.note(run_id, "survivors-terminated", {"pids": pids or []})

    def _guard_processes(self, run_id: str) -> None:
        """Wait for any process of this run that outlived its orchestrator, only while it makes progress (a playbook
        finishing its host); then stop what is left. What was seen is recorded (audit `survivors-watched`)."""
        seen = self._survivors.watch(run_id)
        if seen is None:
            return
        self.store.note(run_id, "survivors-watched", seen.as_record())
        pids = list(seen.left)
        if pids:
            terminate(pids)
            # Real processes end in real time: poll the real clock, bounded.
            deadline = time.monotonic() + 30
            while pids and time.monotonic() < deadline:
                time.sleep(0.2)
                pids = run_processes(run_id)
            self.store.note(run_id, "survivors-terminated", {"pids": pids or []})
        if pids:
            raise RunStateError(f"ansible-playbook of run {run_id} still running (pids {pids})", run=run_id)

    def _reconcile(self, run: _Run) -> None:
        """Settle every open intent with a read-only check-mode run of its stage on the host."""
        run_id = run.id
        groups: dict[tuple[str, int, int], list[str]] = {}
        for record in (a for a in run.attempts if a.status is None):
            groups.setdefault((record.stage, record.batch, record.attempt), []).append(record.host)
        for (stage_name, batch, attempt), hosts in sorted(groups.items()):
            stage = run.plan.stage(stage_name)
            request = _request(run_id, stage, batch, attempt, tuple(hosts), run.content, check=True)
            self._claims.claim(run_id, hosts)
            with self._claims.kept(run_id):
                outcome = self.executor.run_batch(request, on_event=self._on_event, cancelled=self._cancel.is_set)
            settled = [r for r in (_reconciled(o) for o in outcome.outcomes) if r is not None]
            self.store.note(
                run_id,
                "reconciled",
                {"stage": stage_name, "attempt": attempt, "hosts": {o.host: o.status.value for o in settled}},
            )
            if settled:
                run.absorb(
                    self.store.record_outcomes(run_id, stage_name, attempt, settled, evidence=EVIDENCE_RECONCILED)
                )
                self._claims.release(run_id, [o.host for o in settled])

    # -- plumbing -----------------------------------------------------------------------------------------------

    def _set_state(self, run_id: str, state: RunState, reason: str) -> None:
        self.store.set_run_state(run_id, state, reason)
        self._notify(lambda o: o.run_state(run_id, state, reason))

    def _on_event(self, event: HostEvent) -> None:
        for observer in self.observers:
            observer.host_event(event)

    def _notify(self, call: _ObserverCall) -> None:
        for observer in self.observers:
            call(observer)


@dataclass
class _Run:
    """One drive of a run: what it works with, in hand (a start) or read once (a resume), and kept true by writing
    through it: each attempt the store returns from a write replaces the one held, or joins them."""

    id: str
    plan: RolloutPlan
    inputs: RunInputs
    content: StageContent
    retry_failed: bool = False
    # Every attempt of the run in dispatch order, as the store recorded it.
    attempts: list[AttemptRecord] = field(default_factory=list)
    # Expected apply duration per host, from durations measured in earlier attempts (else the plan's value).
    expected: dict[str, timedelta] = field(default_factory=dict)
    # A drill's hosts that failed to prepare: blockers, recorded and left out of the stages.
    blocked: set[str] = field(default_factory=set)
    # Hosts whose playbook waits at the role's gate, started ahead of their turn (in their stage or the next one).
    ahead: dict[str, _Ahead] = field(default_factory=dict)
    started_ahead: set[str] = field(default_factory=set)  # stages whose first hosts were started ahead already
    # Where every playbook thread of the drive reports, each under a token from `tokens`.
    done: queue.Queue[_Finished] = field(default_factory=queue.Queue)
    tokens: Iterator[int] = field(default_factory=itertools.count)
    _index: dict[tuple[str, str, int], int] = field(default_factory=dict, repr=False)

    def absorb(self, records: Iterable[AttemptRecord]) -> None:
        """Take attempts as the store recorded them: one already held is replaced, a new one joins at the end."""
        for record in records:
            key = (record.stage, record.host, record.attempt)
            position = self._index.get(key)
            if position is None:
                self._index[key] = len(self.attempts)
                self.attempts.append(record)
            else:
                self.attempts[position] = record

    def latest(self) -> dict[str, AttemptRecord]:
        """The latest attempt of each host."""
        return _latest(self.attempts)

    def failed(self) -> set[str]:
        """Hosts whose latest attempt failed or was unreachable and is not acknowledged."""
        acknowledged = _acknowledged(self.attempts)
        return {
            h
            for h, a in self.latest().items()
            if a.status is not None and a.status.counts_as_failure and h not in acknowledged
        }


def _prepared(history: Iterable[AuditRecord]) -> dict[str, dict[str, str]]:
    """The versions each host was prepared with, from the run's audit records (the latest wins)."""
    prepared: dict[str, dict[str, str]] = {}
    for record in history:
        if record.event == "prepared":
            hosts = record.data.get("hosts", {})
            prepared.update({str(h): dict(v) for h, v in hosts.items()})
            for host in record.data.get("failed", {}):
                prepared.pop(str(host), None)
    return prepared


class _Release:
    """The answer a playbook started ahead of its turn waits for at the role's gate (the executor's `release`)."""

    def __init__(self) -> None:
        self._answered = threading.Event()
        self.go = False
        self.ended = False  # the playbook has returned (released or not)

    def __call__(self) -> bool:
        self._answered.wait()
        return self.go

    def answer(self, *, go: bool) -> None:
        """Release the hosts (`go`) or end them at the gate; only the first answer counts."""
        if not self._answered.is_set():
            self.go = go
            self._answered.set()


@dataclass(frozen=True)
class _Ahead:
    """A playbook started ahead of its turn, its hosts waiting at the gate until the dispatcher starts them all."""

    hosts: tuple[str, ...]
    stage: str
    token: int
    batch: int
    attempt: int
    release: _Release
    thread: threading.Thread


@dataclass(frozen=True)
class _Finished:
    """What a playbook thread reports (under its token): its outcome, the outcomes of an interrupted run, or an
    error."""

    token: int
    outcome: BatchOutcome | None = None
    interrupted: BatchInterrupted | None = None
    error: Exception | None = None


def _batches(entries: Iterable[_Ahead]) -> list[_Ahead]:
    """Each playbook started ahead once (several hosts may wait in one)."""
    return list({id(e): e for e in entries}.values())


def _drop(run: _Run, early: _Ahead) -> None:
    """Forget `early`'s hosts as waiting at the gate."""
    for host in early.hosts:
        if run.ahead.get(host) is early:
            del run.ahead[host]


def _stop_ahead(run: _Run, stage: str | None = None) -> None:
    """Tell the playbooks waiting at the gate (of `stage`, or all) to end their hosts there, untouched."""
    for early in _batches(run.ahead.values()):
        if stage is None or early.stage == stage:
            _drop(run, early)
            early.release.answer(go=False)


def _stage_dispatcher(run: _Run, stage: Stage) -> tuple[list[str], StageDispatcher]:
    """The hosts of `stage` still to dispatch, and a dispatcher over them: the run's failure budget left, and each
    cluster's members that failed earlier in the run counted as unavailable."""
    plan, latest = run.plan, run.latest()
    todo = [
        h for h in stage.hosts if h not in run.blocked and _needs_dispatch(latest.get(h), retry_failed=run.retry_failed)
    ]
    clusters = {h.name: h.cluster for h in plan.hosts}
    down = Counter(
        clusters[h]
        for h, a in latest.items()
        if h not in todo and clusters.get(h) is not None and a.status is not None and a.status.counts_as_failure
    )
    dispatcher = StageDispatcher(
        [dispatch_host(plan, h, run.expected) for h in todo],
        _limits(plan, stage, run.failed()),
        unavailable={c: n for c, n in down.items() if c is not None},
    )
    return todo, dispatcher


def _limits(plan: RolloutPlan, stage: Stage, failed: set[str]) -> DispatchLimits:
    """The stage's dispatch limits; the failure budget is what is left of the run's and the stage's after the
    `failed` hosts (unacknowledged failures)."""
    left = plan.failure_budget - len(failed)
    if stage.failure_budget is not None:
        left = min(left, stage.failure_budget - len(failed & set(stage.hosts)))
    return limits_for(plan, stage, failure_budget=max(0, left))


class _ObserverCall(Protocol):
    def __call__(self, observer: Observer, /) -> None: ...


def _request(
    run_id: str, stage: Stage, batch: int, attempt: int, hosts: tuple[str, ...], content: StageContent, *, check: bool
) -> BatchRequest:
    """One attempt of one batch of a stage: the stage playbook limited to `hosts`, as many forks as the stage allows."""
    return BatchRequest(
        run_id=run_id,
        stage=stage.name,
        batch=batch,
        attempt=attempt,
        hosts=hosts,
        playbook=content.stage_playbook(stage.name),
        inventory=content.inventory_sources,
        ansible_cfg=content.ansible_cfg,
        fact_cache=content.fact_cache,
        check=check,
        forks=stage.concurrency,
    )


def _latest(attempts: Iterable[AttemptRecord]) -> dict[str, AttemptRecord]:
    """The latest attempt of each host across the run (attempts come in dispatch order)."""
    latest: dict[str, AttemptRecord] = {}
    for record in attempts:
        latest[record.host] = record
    return latest


def _acknowledged(attempts: Iterable[AttemptRecord]) -> set[str]:
    """The hosts whose latest attempt is a failure an operator acknowledged (a retried host's new attempt is not)."""
    return {h for h, a in _latest(attempts).items() if a.acknowledged_at is not None}


def _per_host_windows(plan: RolloutPlan, stage: Stage) -> bool:
    """True when the plan carries the windows of the stage's hosts (plans made before it did: the stage gate waits)."""
    members = set(stage.hosts)
    return any(h.windows for h in plan.hosts if h.name in members)


def _succeeded(latest: AttemptRecord | None) -> bool:
    return latest is not None and latest.status is not None and latest.status.is_success


def _needs_dispatch(latest: AttemptRecord | None, *, retry_failed: bool) -> bool:
    if latest is None:
        return True
    if latest.status is None:
        return False  # an open intent: reconciliation decides; until then the results gate pauses the run
    if latest.status is HostStatus.SKIPPED:
        return True
    return retry_failed and latest.status.counts_as_failure


def _reconciled(check: HostOutcome) -> HostOutcome | None:
    """Turn a check-mode outcome into the outcome of the interrupted attempt, or None when it proves nothing."""
    note = "reconciled after an interruption: "
    if check.status in (HostStatus.UNREACHABLE, HostStatus.UNKNOWN):
        return None
    if check.status is HostStatus.FAILED:
        return check.model_copy(update={"message": note + (check.message or "a check failed"), "check_mode": False})
    if check.status is HostStatus.UNCHANGED and not check.reboot_required:
        return check.model_copy(
            update={
                "status": HostStatus.PATCHED,
                "versions_after": dict(check.versions_before),
                "versions_before": {},
                "message": note + "the update is in place",
                "check_mode": False,
            }
        )
    pending = "a reboot is pending" if check.status is HostStatus.UNCHANGED else "the update is not applied"
    return check.model_copy(
        update={"status": HostStatus.SKIPPED, "message": note + pending + "; dispatching again", "check_mode": False}
    )
