"""patchorch: staged, gated and recorded patch rollouts over Ansible.

    >>> import patchorch
    >>> workspace = patchorch.Workspace.open(".patchorch")                          # doctest: +SKIP
    >>> plan = workspace.plan(["inventories/example-mail"], emergency=True)          # doctest: +SKIP
    >>> report = workspace.start(plan, inventory=["inventories/example-mail"])       # doctest: +SKIP

`plan_rollout` plans without running anything; `Workspace` plans, renders, runs, resumes and records.
"""

from __future__ import annotations

from patchorch.domain.drill import DrillReport
from patchorch.domain.fleet import Criticality, Exposure, Fleet, Host, Lifecycle, RebootPolicy
from patchorch.domain.gates import Gate, GateDecision, Verdict
from patchorch.domain.outcomes import BatchOutcome, HostFailures, HostOutcome, HostStatus, RoleResult
from patchorch.domain.plan import (
    Batch,
    Exclusion,
    Mode,
    PackageSpec,
    PlannedHost,
    RolloutPlan,
    Stage,
    StageKind,
    UpdateScope,
    UpdateSpec,
)
from patchorch.domain.policy import Policy
from patchorch.domain.run import RunKind, RunRecord, RunState, StageState
from patchorch.domain.vulnerability import Decision, HostVulnerability
from patchorch.errors import (
    AdvisoryError,
    AuditChainError,
    ConfigError,
    ExecutionError,
    InputError,
    InventoryError,
    PatchorchError,
    PlanError,
    PolicyError,
    RenderError,
    RunStateError,
    SourceError,
    StoreError,
)
from patchorch.execution.base import BatchRequest, Executor, HostEvent
from patchorch.orchestrator.clock import Clock, DrillClock, SystemClock
from patchorch.orchestrator.engine import Orchestrator, RolloutReport
from patchorch.orchestrator.observers import LogObserver, Observer
from patchorch.orchestrator.planning import plan_rollout
from patchorch.orchestrator.workspace import Workspace

__version__ = "0.1.0"

__all__ = [
    "AdvisoryError",
    "AuditChainError",
    "Batch",
    "BatchOutcome",
    "BatchRequest",
    "Clock",
    "ConfigError",
    "Criticality",
    "Decision",
    "DrillClock",
    "DrillReport",
    "Exclusion",
    "ExecutionError",
    "Executor",
    "Exposure",
    "Fleet",
    "Gate",
    "GateDecision",
    "Host",
    "HostEvent",
    "HostFailures",
    "HostOutcome",
    "HostStatus",
    "HostVulnerability",
    "InputError",
    "InventoryError",
    "Lifecycle",
    "LogObserver",
    "Mode",
    "Observer",
    "Orchestrator",
    "PackageSpec",
    "PatchorchError",
    "PlanError",
    "PlannedHost",
    "Policy",
    "PolicyError",
    "RebootPolicy",
    "RenderError",
    "RoleResult",
    "RolloutPlan",
    "RolloutReport",
    "RunKind",
    "RunRecord",
    "RunState",
    "RunStateError",
    "SourceError",
    "Stage",
    "StageKind",
    "StageState",
    "StoreError",
    "SystemClock",
    "UpdateScope",
    "UpdateSpec",
    "Verdict",
    "Workspace",
    "__version__",
    "plan_rollout",
]
