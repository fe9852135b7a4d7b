"""The apply takes what its host's prepare phase read (facts, versions before, targets) from the run's fact cache,
once and only while it is fresh; otherwise it reads the host itself. Real test hosts."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from patchorch.execution.base import FACT_CACHE_SECONDS
from patchorch.testing.fleet import TestFleet
from tests.role.ansible_run import run_batch
from tests.role.plans import one_batch_plan, render_for

pytestmark = [pytest.mark.fleet, pytest.mark.usefixtures("fresh_hosts")]

READ_BEFORE = "Read the installed packages before the update"
GATHER = "Gather the minimal facts (package manager, distribution, Python)"
TAKE_PREPARED = "Take the versions before and the targets that the prepare phase read (nothing was installed since)"


def test_an_apply_takes_its_prepare_phases_reads_once(test_fleet: TestFleet, tmp_path: Path) -> None:
    """With the run's fact cache, the apply after the prepare phase neither gathers facts nor reads the packages again
    and exports the versions the prepare phase read; the next apply of that host reads the host again (its truth)."""
    rendered = render_for(test_fleet, one_batch_plan(("relay1",)), tmp_path)
    cache = tmp_path / "facts"
    first = run_batch(rendered, "canary", ["relay1"], tmp_path / "first", fact_cache=cache)
    result = first.result("relay1")
    assert (result.failed_step, result.versions_before, result.versions_after) == (
        None,
        {"acme-mta": "1.0-1"},
        {"acme-mta": "1.0-2"},
    )
    assert TAKE_PREPARED in first.task_results["relay1"]
    assert not {GATHER, READ_BEFORE} & set(first.task_results["relay1"])

    again = run_batch(rendered, "canary", ["relay1"], tmp_path / "again", fact_cache=cache, prepare=False)
    assert {GATHER, READ_BEFORE} <= set(again.task_results["relay1"])
    assert TAKE_PREPARED not in again.task_results["relay1"]
    assert again.result("relay1").versions_before == {"acme-mta": "1.0-2"}


def test_an_apply_reads_the_host_again_when_its_prepare_is_older_than_the_cache_keeps(
    test_fleet: TestFleet, tmp_path: Path
) -> None:
    """A prepare phase older than FACT_CACHE_SECONDS (a host that waited for its window) is not trusted: the apply
    gathers facts and reads the versions itself."""
    rendered = render_for(test_fleet, one_batch_plan(("webmail1",)), tmp_path)
    cache = tmp_path / "facts"
    run_batch(
        rendered, "canary", ["webmail1"], tmp_path / "prepare", playbook=rendered.prepare_playbook, fact_cache=cache
    )
    assert any(cache.iterdir())
    stale = time.time() - FACT_CACHE_SECONDS - 60
    for entry in cache.iterdir():
        os.utime(entry, (stale, stale))
    run = run_batch(rendered, "canary", ["webmail1"], tmp_path / "apply", fact_cache=cache, prepare=False)
    assert {GATHER, READ_BEFORE} <= set(run.task_results["webmail1"])
    assert TAKE_PREPARED not in run.task_results["webmail1"]
    assert run.result("webmail1").versions_before == {"acme-mta": "1.0-1"}
