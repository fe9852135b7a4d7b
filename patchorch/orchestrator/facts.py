"""Installed-package facts: gathered from hosts by the executor's read-only play, kept in the advisory store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from patchorch.domain.eligibility import exclusion_detail, exclusion_reason
from patchorch.domain.fleet import Fleet
from patchorch.store.advisories import AdvisoryStore

if TYPE_CHECKING:  # the workspace calls this module (`Workspace.refresh_facts`)
    from patchorch.orchestrator.workspace import Workspace


@dataclass(frozen=True)
class FactsRefresh:
    """Which hosts' facts were refreshed (with their package counts) and which failed, with the reason."""

    refreshed: dict[str, int]
    failed: dict[str, str]
    skipped: dict[str, str]


def refresh_facts(
    workspace: Workspace,
    store: AdvisoryStore,
    fleet: Fleet,
    inventory: Sequence[Path],
    *,
    in_limit: frozenset[str] | None = None,
) -> FactsRefresh:
    """Read installed packages and OS details from every reachable, active host (in the limit) and store them.

    Decommissioned, excluded and known-unavailable hosts are skipped with the reason; hosts that do not answer keep
    their older facts, which age into UNKNOWN rather than ever reading as "not installed".
    """
    skipped: dict[str, str] = {}
    hosts: list[str] = []
    for member in fleet.hosts:
        if in_limit is not None and member.name not in in_limit:
            continue  # not asked about, so not reported
        reason = exclusion_reason(member)
        if reason is None:
            hosts.append(member.name)
        else:
            skipped[member.name] = exclusion_detail(member, reason)
    if not hosts:
        return FactsRefresh({}, {}, skipped)
    result = workspace.gather_facts(inventory, hosts)
    gathered_at = workspace.clock.now()
    refreshed: dict[str, int] = {}
    failed = dict(result.failed)
    for host, facts in sorted(result.facts.items()):
        store.save_facts(host, facts.packages, facts.release, gathered_at)
        refreshed[host] = len(facts.packages)
    return FactsRefresh(refreshed, failed, skipped)
