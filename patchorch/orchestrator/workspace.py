"""The library's front door: a Workspace ties a state directory (or store URL) to the planner, renderer and executor.

    >>> from patchorch import Workspace
    >>> ws = Workspace.open(".patchorch")                                            # doctest: +SKIP
    >>> plan = ws.plan(["inventories/example-mail"], emergency=True)                 # doctest: +SKIP
    >>> report = ws.start(plan, inventory=["inventories/example-mail"])              # doctest: +SKIP
    >>> report.state, report.failed_hosts                                            # doctest: +SKIP

Rendered Ansible content of each run lives in `<state>/runs/<run id>/` so that a person can read (and run) exactly
what patchorch ran; resume renders it again from the stored plan, which gives the same files.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path

from patchorch.clock import Clock, SystemClock
from patchorch.domain.drift import inventory_drift
from patchorch.domain.drill import DrillReport, apply_durations, summarize_drill
from patchorch.domain.eligibility import left_alone
from patchorch.domain.exposure import AdvisoryTargets
from patchorch.domain.fleet import Fleet
from patchorch.domain.plan import RolloutPlan, UpdateSpec
from patchorch.domain.planner import fleet_digest
from patchorch.domain.policy import Policy
from patchorch.domain.rollback import RunChanges, run_changes
from patchorch.domain.run import (
    CLAIM_LEASE,
    RUN_LOCK_LEASE,
    ApprovalRecord,
    AttemptRecord,
    RunInputs,
    RunKind,
    RunRecord,
    StageRecord,
)
from patchorch.domain.vulnerability import Decision, HostVulnerability
from patchorch.errors import InventoryError, PlanError, Problem
from patchorch.execution.ansible import AnsibleRunnerExecutor
from patchorch.execution.base import Credentials, Executor, FactsRequest, FactsResult
from patchorch.orchestrator.engine import Orchestrator, RolloutReport, new_run_id
from patchorch.orchestrator.exposure import advisory_targets, hosts_without_facts
from patchorch.orchestrator.facts import FactsRefresh, refresh_facts
from patchorch.orchestrator.observers import Observer
from patchorch.orchestrator.planning import plan_rollback_of, plan_rollout
from patchorch.orchestrator.stores import StoreLocation
from patchorch.rendering.render import RenderedRun, render_run
from patchorch.sources.inventory import InventoryLoad, load_fleet
from patchorch.store.advisories import AdvisoryStore
from patchorch.store.audit_export import (
    AuditExport,
    export_audit,
    load_public_key,
    load_signing_key,
    read_export,
    verify_against,
)
from patchorch.store.runs import RunStore


@dataclass(frozen=True)
class Leases:
    """How long a run's lock and its host claims hold without a heartbeat (settings `run_lock_lease`, `claim_lease`)."""

    run_lock_lease: timedelta = RUN_LOCK_LEASE
    claim_lease: timedelta = CLAIM_LEASE


@dataclass(frozen=True)
class RunView:
    """Everything recorded about one run, for `show` and `status`: the run, where it stands (with its frozen plan),
    its stages, every attempt and approval in the order recorded, and the runs that roll it back."""

    run: RunRecord
    report: RolloutReport
    stages: tuple[StageRecord, ...]
    attempts: tuple[AttemptRecord, ...]
    approvals: tuple[ApprovalRecord, ...]
    rolled_back_by: tuple[str, ...]


@dataclass(frozen=True)
class RollbackInputs:
    """What a rollback of a run plans from (`inventory`, `policy`) and records as its own inputs (`recorded`); see
    `Workspace.rollback_inputs`."""

    inventory: tuple[Path | str, ...]
    policy: Path | Policy | None
    recorded: RunInputs


@dataclass(frozen=True)
class AdvisoryScope:
    """What `rollout --advisory` plans from: the hosts the advisory affects with the update that fixes them, and the
    hosts that could be patched but are left out for want of fresh package facts (`facts refresh` reads them)."""

    found: AdvisoryTargets
    without_facts: tuple[str, ...]

    @property
    def emergency(self) -> bool:
        """An 'immediate' decision chooses the emergency strategy."""
        return self.found.decision is Decision.IMMEDIATE


