"""patchorch: staged, gated and recorded patch rollouts over Ansible.

    >>> import patchorch
    >>> workspace = patchorch.Workspace.open(".patchorch")                          # doctest: +SKIP
    >>> plan = workspace.plan(["inventories/example-mail"], emergency=True)          # doctest: +SKIP
    >>> report = workspace.start(plan, inventory=["inventories/example-mail"])       # doctest: +SKIP

`plan_rollout` plans without running anything; `Workspace` plans, renders, runs, resumes and records.
"""

from __future__ import annotations

import importlib
import typing

# Names resolve on first use (PEP 562), so that importing one submodule, such as the CLI, does not import the store,
# the engine and their dependencies; type checkers read the imports below.
if typing.TYPE_CHECKING:
    from patchorch.clock import Clock, DrillClock, SystemClock
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
    from patchorch.domain.run import RunInputs, RunKind, RunRecord, RunState, StageState
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
    from patchorch.orchestrator.engine import Orchestrator, RolloutReport, StageContent
    from patchorch.orchestrator.observers import LogObserver, Observer
    from patchorch.orchestrator.planning import plan_rollout
    from patchorch.orchestrator.workspace import Workspace

_EXPORTS: dict[str, str] = {
    "DrillReport": "patchorch.domain.drill",
    "Criticality": "patchorch.domain.fleet",
    "Exposure": "patchorch.domain.fleet",
    "Fleet": "patchorch.domain.fleet",
    "Host": "patchorch.domain.fleet",
    "Lifecycle": "patchorch.domain.fleet",
    "RebootPolicy": "patchorch.domain.fleet",
    "Gate": "patchorch.domain.gates",
    "GateDecision": "patchorch.domain.gates",
    "Verdict": "patchorch.domain.gates",
    "BatchOutcome": "patchorch.domain.outcomes",
    "HostFailures": "patchorch.domain.outcomes",
    "HostOutcome": "patchorch.domain.outcomes",
    "HostStatus": "patchorch.domain.outcomes",
    "RoleResult": "patchorch.domain.outcomes",
    "Batch": "patchorch.domain.plan",
    "Exclusion": "patchorch.domain.plan",
    "Mode": "patchorch.domain.plan",
    "PackageSpec": "patchorch.domain.plan",
    "PlannedHost": "patchorch.domain.plan",
    "RolloutPlan": "patchorch.domain.plan",
    "Stage": "patchorch.domain.plan",
    "StageKind": "patchorch.domain.plan",
    "UpdateScope": "patchorch.domain.plan",
    "UpdateSpec": "patchorch.domain.plan",
    "Policy": "patchorch.domain.policy",
    "RunInputs": "patchorch.domain.run",
    "RunKind": "patchorch.domain.run",
    "RunRecord": "patchorch.domain.run",
    "RunState": "patchorch.domain.run",
    "StageState": "patchorch.domain.run",
    "Decision": "patchorch.domain.vulnerability",
    "HostVulnerability": "patchorch.domain.vulnerability",
    "AdvisoryError": "patchorch.errors",
    "AuditChainError": "patchorch.errors",
    "ConfigError": "patchorch.errors",
    "ExecutionError": "patchorch.errors",
    "InputError": "patchorch.errors",
    "InventoryError": "patchorch.errors",
    "PatchorchError": "patchorch.errors",
    "PlanError": "patchorch.errors",
    "PolicyError": "patchorch.errors",
    "RenderError": "patchorch.errors",
    "RunStateError": "patchorch.errors",
    "SourceError": "patchorch.errors",
    "StoreError": "patchorch.errors",
    "BatchRequest": "patchorch.execution.base",
    "Executor": "patchorch.execution.base",
    "HostEvent": "patchorch.execution.base",
    "Clock": "patchorch.clock",
    "DrillClock": "patchorch.clock",
    "SystemClock": "patchorch.clock",
    "Orchestrator": "patchorch.orchestrator.engine",
    "RolloutReport": "patchorch.orchestrator.engine",
    "StageContent": "patchorch.orchestrator.engine",
    "LogObserver": "patchorch.orchestrator.observers",
    "Observer": "patchorch.orchestrator.observers",
    "plan_rollout": "patchorch.orchestrator.planning",
    "Workspace": "patchorch.orchestrator.workspace",
}

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
    "RunInputs",
    "RunKind",
    "RunRecord",
    "RunState",
    "RunStateError",
    "SourceError",
    "Stage",
    "StageContent",
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


def __getattr__(name: str) -> object:
    """Import an exported name from its module on first use, then keep it in the package namespace."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value: object = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
