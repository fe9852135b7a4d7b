"""The executor seam: one protocol, a real implementation over ansible-runner, a simulated one in patchorch.testing."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

from patchorch.domain.advisory import HostFacts
from patchorch.domain.outcomes import BatchOutcome, HostOutcome

# The environment variable every ansible-playbook that patchorch starts carries, so that `resume` can find a
# playbook of a run that outlived a killed orchestrator.
RUN_MARKER_ENV = "PATCHORCH_RUN_ID"


class TaskStatus(StrEnum):
    """What one task did on one host, as Ansible reports it."""

    OK = "ok"
    CHANGED = "changed"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class HostEvent:
    """One task's result on one host, for progress displays and logs (never for outcomes: those need evidence)."""

    stage: str
    batch: int
    attempt: int
    host: str
    task: str
    status: TaskStatus


# How long what a playbook learned about a host stays in the fact cache (Ansible's fact_caching_timeout, counted from
# the host's last write). Within it, a host's apply takes its prepare phase's reads; later it reads the host again, so
# a host that waited, say, for its maintenance window is never patched on what it looked like long before.
FACT_CACHE_SECONDS = 900


@dataclass(frozen=True)
class BatchRequest:
    """Run one stage playbook on the hosts of one batch (one attempt).

    `inventory` lists every source Ansible must combine (the user's inventory and the generated stage groups);
    `hosts` becomes Ansible's --limit, so the playbook's plays for other batches match no host.
    """

    run_id: str
    stage: str
    batch: int
    attempt: int
    hosts: tuple[str, ...]
    playbook: Path
    inventory: tuple[Path, ...]
    ansible_cfg: Path | None = None
    check: bool = False
    forks: int = 5
    timeout: int | None = None  # seconds for the whole batch; None: no limit
    phase: str = "apply"  # "prepare": the non-disruptive prepare playbook (the playbook decides; fakes read this)
    # Where the run's playbooks keep what they learned about each host (Ansible's jsonfile fact cache): the apply then
    # takes the facts, versions and targets its host's prepare phase read instead of reading them again (the role
    # decides; see FACT_CACHE_SECONDS). None: no cache, every playbook reads for itself.
    fact_cache: Path | None = None


@dataclass(frozen=True)
class FactsRequest:
    """Read installed packages and OS details from `hosts` with the executor's own read-only play."""

    run_id: str
    hosts: tuple[str, ...]
    inventory: tuple[Path, ...]
    forks: int = 10


@dataclass(frozen=True)
class FactsResult:
    """Validated facts per host that answered; the hosts that did not (or sent facts that do not validate), with why."""

    facts: Mapping[str, HostFacts]
    failed: Mapping[str, str]


@dataclass(frozen=True)
class VaultId:
    """One Ansible vault id: a password held in memory (answered at Ansible's prompt), or a file or script of the
    user's that Ansible reads itself (`source`, passed as `--vault-id label@source`)."""

    label: str
    password: str | None = field(default=None, repr=False)
    source: str | None = None


@dataclass(frozen=True)
class Credentials:
    """Secrets for Ansible's own prompts: the become password and vault passwords. Held in memory and typed into
    ansible-playbook's prompts; never written to a file, an environment variable or a log."""

    become_password: str | None = field(default=None, repr=False)
    vault_ids: tuple[VaultId, ...] = ()

    def secrets(self) -> tuple[str, ...]:
        """Every secret value, for scrubbing text patchorch keeps."""
        values = [self.become_password, *(v.password for v in self.vault_ids)]
        return tuple(value for value in values if value)


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C reached the executor: the playbook was stopped; `outcomes` holds what the events proved so far."""

    def __init__(self, outcomes: tuple[HostOutcome, ...]) -> None:
        super().__init__("interrupted")
        self.outcomes = outcomes


EventCallback = Callable[[HostEvent], None]
CancelCheck = Callable[[], bool]
# Blocks until the orchestrator decides whether a batch started ahead of its turn may disrupt its hosts: True (go on
# past the role's gate) or False (end them there, untouched).
Release = Callable[[], bool]


@runtime_checkable
class Executor(Protocol):
    """Runs one batch of one stage and returns typed per-host outcomes; host failures are data, never exceptions.

    `on_event` is called for every task result (from the executor's thread); `cancelled` is polled and, once it
    returns True, the running playbook is stopped and every host without evidence is reported UNKNOWN.
    With `release`, the batch is started ahead of its turn: its hosts do their read-only steps, then wait at the
    role's gate for `release()`; when it returns False they end there untouched (UNKNOWN: no result).
    Raises ExecutionError only when the playbook could not be run at all.
    """

    def run_batch(
        self,
        request: BatchRequest,
        *,
        on_event: EventCallback | None = None,
        cancelled: CancelCheck | None = None,
        release: Release | None = None,
    ) -> BatchOutcome:
        """Run the batch and fold what happened into a BatchOutcome."""
        ...

    def gather(self, request: FactsRequest) -> FactsResult:
        """Run the read-only facts play and return each host's facts, validated."""
        ...
