"""`TestFleet`: N Debian containers on the host's loopback that Ansible reaches over real SSH.

Each host is a podman container (`--network host --runtime runc`) whose sshd listens on 127.0.0.1:<base+i> and whose
acme-mta daemon (the health service) on 127.0.0.1:<base+1000+i>. Containers carry the label `patchorch.fleet=<name>`;
destroy finds them by that label only. State (SSH key, inventory, apt repository) lives in the state directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from patchorch.testing.fleet._errors import FleetError
from patchorch.testing.fleet._image import ImageBuild, ensure_image
from patchorch.testing.fleet._inventory import (
    DECOMMISSIONED_HOST,
    FleetHost,
    decommissioned_port,
    inventory,
    plan_hosts,
    write_inventory,
)
from patchorch.testing.fleet._podman import Podman
from patchorch.testing.fleet._probe import HealthAnswer, get_health, port_free, ssh_answers, wait_until
from patchorch.testing.fleet._repo import build_repository

FLEET_LABEL = "patchorch.fleet"
HOST_LABEL = "patchorch.fleet.host"
SPEC_LABEL = "patchorch.fleet.spec"
SSH_PORT_LABEL = "patchorch.fleet.ssh-port"
HEALTH_PORT_LABEL = "patchorch.fleet.health-port"
DEFAULT_NAME = "default"
DEFAULT_SIZE = 6
DEFAULT_BASE_PORT = 42200
MAX_SIZE = 50
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,40}$")
_STATE_FILE = "fleet.json"


class Fault(StrEnum):
    """A failure a host can be told to show until it is cleared."""

    UNREACHABLE = "unreachable"  # sshd stopped: Ansible reports the host UNREACHABLE
    SLOW = "slow"  # acme-mta upgrades wait `seconds` in postinst
    FAILING_UPGRADE = "failing-upgrade"  # acme-mta's preinst exits 1: the apt task fails
    FAILING_HEALTH = "failing-health"  # GET /health answers 503


@dataclass(frozen=True)
class HostStatus:
    """A host as seen from outside right now."""

    name: str
    container: str
    state: str  # podman's container state, or "missing"
    ssh: bool
    health_status: int | None
    version: str | None
    boot_id: str | None
    faults: tuple[str, ...]


@dataclass(frozen=True)
class FleetStatus:
    """Every host of the fleet, plus containers carrying the fleet's label that no host of it names."""

    name: str
    hosts: tuple[HostStatus, ...]
    strays: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        """True when every host runs, answers SSH and reports healthy."""
        return bool(self.hosts) and all(h.state == "running" and h.ssh and h.health_status == 200 for h in self.hosts)


@dataclass(frozen=True)
class CreateReport:
    """What `create` did and how long it took."""

    image: ImageBuild
    started: tuple[str, ...]
    reused: tuple[str, ...]
    removed: tuple[str, ...]
    seconds: float


def default_state_dir(name: str) -> Path:
    """PATCHORCH_FLEET_DIR, else `.fleet/<name>` under the current directory."""
    override = os.environ.get("PATCHORCH_FLEET_DIR")
    return Path(override) if override else Path.cwd() / ".fleet" / name


