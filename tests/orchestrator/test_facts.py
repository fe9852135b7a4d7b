"""refresh_facts stores the typed facts the executor returns and passes the executor's failures on (no fleet)."""

from __future__ import annotations

from pathlib import Path

from patchorch.domain.advisory import HostFacts, OsRelease, PackageFact
from patchorch.domain.outcomes import BatchOutcome
from patchorch.execution.base import BatchRequest, FactsRequest, FactsResult
from patchorch.orchestrator.facts import refresh_facts
from patchorch.orchestrator.workspace import Workspace
from patchorch.sources.inventory import load_fleet
from patchorch.store.advisories import AdvisoryStore
from patchorch.store.runs import create_store_engine
from patchorch.testing import FakeClock, MockExecutor

INVENTORY = Path(__file__).resolve().parents[2] / "inventories" / "example-mail"


def _no_batch(request: BatchRequest) -> BatchOutcome:
    raise AssertionError(f"refreshing facts dispatched a batch: {request}")


def test_refresh_stores_the_executors_typed_facts_and_keeps_its_failures(tmp_path: Path) -> None:
    """Hosts with facts are stored with their package count; the first host the executor failed is reported failed."""
    requests: list[FactsRequest] = []

    def facts(request: FactsRequest) -> FactsResult:
        requests.append(request)
        away, *answered = request.hosts
        package = PackageFact(name="acme-mta", version="1.0-1", arch="all")
        typed = HostFacts(os=OsRelease(family="debian", version="12", release="12.5"), packages=(package,))
        return FactsResult(facts=dict.fromkeys(answered, typed), failed={away: "ssh: connection refused"})

    clock = FakeClock()
    executor = MockExecutor(_no_batch, facts=facts)
    workspace = Workspace.open(tmp_path / "state", actor="test", executor=executor, clock=clock)
    store = AdvisoryStore(create_store_engine(f"sqlite:///{tmp_path / 'advisories.db'}"))
    store.create_tables()
    fleet = load_fleet([INVENTORY]).fleet
    result = refresh_facts(workspace, store, fleet, [INVENTORY])
    asked = requests[0].hosts
    assert result.failed == {asked[0]: "ssh: connection refused"}
    assert result.refreshed == dict.fromkeys(sorted(asked[1:]), 1)
    stored = store.facts(asked[1])
    assert stored is not None
    assert [p.name for p in stored[0]] == ["acme-mta"]
    assert stored[1] == clock.now()
    assert store.facts(asked[0]) is None
