"""Processes of a run that outlived their orchestrator (kill -9): resume waits for them only while they make progress,
stops one that stalls, and records what it saw. Real child processes, marked as the run's like ansible-playbook."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from patchorch.domain.run import RunInputs, RunState
from patchorch.execution.base import RUN_MARKER_ENV
from patchorch.orchestrator.claims import HostClaims
from patchorch.orchestrator.engine import Orchestrator
from patchorch.orchestrator.processes import SurvivorWatch
from patchorch.store.runs import RunStore
from patchorch.testing import FakeClock, SimulatedExecutor
from tests.plans import FakeContent, make_plan

# Sleeps without reading or writing anything: a playbook that finished its host but never exited.
HANGS = "import sys, time; print('ready', flush=True); time.sleep(600)"
# Writes a line every 50 ms for 2.5 s, then exits: a playbook still at work on its host.
WORKS = (
    "import sys, time; print('ready', flush=True)\n"
    "with open(sys.argv[1], 'w') as out:\n"
    "    for n in range(50):\n"
    "        out.write(f'event {n}\\n'); out.flush(); time.sleep(0.05)\n"
)


class _Ticks:
    """A monotonic clock that moves only when slept on: a watch of a stalled process ends without real waiting."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def survivor(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A child process marked as belonging to a run of its own (the code it runs is the test's parameter)."""
    run_id = f"orphan-{os.getpid()}-{request.node.name[-12:]}"
    code = request.param
    environment = dict(os.environ, **{RUN_MARKER_ENV: run_id})
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path / "events")], env=environment, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "ready\n"
    yield run_id, child
    child.kill()
    child.wait()


@pytest.mark.parametrize("survivor", [HANGS], indirect=True)
def test_a_survivor_without_progress_is_given_up_after_the_stall_time(
    survivor: tuple[str, subprocess.Popen[str]],
) -> None:
    """A process that neither reads nor writes is left to be stopped after `stall` seconds, not after the limit."""
    run_id, child = survivor
    ticks = _Ticks()
    seen = SurvivorWatch(stall=120, limit=1800, monotonic=ticks.monotonic, sleep=ticks.sleep).watch(run_id)
    assert seen is not None
    assert seen.ended == "stalled"
    assert seen.left == (child.pid,)
    assert 120 <= seen.waited < 1800
    assert "time.sleep(600)" in seen.found[child.pid]


@pytest.mark.parametrize("survivor", [WORKS], indirect=True)
def test_a_survivor_making_progress_is_waited_for_until_it_exits(survivor: tuple[str, subprocess.Popen[str]]) -> None:
    """A process that keeps writing is waited for beyond the stall time, until it exits by itself (real time)."""
    run_id, child = survivor
    seen = SurvivorWatch(stall=1.0, limit=60, poll=0.1).watch(run_id)
    child.wait(timeout=30)  # reap it: a zombie no longer counts, but the fixture must not kill a live one early
    assert seen is not None
    assert seen.ended == "exited"
    assert seen.left == ()
    assert seen.waited > 1.0
    assert seen.progress > 0


@pytest.mark.parametrize("survivor", [HANGS], indirect=True)
def test_resume_stops_a_stalled_survivor_and_records_what_it_saw(
    survivor: tuple[str, subprocess.Popen[str]], store_url: str
) -> None:
    """Resume finds the run's hung process, waits the stall time, stops it, records both, then finishes the run."""
    run_id, child = survivor
    clock = FakeClock()
    store = RunStore.open(store_url, actor="bob@bastion", clock=clock)
    lease = HostClaims(store).lease
    HostClaims(store, holder="bastion-2:77").claim("other", ["b"])
    ticks = _Ticks()
    watch = SurvivorWatch(stall=120, monotonic=ticks.monotonic, sleep=ticks.sleep)
    orchestrator = Orchestrator(store, SimulatedExecutor(clock=clock), clock=clock, survivors=watch)
    content = FakeContent()
    report = orchestrator.start(make_plan([[["a"]], [["b"]]]), content, RunInputs(), run_id=run_id)
    assert report.state is RunState.PAUSED
    clock.advance(lease.total_seconds() + 1)
    report = orchestrator.resume(run_id, content)
    assert report.state is RunState.COMPLETED, report.reason
    assert child.wait(timeout=30) != 0  # terminated
    records = {r.event: r.data for r in store.audit_log(run_id)}
    assert records["survivors-watched"]["ended"] == "stalled"
    assert records["survivors-watched"]["left"] == [child.pid]
    assert records["survivors-terminated"] == {"pids": []}
