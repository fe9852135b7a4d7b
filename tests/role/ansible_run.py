"""Run one batch of a rendered stage playbook the way the executor does, and read what Ansible reported per host.

Test-only: it drives ansible-runner directly (library code outside patchorch.execution never imports it).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner

from patchorch.domain.outcomes import RoleResult
from patchorch.execution.ansible import fact_cache_env
from patchorch.rendering import RenderedRun

EXPORT_TASK = "patchorch_patch : export result"


@dataclass
class BatchRun:
    """Per host: the exported RoleResult, the failed and unreachable tasks, and every task result by task name."""

    rc: int
    results: dict[str, RoleResult] = field(default_factory=dict)
    failed: dict[str, list[str]] = field(default_factory=dict)
    unreachable: dict[str, str] = field(default_factory=dict)
    task_results: dict[str, dict[str, Any]] = field(default_factory=dict)
    plays: list[str] = field(default_factory=list)
    stdout: str = ""

    def result(self, host: str) -> RoleResult:
        """The result `host` exported; fails the test with Ansible's output when there is none."""
        assert host in self.results, f"{host} exported no patchorch_result:\n{self.stdout[-4000:]}"
        return self.results[host]


def run_batch(
    rendered: RenderedRun,
    stage: str,
    hosts: Sequence[str],
    private_dir: Path,
    *,
    check: bool = False,
    playbook: Path | None = None,
    path_prefix: Path | None = None,
    prepare: bool = True,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    fact_cache: Path | None = None,
) -> BatchRun:
    """`ansible-playbook -i SOURCES --limit HOSTS STAGE_PLAYBOOK` through ansible-runner with the run's ansible.cfg.

    `path_prefix` is searched first for commands (fake package managers for a local host). With `prepare` (the
    default for stage playbooks) the run's prepare playbook runs on the hosts first, as patchorch and site.yml do: the
    stage playbook installs from the cache the prepare phase filled and refreshes nothing. `on_event` sees each
    runner event as it arrives, while the playbook runs. `fact_cache` keeps Ansible's fact cache there, as the
    executor does for a run (BatchRequest.fact_cache).
    """
    if prepare and playbook is None:
        run_batch(
            rendered,
            stage,
            hosts,
            private_dir / "prepare",
            check=check,
            playbook=rendered.prepare_playbook,
            path_prefix=path_prefix,
            prepare=False,
            fact_cache=fact_cache,
        )
    events: list[dict[str, Any]] = []

    def handle(event: dict[str, Any]) -> bool:
        events.append(event)
        if on_event is not None:
            on_event(event)
        return True

    private_dir.mkdir(parents=True, exist_ok=True)
    runner = ansible_runner.run(
        private_data_dir=str(private_dir),
        playbook=str(playbook or rendered.stage_playbook(stage)),
        inventory=[str(p) for p in rendered.inventory_sources],
        limit=",".join(hosts),
        envvars={
            "ANSIBLE_CONFIG": str(rendered.ansible_cfg),
            "ANSIBLE_NOCOLOR": "1",
            **(fact_cache_env(fact_cache) if fact_cache is not None else {}),
            "PATH": os.pathsep.join(
                [
                    *([str(path_prefix)] if path_prefix else []),
                    str(Path(sys.executable).parent),
                    os.environ.get("PATH", ""),
                ]
            ),
        },
        cmdline="--check" if check else None,
        fact_cache_type="",  # as the executor: the fact cache is `fact_cache`'s, or none, never runner's own
        quiet=True,
        event_handler=handle,
    )
    run = BatchRun(rc=int(runner.rc), stdout=runner.stdout.read())
    for event in events:
        data = event.get("event_data") or {}
        host, task, res = data.get("host"), str(data.get("task") or ""), data.get("res") or {}
        if event.get("event") == "playbook_on_play_start":
            run.plays.append(str(data.get("play")))
        if not host:
            continue
        if event.get("event") == "runner_on_ok":
            run.task_results.setdefault(host, {})[task] = res
            facts = res.get("ansible_facts") or {}
            if data.get("task_action", "").endswith("set_fact") and "patchorch_result" in facts:
                assert f"{data.get('role')} : {task}" == EXPORT_TASK
                run.results[host] = RoleResult.model_validate(facts["patchorch_result"])
        elif event.get("event") == "runner_on_failed" and not data.get("ignore_errors"):
            run.failed.setdefault(host, []).append(task)
        elif event.get("event") == "runner_on_unreachable":
            run.unreachable[host] = str(res.get("msg", ""))
    return run
