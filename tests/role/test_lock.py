"""The role's lock precheck on real test hosts: it waits for a package manager lock another process holds, bounded.

The other process is a real lock holder on the host (as a package manager of an attempt whose connection was cut
would be): it takes dpkg's frontend lock with fcntl and lets go when the test removes its marker file, or after
`seconds` at the latest, so that nothing outlives the test. The waiting test releases it only once Ansible has
reported that the probe found the lock held and is retrying, so the wait is proven whatever the machine's speed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from patchorch.rendering import RenderedRun, render_run
from patchorch.testing.fleet import TestFleet
from tests.role.ansible_run import run_batch
from tests.role.plans import FAST_CHECKS, one_batch_plan

pytestmark = [pytest.mark.fleet, pytest.mark.usefixtures("fresh_hosts")]

LOCK_TASK = "Check that no other process holds the package manager's lock"
HoldLock = Callable[[str, int], None]
MARKER = "/run/patchorch-test-lock-holder"
HOLDER = """
import fcntl, os, sys, time
fd = os.open("/var/lib/dpkg/lock-frontend", os.O_RDWR | os.O_CREAT)
fcntl.lockf(fd, fcntl.LOCK_EX)
open("{marker}", "w").close()
deadline = time.monotonic() + {seconds}
while os.path.exists("{marker}") and time.monotonic() < deadline:
    time.sleep(0.2)
"""


def _render(fleet: TestFleet, host: str, directory: Path, lock_wait: int) -> RenderedRun:
    directory.mkdir(parents=True, exist_ok=True)
    settings = directory / "role-vars.yml"
    settings.write_text(FAST_CHECKS + f"patchorch_patch_lock_wait: {lock_wait}\n")
    plan = one_batch_plan((host,))
    return render_run(plan, directory / "run", inventory_sources=[fleet.inventory_path], extra_vars_from=settings)


@pytest.fixture
def hold_lock(test_fleet: TestFleet) -> Iterator[HoldLock]:
    """`hold_lock(host, seconds)` starts a holder of dpkg's lock on `host`; it is released after the test."""
    held: list[str] = []

    def start(host: str, seconds: int) -> None:
        script = HOLDER.format(marker=MARKER, seconds=seconds)
        test_fleet.exec(host, "rm", "-f", MARKER)
        test_fleet.exec(host, "sh", "-c", f"setsid python3 -c '{script}' >/dev/null 2>&1 &")
        held.append(host)
        # The holder writes its marker once it holds the lock; wait for it on the host (bounded).
        test_fleet.exec(host, "sh", "-c", f"for i in $(seq 100); do [ -e {MARKER} ] && exit 0; sleep 0.1; done; exit 1")

    yield start
    for host in held:
        test_fleet.exec(host, "rm", "-f", MARKER, check=False)


def test_precheck_waits_for_a_lock_that_is_released(test_fleet: TestFleet, tmp_path: Path, hold_lock: HoldLock) -> None:
    """A lock held for a few seconds is waited for: the probe is retried until it is free and the prepare passes."""
    hold_lock("relay1", 120)
    retries: list[str] = []

    def release_on_retry(event: dict[str, Any]) -> None:
        if event.get("event") == "runner_retry" and (event.get("event_data") or {}).get("task") == LOCK_TASK:
            retries.append(LOCK_TASK)
            test_fleet.exec("relay1", "rm", "-f", MARKER)

    rendered = _render(test_fleet, "relay1", tmp_path, lock_wait=60)
    run = run_batch(
        rendered,
        "canary",
        ["relay1"],
        tmp_path / "prepare",
        playbook=rendered.prepare_playbook,
        on_event=release_on_retry,
    )
    probe = run.task_results["relay1"][LOCK_TASK]
    assert run.failed.get("relay1") is None, run.stdout[-3000:]
    assert retries
    assert probe["attempts"] >= 2
    assert probe["stdout"] == "free"


def test_precheck_fails_naming_the_lock_held_beyond_the_wait(
    test_fleet: TestFleet, tmp_path: Path, hold_lock: HoldLock
) -> None:
    """With no wait allowed, a held lock fails the precheck at once, naming the lock file; nothing is installed."""
    hold_lock("imap2", 60)
    rendered = _render(test_fleet, "imap2", tmp_path, lock_wait=0)
    run = run_batch(rendered, "canary", ["imap2"], tmp_path / "prepare", playbook=rendered.prepare_playbook)
    assert LOCK_TASK in run.failed["imap2"]
    assert "held by another process: /var/lib/dpkg/lock-frontend" in run.stdout
    installed = test_fleet.exec("imap2", "dpkg-query", "-W", "-f", "${Version}", "acme-mta").stdout
    assert installed == "1.0-1"
