"""Record real ansible-runner event streams from a small test fleet, as fixtures for tests/execution.

Run it once, under the shared fleet lock, from the repository root:

    flock /work/wt/fleet.lock .venv/bin/python scripts/record_runner_events.py tests/fixtures/runner_events

It creates a 4-host fleet of its own (removed at the end), runs a check-mode rollout, a rollout where one host is
already patched, one fails its upgrade and one stops answering before its stage, then a facts play with that host
still away. Every stream the executor folds is written as `<name>.json.gz` ({request, events}; `zcat` shows it),
with the paths of this machine replaced by placeholders; of the check-mode run only the canary's stream is kept (the
waves repeat it). The fleet logs in with a throw-away SSH key; no password exists.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import ansible_runner
import yaml

import patchorch.execution.ansible as ansible_executor
from patchorch.domain.outcomes import BatchOutcome
from patchorch.domain.plan import PackageSpec, UpdateScope, UpdateSpec
from patchorch.domain.run import RunInputs
from patchorch.execution.base import BatchRequest, FactsRequest, FactsResult
from patchorch.orchestrator.workspace import Workspace
from patchorch.testing import FakeClock
from patchorch.testing.fleet import Fault, TestFleet, free_base_port

ACME = UpdateSpec(scope=UpdateScope.PACKAGES, packages=(PackageSpec(name="acme-mta"),))


class _RecordingRunner:
    """ansible_runner with `run_async` wrapped so that every event reaches `sink` before the executor's fold."""

    def __init__(self, sink: Callable[[Mapping[str, Any]], None]) -> None:
        self._sink = sink

    def run_async(self, **kwargs: Any) -> Any:
        handler = kwargs["event_handler"]

        def record(event: Mapping[str, Any]) -> bool:
            self._sink(json.loads(json.dumps(event, default=str)))
            return bool(handler(event))

        kwargs["event_handler"] = record
        return ansible_runner.run_async(**kwargs)


class _Recorder:
    """Wraps the real executor: names each stream after its request, applies scenario faults before a batch."""

    def __init__(self, inner: ansible_executor.AnsibleRunnerExecutor, out: Path, scrub: Callable[[str], str]) -> None:
        self.inner = inner
        self.out = out
        self.scrub = scrub
        self.scenario = ""
        self.before_batch: Callable[[BatchRequest], None] | None = None
        self.stages: frozenset[str] | None = None  # the stages whose streams are kept (None: all)
        self._events: list[Mapping[str, Any]] = []
        ansible_executor.ansible_runner = _RecordingRunner(self._events.append)  # type: ignore[assignment]

    def run_batch(self, request: BatchRequest, **kwargs: Any) -> BatchOutcome:
        if self.before_batch is not None:
            self.before_batch(request)
        self._events.clear()
        outcome = self.inner.run_batch(request, **kwargs)
        if self.stages is None or request.stage in self.stages:
            name = f"{self.scenario}-{request.stage}-b{request.batch}-a{request.attempt}"
            facts = {"stage": request.stage, "batch": request.batch, "attempt": request.attempt}
            facts.update(hosts=list(request.hosts), check=request.check, phase=request.phase)
            self._write(name, facts)
        return outcome

    def gather(self, request: FactsRequest) -> FactsResult:
        self._events.clear()
        result = self.inner.gather(request)
        self._write(f"{self.scenario}-facts", {"hosts": list(request.hosts), "fact": ansible_executor.FACTS_FACT})
        return result

    def _write(self, name: str, request: dict[str, Any]) -> None:
        text = json.dumps({"request": request, "events": list(self._events)}, indent=1, sort_keys=True)
        (self.out / f"{name}.json.gz").write_bytes(gzip.compress((self.scrub(text) + "\n").encode(), mtime=0))


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="patchorch-events-"))
    fleet = TestFleet(f"events-{os.getpid()}", 4, base_port=free_base_port(4, start=46000), state_dir=work / "fleet")

    def scrub(text: str) -> str:
        repo = Path(__file__).resolve().parent.parent
        return text.replace(str(work), "/WORK").replace(str(repo), "/REPO").replace(Path.home().as_posix(), "/HOME")

    fleet.create()
    try:
        names = [h.name for h in fleet.hosts]
        canary = next(h.name for h in fleet.hosts if h.canary)
        others = [n for n in names if n != canary]
        patched_before, failing, away = others[0], others[1], others[2]
        policy = yaml.safe_load(fleet.policy_path.read_text())
        policy["failure_budget"] = 5
        for cls in policy["classes"].values():
            cls["failure_budget"] = 5
        policy["retries"] = {"unreachable": 0, "backoff_seconds": 1}
        policy_path = work / "policy.yml"
        policy_path.write_text(yaml.safe_dump(policy))

        recorder = _Recorder(ansible_executor.AnsibleRunnerExecutor(work_dir=work / "tmp"), out, scrub)
        workspace = Workspace.open(work / "state", actor="recorder", clock=FakeClock(), executor=recorder)
        inventory = [fleet.inventory_path]

        recorder.scenario = "check"
        recorder.stages = frozenset({"canary"})
        plan = workspace.plan(inventory, policy=policy_path, emergency=True, update=ACME)
        report = workspace.start(
            plan, inventory=inventory, inputs=RunInputs(inventory=(str(inventory[0]),), check=True)
        )
        print("check run:", report.state, report.reason)

        fleet.exec(patched_before, "apt-get", "install", "-y", "-q", "acme-mta=1.0-2")
        fleet.set_fault(failing, Fault.FAILING_UPGRADE)

        def cut_off(request: BatchRequest) -> None:
            if request.phase == "apply" and away in request.hosts:
                fleet.set_fault(away, Fault.UNREACHABLE)

        recorder.scenario = "mixed"
        recorder.stages = None
        recorder.before_batch = cut_off
        plan = workspace.plan(inventory, policy=policy_path, emergency=True, update=ACME)
        report = workspace.start(plan, inventory=inventory)
        print("mixed run:", report.state, report.reason)
        print("hosts:", {"canary": canary, "patched_before": patched_before, "failing": failing, "away": away})

        recorder.scenario = "gather"
        fleet.set_fault(away, Fault.UNREACHABLE)
        result = workspace.gather_facts(inventory, names)
        print("facts:", sorted(result.facts), result.failed)
    finally:
        fleet.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
