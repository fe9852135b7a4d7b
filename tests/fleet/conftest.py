"""Run real `ansible` ad-hoc commands against the session's test fleet and read what Ansible reported per host."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from patchorch.testing.fleet import TestFleet

ANSIBLE = Path(sys.executable).with_name("ansible")
# The default ad-hoc output: `host | STATUS => {json}` per host.
_HEADER = re.compile(r"^(?P<host>\S+) \| (?P<status>SUCCESS|CHANGED|FAILED!|UNREACHABLE!) => ", re.MULTILINE)


@dataclass(frozen=True)
class HostResult:
    """What Ansible reported for one host: SUCCESS, CHANGED, FAILED or UNREACHABLE, and the module's result."""

    status: str
    result: dict[str, Any]


@dataclass(frozen=True)
class AdHoc:
    """One ad-hoc run: the per-host results, how long it took, and the raw output for failure messages."""

    hosts: dict[str, HostResult]
    seconds: float
    output: str

    def __getitem__(self, host: str) -> HostResult:
        assert host in self.hosts, f"Ansible reported nothing for {host}:\n{self.output}"
        return self.hosts[host]


RunModule = Callable[..., AdHoc]


def parse_adhoc(output: str) -> dict[str, HostResult]:
    """Per-host results from the output of `ansible PATTERN -m MODULE`."""
    decoder = json.JSONDecoder()
    results = {}
    for match in _HEADER.finditer(output):
        result, _ = decoder.raw_decode(output, match.end())
        results[match["host"]] = HostResult(match["status"].rstrip("!"), result)
    return results


@pytest.fixture
def ansible(test_fleet: TestFleet) -> RunModule:
    """Run `ansible PATTERN -m MODULE -a ARGS` with the fleet's inventory (the venv's ansible, real SSH)."""

    def run(pattern: str, module: str, args: str = "", timeout: float = 180) -> AdHoc:
        command = [str(ANSIBLE), pattern, "-i", str(test_fleet.inventory_path), "-m", module]
        if args:
            command += ["-a", args]
        env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_DEPRECATION_WARNINGS": "0", "ANSIBLE_FORKS": "10"}
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, check=False)
        output = done.stdout + done.stderr
        return AdHoc(parse_adhoc(done.stdout), time.monotonic() - started, output)

    return run