class TestFleet:
    """A fleet of podman containers that Ansible reaches over SSH on 127.0.0.1, with faults on demand."""

    __test__ = False  # a library class, not a pytest test class

    def __init__(
        self,
        name: str = DEFAULT_NAME,
        size: int = DEFAULT_SIZE,
        *,
        base_port: int = DEFAULT_BASE_PORT,
        state_dir: Path | None = None,
        cache_dir: Path | None = None,
        reboot_downtime: float = 3.0,
        ready_timeout: float = 180.0,
        podman: Podman | None = None,
    ) -> None:
        if not _NAME.match(name):
            raise FleetError(f"fleet name {name!r} must match {_NAME.pattern}", field="name", value=name)
        if not 1 <= size <= MAX_SIZE:
            raise FleetError(f"fleet size must be 1..{MAX_SIZE}, not {size}", field="size", value=size)
        if not 1024 <= base_port <= 65535 - 1000 - MAX_SIZE:
            raise FleetError(f"base port {base_port} leaves no room for ssh and health ports", field="base_port")
        self.name = name
        self.size = size
        self.base_port = base_port
        self.state_dir = (state_dir or default_state_dir(name)).resolve()
        self.cache_dir = cache_dir
        self.reboot_downtime = reboot_downtime
        self.ready_timeout = ready_timeout
        self.podman = podman or Podman()
        self.hosts: tuple[FleetHost, ...] = plan_hosts(name, size, base_port)
        self._by_name = {host.name: host for host in self.hosts}

    # -- paths and lookups ---------------------------------------------------------------------------------------

    @property
    def inventory_path(self) -> Path:
        """The Ansible YAML inventory `create` writes."""
        return self.state_dir / "inventory.yml"

    @property
    def ssh_key_path(self) -> Path:
        """The fleet's private ed25519 key (root on every host accepts it)."""
        return self.state_dir / "id_ed25519"

    @property
    def repo_dir(self) -> Path:
        """The acme apt repository, mounted read-only at /srv/acme-repo in every host."""
        return self.state_dir / "repo"

    @property
    def decommissioned_host(self) -> str:
        """The inventory name of the decommissioned entry (no container behind it)."""
        return DECOMMISSIONED_HOST

    @property
    def decommissioned_port(self) -> int:
        """The SSH port the decommissioned entry names; nothing listens on it."""
        return decommissioned_port(self.base_port)

    def host(self, name: str) -> FleetHost:
        """The host called `name`; FleetError if the fleet has none."""
        try:
            return self._by_name[name]
        except KeyError:
            raise FleetError(f"fleet {self.name} has no host {name!r}", host=name) from None

    @classmethod
    def load(cls, name: str = DEFAULT_NAME, state_dir: Path | None = None, **options: Any) -> TestFleet:
        """The fleet described by the state file `create` wrote (size and base port as created)."""
        directory = (state_dir or default_state_dir(name)).resolve()
        path = directory / _STATE_FILE
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise FleetError(f"no fleet {name!r} in {directory} (run create first)", file=str(path)) from exc
        return cls(state["name"], state["size"], base_port=state["base_port"], state_dir=directory, **options)

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def create(self) -> CreateReport:
        """Bring the fleet up, reusing running containers of the same spec; returns once every host answers SSH."""
        started_at = time.monotonic()
        reason = self.podman.available()
        if reason is not None:
            raise FleetError(f"podman cannot run containers here: {reason}")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        public_key = self._ensure_key()
        image = ensure_image(self.podman, self.cache_dir)
        repo_hash = build_repository(self.repo_dir)
        spec = hashlib.sha256(
            f"{image.tag}\n{repo_hash}\n{public_key}\n{self.reboot_downtime}\n{self.repo_dir}".encode()
        ).hexdigest()[:16]

        existing = self.podman.containers(FLEET_LABEL, self.name)
        keep: dict[str, dict[str, Any]] = {}
        remove: list[dict[str, Any]] = []
        for container in existing:
            labels = container.get("Labels") or {}
            host = self._by_name.get(labels.get(HOST_LABEL, ""))
            fits = (
                host is not None
                and labels.get(SPEC_LABEL) == spec
                and labels.get(SSH_PORT_LABEL) == str(host.ssh_port)
                and container.get("State") == "running"
                and host.name not in keep
            )
            if fits and host is not None:
                keep[host.name] = container
            else:
                remove.append(container)
        self.podman.remove([c["Id"] for c in remove])

        to_start = [h for h in self.hosts if h.name not in keep]
        busy = [port for h in to_start for port in (h.ssh_port, h.health_port) if not port_free(port)]
        if not port_free(self.decommissioned_port):
            busy.append(self.decommissioned_port)
        if busy:
            raise FleetError(
                f"ports already in use on 127.0.0.1: {', '.join(map(str, sorted(busy)))} (choose another base port)",
                value=busy,
            )
        self._write_state(image.tag)
        with ThreadPoolExecutor(max_workers=min(8, max(1, len(to_start)))) as pool:
            list(pool.map(lambda h: self._run_container(h, image.tag, spec, public_key), to_start))
        self.wait_ready(tuple(to_start), self.ready_timeout, health=True)
        self.wait_ready(tuple(h for h in self.hosts if h.name in keep), self.ready_timeout)
        return CreateReport(
            image=image,
            started=tuple(h.name for h in to_start),
            reused=tuple(sorted(keep)),
            removed=tuple(str((c.get("Names") or [c["Id"]])[0]) for c in remove),
            seconds=time.monotonic() - started_at,
        )

    def destroy(self) -> tuple[str, ...]:
        """Remove every container labelled `patchorch.fleet=<name>` and the files create wrote; returns their names.

        Other files in the state directory (anything someone keeps beside the inventory) stay, and so does the
        directory then.
        """
        containers = self.podman.containers(FLEET_LABEL, self.name)
        self.podman.remove([c["Id"] for c in containers])
        for path in (self.repo_dir, self.repo_dir.with_name(self.repo_dir.name + ".build")):
            shutil.rmtree(path, ignore_errors=True)
        for path in (
            self.ssh_key_path,
            self.ssh_key_path.with_name(self.ssh_key_path.name + ".pub"),
            self.inventory_path,
            self.policy_path,
            self.state_dir / _STATE_FILE,
        ):
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.state_dir.rmdir()
        return tuple(str((c.get("Names") or [c["Id"]])[0]) for c in containers)

    def status(self) -> FleetStatus:
        """Each host's container state, SSH banner and health answer, probed in parallel."""
        containers = self.podman.containers(FLEET_LABEL, self.name)
        by_host = {(c.get("Labels") or {}).get(HOST_LABEL): c for c in containers}
        strays = tuple(
            str((c.get("Names") or [c["Id"]])[0])
            for c in containers
            if (c.get("Labels") or {}).get(HOST_LABEL) not in self._by_name
        )

        def probe(host: FleetHost) -> HostStatus:
            container = by_host.get(host.name)
            state = str(container.get("State", "unknown")) if container else "missing"
            running = state == "running"
            health = get_health(host.health_url, timeout=2.0) if running else None
            return HostStatus(
                name=host.name,
                container=host.container,
                state=state,
                ssh=running and ssh_answers(host.ssh_port, timeout=2.0),
                health_status=health.status if health else None,
                version=_str_or_none(health.body.get("version")) if health else None,
                boot_id=_str_or_none(health.body.get("boot_id")) if health else None,
                faults=tuple(str(f) for f in health.body.get("faults", ())) if health else (),
            )

        with ThreadPoolExecutor(max_workers=16) as pool:
            hosts = tuple(pool.map(probe, self.hosts))
        return FleetStatus(self.name, hosts, strays)

    def wait_ready(
        self, hosts: tuple[FleetHost, ...] | None = None, timeout: float = 60.0, *, health: bool = False
    ) -> None:
        """Wait (at most `timeout` seconds) until each host lets root log in over SSH with the fleet key.

        With `health`, also until its health endpoint answers (any status): freshly started hosts must have both.
        """
        deadline = time.monotonic() + timeout
        pending = hosts if hosts is not None else self.hosts
        if not pending:
            return

        def ready(host: FleetHost) -> str | None:
            while time.monotonic() < deadline:
                if (
                    ssh_answers(host.ssh_port, timeout=1.0)
                    and (not health or get_health(host.health_url, timeout=2.0) is not None)
                    and self._ssh_login(host, deadline)
                ):
                    return None
                time.sleep(0.1)
            return host.name

        with ThreadPoolExecutor(max_workers=min(16, max(1, len(pending)))) as pool:
            late = [name for name in pool.map(ready, pending) if name is not None]
        if late:
            logs = self.podman.run("logs", "--tail", "20", self.host(late[0]).container, check=False)
            raise FleetError(
                f"hosts did not answer SSH{' and health' if health else ''} within {timeout:.0f}s: {', '.join(late)}; "
                f"last log lines of {late[0]}: {(logs.stdout + logs.stderr).strip()[-1500:]}",
                host=late[0],
            )

    # -- faults and access ---------------------------------------------------------------------------------------

    def set_fault(self, host: str, fault: Fault | str, seconds: int = 3) -> None:
        """Switch `fault` on for `host` (`seconds` is the delay of `slow`); returns once it is in effect."""
        target = self.host(host)
        mode = Fault(fault)
        self.exec(host, "/usr/local/sbin/fleet-fault", "set", mode.value, str(seconds))
        if mode is Fault.UNREACHABLE and not wait_until(lambda: not ssh_answers(target.ssh_port, 0.5), 10.0):
            raise FleetError(f"{host} still answers SSH after the unreachable fault was set", host=host)

    def clear_fault(self, host: str, fault: Fault | str | None = None) -> None:
        """Switch `fault` (every fault when None) off for `host`; returns once SSH answers again."""
        target = self.host(host)
        mode = "all" if fault is None else Fault(fault).value
        self.exec(host, "/usr/local/sbin/fleet-fault", "clear", mode)
        if not wait_until(lambda: ssh_answers(target.ssh_port, 0.5), 15.0):
            raise FleetError(f"{host} does not answer SSH after its faults were cleared", host=host)

    def exec(self, host: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `argv` inside the host's container (from outside, not over SSH)."""
        return self.podman.run("exec", self.host(host).container, *argv, check=check, timeout=120)

    def health(self, host: str, timeout: float = 3.0) -> HealthAnswer | None:
        """What the host's health endpoint answers now; None when nothing listens."""
        return get_health(self.host(host).health_url, timeout)

    # -- internals -----------------------------------------------------------------------------------------------

    def _ensure_key(self) -> str:
        if not self.ssh_key_path.exists():
            self.ssh_key_path.with_suffix(".pub").unlink(missing_ok=True)
            result = subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"patchorch-fleet-{self.name}",
                 "-f", str(self.ssh_key_path)],
                capture_output=True, text=True, check=False, timeout=30,
            )  # fmt: skip
            if result.returncode != 0:
                raise FleetError(f"ssh-keygen failed: {result.stderr.strip()}")
        return self.ssh_key_path.with_name(self.ssh_key_path.name + ".pub").read_text().strip()

    def _run_container(self, host: FleetHost, tag: str, spec: str, public_key: str) -> None:
        self.podman.run(
            "run", "--detach", "--name", host.container, "--hostname", host.name,
            "--network", "host", "--runtime", "runc", "--init", "--pull", "never",
            "--label", f"{FLEET_LABEL}={self.name}",
            "--label", f"{HOST_LABEL}={host.name}",
            "--label", f"{SPEC_LABEL}={spec}",
            "--label", f"{SSH_PORT_LABEL}={host.ssh_port}",
            "--label", f"{HEALTH_PORT_LABEL}={host.health_port}",
            "--env", f"FLEET_HOST={host.name}",
            "--env", f"FLEET_SSH_PORT={host.ssh_port}",
            "--env", f"FLEET_HEALTH_PORT={host.health_port}",
            "--env", f"FLEET_AUTHORIZED_KEY={public_key}",
            "--env", f"FLEET_REBOOT_DOWNTIME={self.reboot_downtime:g}",
            "--volume", f"{self.repo_dir}:/srv/acme-repo:ro",
            tag,
        )  # fmt: skip

    def _ssh_login(self, host: FleetHost, deadline: float) -> bool:
        timeout = max(1.0, min(10.0, deadline - time.monotonic()))
        command = [
            "ssh", "-q", "-i", str(self.ssh_key_path), "-p", str(host.ssh_port),
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", f"ConnectTimeout={int(timeout)}", "root@127.0.0.1", "true",
        ]  # fmt: skip
        try:
            return subprocess.run(command, capture_output=True, timeout=timeout, check=False).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    @property
    def policy_path(self) -> Path:
        """A rollout policy for this fleet (short soaks, no approvals) that `create` writes beside the inventory."""
        return self.state_dir / "policy.yml"

    def _write_state(self, image: str) -> None:
        data = inventory(self.name, self.hosts, self.base_port, self.ssh_key_path)
        write_inventory(self.inventory_path, data)
        self.policy_path.write_bytes((Path(__file__).parent / "policy.yml").read_bytes())
        state = {
            "name": self.name,
            "size": self.size,
            "base_port": self.base_port,
            "image": image,
            "inventory": str(self.inventory_path),
            "ssh_key": str(self.ssh_key_path),
            "hosts": [asdict(h) | {"health_url": h.health_url} for h in self.hosts],
            "decommissioned": {"name": DECOMMISSIONED_HOST, "ssh_port": self.decommissioned_port},
        }
        (self.state_dir / _STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)
