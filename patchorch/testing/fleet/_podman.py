"""Every podman call of the fleet goes through `Podman`, with the fleet's own containers.conf."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from patchorch.testing.fleet._errors import FleetError

CONTAINERS_CONF = Path(__file__).with_name("containers.conf")


class Podman:
    """Runs `podman` with `CONTAINERS_CONF` pointing at the fleet's containers.conf (runc, ulimits, host network)."""

    def __init__(self, binary: str = "podman", containers_conf: Path = CONTAINERS_CONF) -> None:
        self.binary = binary
        self.env = {**os.environ, "CONTAINERS_CONF": str(containers_conf)}

    def run(
        self, *args: str, check: bool = True, timeout: float = 300, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run `podman ARGS`; with `check`, a non-zero exit raises FleetError carrying stderr."""
        command = [self.binary, *args]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, env=self.env, timeout=timeout, input=stdin, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise FleetError(f"podman {args[0]} timed out after {timeout:.0f}s", command=command) from exc
        except FileNotFoundError as exc:
            raise FleetError(f"{self.binary} is not installed (run scripts/install-fleet-deps.sh)") from exc
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise FleetError(
                f"podman {args[0]} failed: {detail[-1] if detail else f'exit {result.returncode}'}",
                command=command,
                stderr=result.stderr,
            )
        return result

    def available(self) -> str | None:
        """None when podman can run containers here, else the reason it cannot."""
        try:
            result = self.run("info", "--format", "{{.Host.OCIRuntime.Name}}", check=False, timeout=60)
        except FleetError as exc:
            return str(exc)
        if result.returncode != 0:
            return f"`podman info` failed: {result.stderr.strip()}"
        return None

    def image_exists(self, reference: str) -> bool:
        """True when `reference` is in local storage."""
        return self.run("image", "exists", reference, check=False).returncode == 0

    def containers(self, label: str, value: str) -> list[dict[str, Any]]:
        """All containers (running or not) whose label `label` is exactly `value`."""
        listing = self.run("ps", "-a", "--filter", f"label={label}={value}", "--format", "json").stdout
        found: list[dict[str, Any]] = json.loads(listing or "[]") or []
        # Check the label again ourselves: destroy must never touch a container of anyone else.
        return [c for c in found if (c.get("Labels") or {}).get(label) == value]

    def remove(self, ids: Sequence[str]) -> None:
        """Remove the given containers at once (SIGKILL, no grace period)."""
        if ids:
            self.run("rm", "--force", "--time", "0", "--ignore", *ids, timeout=600)
