"""Host claims as the orchestrator uses them: claim before dispatch, keep the lease alive while a batch runs, release
once the outcome is recorded. The rules (who may take a claim over, and when) live in `RunStore.claim_hosts`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta

from patchorch.domain.run import CLAIM_LEASE
from patchorch.orchestrator.locks import heartbeat
from patchorch.store.runs import RunStore, holder_name


class HostClaims:
    """This process's claims in `store`, held as `holder_name()` with leases of `lease`."""

    def __init__(self, store: RunStore, *, lease: timedelta = CLAIM_LEASE, holder: str | None = None) -> None:
        self.store = store
        self.lease = lease
        self.holder = holder or holder_name()

    def claim(self, run_id: str, hosts: Sequence[str]) -> None:
        """Claim all of `hosts` for `run_id`, or raise HostClaimedError naming the claim in the way."""
        self.store.claim_hosts(run_id, hosts, holder=self.holder, lease=self.lease)

    def release(self, run_id: str, hosts: Sequence[str]) -> None:
        """Release `hosts`: their outcome is recorded."""
        self.store.release_hosts(run_id, hosts, holder=self.holder)

    @contextmanager
    def kept(self, run_id: str) -> Iterator[None]:
        """Renew this process's leases of `run_id` on a timer while the block runs (a batch can outlast a lease)."""
        with heartbeat(
            lambda: self.store.renew_claims(run_id, holder=self.holder, lease=self.lease),
            every=self.lease / 4,
            name=f"claims-{run_id}",
        ):
            yield