class Workspace:
    """Plans, renders, runs and records rollouts in one state directory (or a store URL)."""

    def __init__(
        self,
        state_dir: Path,
        store: RunStore,
        *,
        executor: Executor | None = None,
        clock: Clock | None = None,
        observers: Iterable[Observer] = (),
        template_dir: Path | None = None,
        max_wait: timedelta | None = None,
        credentials: Credentials | None = None,
        claim_wait: timedelta | None = None,
        leases: Leases | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.executor: Executor = executor or AnsibleRunnerExecutor(work_dir=state_dir / "tmp", credentials=credentials)
        # The vault ids that open vault-encrypted inventory files when this workspace plans.
        self.vault_ids = credentials.vault_ids if credentials is not None else ()
        self.template_dir = template_dir
        self.orchestrator = Orchestrator(
            store,
            self.executor,
            clock=self.clock,
            observers=observers,
            max_wait=max_wait,
            claim_wait=claim_wait,
            claim_lease=leases.claim_lease if leases else CLAIM_LEASE,
            run_lock_lease=leases.run_lock_lease if leases else RUN_LOCK_LEASE,
        )

    @classmethod
    def open(
        cls,
        state_dir: Path | str,
        *,
        store_url: str | None = None,
        actor: str | None = None,
        executor: Executor | None = None,
        clock: Clock | None = None,
        observers: Iterable[Observer] = (),
        template_dir: Path | None = None,
        max_wait: timedelta | None = None,
        credentials: Credentials | None = None,
        claim_wait: timedelta | None = None,
        leases: Leases | None = None,
    ) -> Workspace:
        """Open (creating if needed) the state directory and its store; SQLite inside it unless `store_url`.

        `credentials` (a become password, vault ids) reach Ansible's prompts from memory, never a file. `leases` are
        those of the run's lock and of its host claims (default: 60 s and 10 min)."""
        state = Path(state_dir)
        # The store first: a store URL refused, or a server that does not answer, leaves no state directory behind.
        store = StoreLocation(state, store_url).runs(actor=actor or getpass.getuser(), clock=clock)
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        return cls(
            state,
            store,
            executor=executor,
            clock=clock,
            observers=observers,
            template_dir=template_dir,
            max_wait=max_wait,
            credentials=credentials,
            claim_wait=claim_wait,
            leases=leases,
        )

    # -- planning and running -----------------------------------------------------------------------------------

    def plan(
        self,
        inventory: Sequence[Path | str] | InventoryLoad,
        *,
        policy: Path | Policy | None = None,
        emergency: bool = False,
        limit: str | None = None,
        targets: Iterable[str] | None = None,
        update: UpdateSpec | None = None,
        vulnerabilities: Iterable[HostVulnerability] | None = None,
        now: datetime | None = None,
    ) -> RolloutPlan:
        """Plan a rollout (nothing runs): see `patchorch.plan_rollout`."""
        return plan_rollout(
            inventory=inventory if isinstance(inventory, InventoryLoad) else [Path(p) for p in inventory],
            policy=policy,
            emergency=emergency,
            limit=limit,
            targets=targets,
            update=update,
            vulnerabilities=vulnerabilities,
            now=now or self.clock.now(),
            vault_ids=self.vault_ids,
        )

    def run_changes(self, run_id: str) -> RunChanges:
        """What recorded run `run_id` changed on each host, and why it left the others alone."""
        return run_changes(self.store.run(run_id), self.store.plan(run_id), self.store.attempts(run_id))

    def plan_rollback(
        self,
        run_id: str,
        *,
        inventory: Sequence[Path | str] | None = None,
        policy: Path | Policy | None = None,
        hosts: str | None = None,
        emergency: bool = False,
        now: datetime | None = None,
    ) -> RolloutPlan:
        """Plan taking the hosts run `run_id` changed (those matching `hosts`, a host pattern) back to the versions
        recorded before it (nothing runs). The inventory and policy default to those the run was started from.

        Raises `RunStateError` for an unknown run and `PlanError` for a run still running or with nothing to undo.
        """
        chosen = self.rollback_inputs(run_id, inventory=inventory, policy=policy, hosts=hosts)
        return plan_rollback_of(
            self.run_changes(run_id),
            chosen.inventory,
            chosen.policy,
            emergency=emergency,
            hosts=hosts,
            now=now or self.clock.now(),
            vault_ids=self.vault_ids,
        )

    def rollback(
        self,
        run_id: str,
        *,
        inventory: Sequence[Path | str] | None = None,
        policy: Path | Policy | None = None,
        hosts: str | None = None,
        emergency: bool = False,
    ) -> RolloutReport:
        """Plan the rollback of run `run_id` (see `plan_rollback`), record it linked to that run and drive it."""
        chosen = self.rollback_inputs(run_id, inventory=inventory, policy=policy, hosts=hosts)
        plan = self.plan_rollback(
            run_id, inventory=chosen.inventory, policy=chosen.policy, hosts=hosts, emergency=emergency
        )
        return self.start(plan, inventory=chosen.inventory, inputs=chosen.recorded)

    def rollback_inputs(
        self,
        run_id: str,
        *,
        inventory: Sequence[Path | str] | None = None,
        policy: Path | Policy | None = None,
        hosts: str | None = None,
    ) -> RollbackInputs:
        """What a rollback of run `run_id` uses, one rule for scripts and the CLI: the inventory and policy given,
        else those the run was started from (a run that recorded no policy used the built-in default), and the
        template directory the run was rendered with, else this workspace's.

        Raises `RunStateError` for an unknown run and `PlanError` when no inventory is given and the run recorded
        none.
        """
        recorded = self.store.run(run_id).inputs
        sources = tuple(inventory) if inventory else tuple(recorded.inventory)
        if not sources:
            raise PlanError(f"run {run_id} recorded no inventory: give the inventory to roll it back with")
        if policy is None and recorded.policy is not None:
            policy = Path(recorded.policy)
        # `_inputs` adds the inventory, made absolute, and this workspace's templates where the run recorded none.
        inputs = RunInputs(
            policy=str(policy) if isinstance(policy, Path) else None, limit=hosts, template_dir=recorded.template_dir
        )
        return RollbackInputs(inventory=sources, policy=policy, recorded=self._inputs(sources, inputs))

    def render(self, plan: RolloutPlan, run_id: str, inputs: RunInputs) -> RenderedRun:
        """Render the plan's playbooks into the run's directory, from the inventory and templates `inputs` record."""
        return render_run(
            plan,
            self.run_dir(run_id),
            inventory_sources=[Path(p) for p in inputs.inventory],
            template_dir=Path(inputs.template_dir) if inputs.template_dir is not None else None,
        )

    def _inputs(self, inventory: Sequence[Path | str], inputs: RunInputs | None) -> RunInputs:
        """What a new run records: `inputs` with the inventory (absolute) and this workspace's template directory
        filled in where they are missing, so that a resume renders from exactly what the start rendered from."""
        inputs = inputs or RunInputs()
        missing: dict[str, object] = {}
        if not inputs.inventory:
            missing["inventory"] = tuple(str(Path(p).resolve()) for p in inventory)
        if inputs.template_dir is None and self.template_dir is not None:
            missing["template_dir"] = str(self.template_dir.resolve())
        return inputs.model_copy(update=missing) if missing else inputs

    def start(
        self,
        plan: RolloutPlan,
        *,
        inventory: Sequence[Path | str],
        inputs: RunInputs | None = None,
        run_id: str | None = None,
    ) -> RolloutReport:
        """Record a run of `plan`, render it and drive it as far as the gates allow."""
        run_id = run_id or new_run_id(self.clock.now())
        inputs = self._inputs(inventory, inputs)
        content = self.render(plan, run_id, inputs)
        return self.orchestrator.start(plan, content, inputs, run_id=run_id)

    def drill(
        self,
        plan: RolloutPlan,
        *,
        inventory: Sequence[Path | str],
        inputs: RunInputs | None = None,
        run_id: str | None = None,
    ) -> DrillReport:
        """Rehearse `plan` on the real hosts, read-only, and record it as a drill (never as patched).

        Everything runs in check mode; hosts that fail to prepare are blockers and the drill goes on without them.
        Open the workspace with a `DrillClock` so that soaks and windows are skipped (and recorded as shortened)
        rather than waited for; approvals are asked for unless `inputs.skip_approvals`.
        """
        run_id = run_id or new_run_id(self.clock.now())
        inputs = self._inputs(inventory, inputs).model_copy(update={"kind": RunKind.DRILL, "check": True})
        self.start(plan, inventory=inventory, inputs=inputs, run_id=run_id)
        return self.drill_report(run_id)

    def drill_report(self, run_id: str, *, history: int = 20) -> DrillReport:
        """What drill `run_id` found, with the real rollout projected from per-host durations of the last `history`
        real runs (else the drill's own)."""
        real = [r for r in self.store.runs(history) if not r.inputs.drill and not r.inputs.check]
        measured = apply_durations(
            a for r in real for a in self.store.attempts(r.id) if a.status is not None and a.status.is_success
        )
        return summarize_drill(
            self.store.run(run_id),
            self.store.plan(run_id),
            self.store.stages(run_id),
            self.store.attempts(run_id),
            self.store.audit_log(run_id),
            measured=measured,
        )

    def resume(
        self, run_id: str, *, retry_failed: bool = False, accept_inventory_change: bool = False
    ) -> RolloutReport:
        """Continue a halted, paused, approval-waiting or interrupted run from its records.

        The run's lock is taken first: a resume refused because another process drives the run writes nothing.
        The run's inventory is read again: if it changed under a host still to be dispatched (gone, decommissioned,
        excluded, marked unavailable, moved to another cluster) the resume is refused with InventoryError naming each
        change, unless `accept_inventory_change`; the frozen plan then goes on and the record keeps the changes."""
        with self.orchestrator.locked(run_id):
            plan = self.store.plan(run_id)
            inputs = self.store.run(run_id).inputs
            self._check_inventory(run_id, plan, inputs, retry_failed=retry_failed, accept=accept_inventory_change)
            content = self.render(plan, run_id, inputs)
            return self.orchestrator.resume(run_id, content, retry_failed=retry_failed)

    def _check_inventory(
        self, run_id: str, plan: RolloutPlan, inputs: RunInputs, *, retry_failed: bool, accept: bool
    ) -> None:
        """Compare the fleet the run's inventory declares now with the plan's; refuse or record what changed."""
        if not plan.fleet_digest or not inputs.inventory:
            return  # a plan made from a fleet in memory: no inventory to read again
        fleet = load_fleet([Path(p) for p in inputs.inventory], vault_ids=self.vault_ids).fleet
        digest = fleet_digest(fleet)
        if digest == plan.fleet_digest:
            return
        latest = {a.host: a for a in self.store.attempts(run_id)}
        pending = [h for h in plan.targets if _to_dispatch(latest.get(h), retry_failed=retry_failed)]
        drift = inventory_drift(plan, fleet, pending)
        if drift and not accept:
            sources = ", ".join(inputs.inventory)
            allowed = "resume --accept-inventory-change to go on with the plan as it is, or abort and plan again"
            raise InventoryError(
                [
                    Problem(
                        f"was {d.planned}, is now {d.now}", file=sources, host=d.host, field=d.field, allowed=allowed
                    )
                    for d in drift
                ],
                summary=f"the inventory changed since run {run_id} was planned",
            )
        self.store.note(
            run_id,
            "inventory-changed",
            {"planned_fleet": plan.fleet_digest, "fleet": digest, "accepted": [d.as_dict() for d in drift]},
        )

    def observe(self, observer: Observer) -> None:
        """Let `observer` watch every event of the runs this workspace drives from now on (a display, say)."""
        self.orchestrator.add_observer(observer)

    def new_run_id(self) -> str:
        """A fresh run id on this workspace's clock, to name a run (in logs, on Ctrl-C) before `start` records it."""
        return new_run_id(self.clock.now())

    def approve(self, run_id: str, approver: str, *, stage: str | None = None, comment: str = "") -> ApprovalRecord:
        """Approve the stage the run waits for (or `stage`)."""
        return self.orchestrator.approve(run_id, approver, stage=stage, comment=comment)

    def abort(self, run_id: str, reason: str) -> None:
        """End a run for good."""
        self.orchestrator.abort(run_id, reason)

    # -- reading ------------------------------------------------------------------------------------------------

    def runs(self, limit: int = 50) -> list[RunRecord]:
        """The newest runs first."""
        return self.store.runs(limit)

    def run(self, run_id: str) -> RunRecord:
        """The record of run `run_id` (its state and the inputs it was started from); RunStateError if unknown."""
        return self.store.run(run_id)

    def recorded_plan(self, run_id: str) -> RolloutPlan:
        """The frozen plan run `run_id` was started with."""
        return self.store.plan(run_id)

    def view(self, run_id: str) -> RunView:
        """Everything recorded about run `run_id` (see `RunView`)."""
        return RunView(
            run=self.store.run(run_id),
            report=self.orchestrator.report(run_id),
            stages=tuple(self.store.stages(run_id)),
            attempts=tuple(self.store.attempts(run_id)),
            approvals=tuple(self.store.approvals(run_id)),
            rolled_back_by=tuple(self.store.rollbacks_of(run_id)),
        )

    def verify_audit(self, *, against: Path | None = None, trusted_key: Path | None = None) -> int:
        """Verify the audit chain and the state rows it covers, and (with `against`) that the store still holds the
        head of that signed export, signed by `trusted_key` when given; the number of records, or AuditChainError."""
        if against is None:
            return self.store.verify_audit()
        export = read_export(against)
        return verify_against(self.store, export, trusted_key=load_public_key(trusted_key) if trusted_key else None)

    def export_audit(self, key: Path, *, with_records: bool = False) -> AuditExport:
        """The chain's head (and the hashes of its records) signed with the operator's ed25519 key file `key`."""
        return export_audit(self.store, load_signing_key(key), with_records=with_records)

    def run_dir(self, run_id: str) -> Path:
        """Where the run's rendered Ansible content lives."""
        return self.state_dir / "runs" / run_id

    # -- advisories and facts -----------------------------------------------------------------------------------

    @cached_property
    def _advisories(self) -> AdvisoryStore:
        # The run store's engine: the same database, its schema already brought up to date when the store opened.
        return AdvisoryStore(self.store.engine)

    def advisory_scope(self, fleet: Fleet, advisory: str) -> AdvisoryScope:
        """The hosts of `fleet` that imported advisory `advisory` (ID or CVE) affects, the update that fixes them,
        and the hosts the planner could patch that are left out because their package facts are missing or stale.

        PlanError when the advisory is not stored, or no affected package has a fixed version."""
        now = self.clock.now()
        found = advisory_targets(self._advisories, fleet, advisory, now)
        stale = hosts_without_facts(self._advisories, fleet, now)
        return AdvisoryScope(found, tuple(sorted(h for h in stale if left_alone(fleet.get(h)) is None)))

    def refresh_facts(
        self, fleet: Fleet, inventory: Sequence[Path], *, in_limit: frozenset[str] | None = None
    ) -> FactsRefresh:
        """Gather installed packages and OS details from the active hosts of `fleet` (those `in_limit`) and store
        them with this workspace's time (see `patchorch.orchestrator.facts.refresh_facts`)."""
        return refresh_facts(self, self._advisories, fleet, inventory, in_limit=in_limit)

    def gather_facts(self, inventory: Sequence[Path | str], hosts: Sequence[str]) -> FactsResult:
        """Read installed packages and OS details from `hosts` with the executor's read-only play."""
        return self.executor.gather(
            FactsRequest(
                run_id=f"facts-{new_run_id(self.clock.now())}",
                hosts=tuple(hosts),
                inventory=tuple(Path(p).resolve() for p in inventory),
            )
        )


def _to_dispatch(latest: AttemptRecord | None, *, retry_failed: bool) -> bool:
    """A target a resume may still dispatch: never tried, without an outcome, skipped, or failed and retried."""
    if latest is None or latest.status is None:
        return True
    if latest.status.is_success:
        return False
    return retry_failed or not latest.status.counts_as_failure
