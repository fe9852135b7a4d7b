"""AnsibleRunnerExecutor: the only module that imports ansible_runner.

Every attempt gets a fresh private data directory (mode 0700, named after the orchestrator's process) that is removed
afterwards, and on the next start when a killed orchestrator could not. Nothing secret is written into it: runner's
env files are suppressed, its stdout file is not written and events are not kept on disk; the become password and
vault passwords (`Credentials`) are typed into ansible-playbook's own prompts from memory. Runner events are folded
into typed outcomes here, at the border: raw event dicts never leave this module, and stdout is never parsed; the
few lines kept to explain a playbook that could not start are scrubbed of every secret. ansible-playbook runs under
the keeper (`_keeper`), on a terminal of its own: an orchestrator killed with SIGKILL leaves a playbook that finishes
its hosts and exits, instead of one that dies or hangs writing to the dead orchestrator's terminal.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ansible_runner
import structlog
from pydantic import ValidationError

from patchorch.domain.advisory import HostFacts
from patchorch.domain.outcomes import BatchOutcome, CheckResult, HostOutcome, HostStatus, RoleResult
from patchorch.errors import ExecutionError
from patchorch.execution.base import (
    FACT_CACHE_SECONDS,
    RUN_MARKER_ENV,
    BatchInterrupted,
    BatchRequest,
    CancelCheck,
    Credentials,
    EventCallback,
    FactsRequest,
    FactsResult,
    HostEvent,
    Release,
    TaskStatus,
)

log = structlog.get_logger(__name__)

RESULT_FACT = "patchorch_result"
# The executor's own read-only play, which exports FACTS_FACT on each host.
FACTS_FACT = "patchorch_facts"
_FACTS_PLAYBOOK = Path(__file__).resolve().parent / "content" / "facts.yml"
_FACTS_ANSIBLE_CFG = _FACTS_PLAYBOOK.parent / "ansible.cfg"
# How often ansible-runner asks whether to cancel, in seconds: the delay between Ctrl-C and the playbook stopping.
_CANCEL_POLL = 0.5

_EVENT_STATUS = {
    "runner_on_ok": TaskStatus.OK,
    "runner_on_failed": TaskStatus.FAILED,
    "runner_on_unreachable": TaskStatus.UNREACHABLE,
    "runner_on_skipped": TaskStatus.SKIPPED,
}


@dataclass
class _HostTrack:
    """What the events said about one host so far."""

    first_seen: datetime | None = None
    last_seen: datetime | None = None
    changed: bool = False
    unreachable: str | None = None
    failed_task: str | None = None
    failed_message: str | None = None
    result: RoleResult | None = None
    result_error: str | None = None
    facts: dict[str, Any] | None = None


@dataclass
class _EventFold:
    """Folds runner events into per-host tracks; called from ansible-runner's thread."""

    request_hosts: tuple[str, ...]
    stage: str
    batch: int
    attempt: int
    fact: str = RESULT_FACT
    on_event: EventCallback | None = None
    secrets: tuple[str, ...] = ()
    hosts: dict[str, _HostTrack] = field(default_factory=dict)
    stats: dict[str, dict[str, int]] = field(default_factory=dict)
    stats_seen: bool = False
    # The last lines Ansible printed outside any host result: what explains a playbook that could not start.
    output_tail: deque[str] = field(default_factory=lambda: deque(maxlen=5))

    def __call__(self, event: Mapping[str, Any]) -> bool:
        name = event.get("event")
        data = event.get("event_data") or {}
        if name == "verbose" or (name == "error" and event.get("stdout")):
            self.output_tail.extend(line.strip() for line in str(event.get("stdout", "")).splitlines() if line.strip())
        if name == "playbook_on_stats":
            self.stats_seen = True
            for key in ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored"):
                for host, count in (data.get(key) or {}).items():
                    self.stats.setdefault(str(host), {})[key] = int(count)
            return False
        status = _EVENT_STATUS.get(str(name))
        if status is None:
            return False  # playbook/play/task start events carry no host result
        host = str(data.get("host", ""))
        track = self.hosts.setdefault(host, _HostTrack())
        created = _timestamp(event.get("created"))
        if created is not None:
            track.first_seen = track.first_seen or created
            track.last_seen = created
        res = data.get("res") or {}
        task = str(data.get("task") or "")
        if status is TaskStatus.OK and res.get("changed"):
            status = TaskStatus.CHANGED
            track.changed = True
        if status is TaskStatus.UNREACHABLE:
            track.unreachable = self.scrub(_message(res)) or "unreachable"
        elif status is TaskStatus.FAILED and not data.get("ignore_errors"):
            if track.failed_task is None:
                track.failed_task = task
                track.failed_message = self.scrub(_message(res))
        elif status is TaskStatus.OK:
            self._read_fact(track, res)
        if self.on_event is not None:
            self.on_event(HostEvent(self.stage, self.batch, self.attempt, host, task, status))
        return False  # never written to disk: outcomes are folded from memory

    def scrub(self, text: str | None) -> str | None:
        """`text` with every secret of the run's credentials masked (no_log results carry no message at all)."""
        if text is None:
            return None
        for secret in self.secrets:
            text = text.replace(secret, "********")
        return text

    def tail(self) -> str:
        """The kept output lines, scrubbed, on one line."""
        return self.scrub(" | ".join(self.output_tail)) or "(no output)"

    def _read_fact(self, track: _HostTrack, res: Mapping[str, Any]) -> None:
        facts = res.get("ansible_facts")
        if not isinstance(facts, Mapping) or self.fact not in facts:
            return
        value = facts[self.fact]
        if self.fact != RESULT_FACT:
            track.facts = dict(value) if isinstance(value, Mapping) else {"value": value}
            return
        try:
            track.result = RoleResult.model_validate(value)
        except ValidationError as exc:
            track.result_error = f"the role exported a malformed {RESULT_FACT}: {exc.errors()[0]['msg']}"

    def outcomes(self, *, check: bool, cancelled: bool) -> tuple[HostOutcome, ...]:
        """One outcome per requested host, each resting on the evidence the events gave."""
        return tuple(self._outcome(host, check=check, cancelled=cancelled) for host in self.request_hosts)

    def _outcome(self, host: str, *, check: bool, cancelled: bool) -> HostOutcome:
        track = self.hosts.get(host, _HostTrack())
        stats = self.stats.get(host, {})
        result = track.result
        base: dict[str, Any] = {
            "host": host,
            "started_at": track.first_seen,
            "finished_at": track.last_seen,
            "check_mode": check,
            "changed": track.changed,
        }
        if result is not None:
            base.update(
                versions_before=dict(result.versions_before),
                versions_after=dict(result.versions_after),
                rebooted=result.rebooted,
                reboot_required=result.reboot_required,
                checks=tuple(CheckResult.model_validate(c.model_dump()) for c in result.checks),
                failed_step=result.failed_step,
                changed=result.changed or track.changed,
                hooks=dict(result.hooks),
                services=result.services,
                prepared=dict(result.prepared),
            )
        if track.unreachable is not None or stats.get("dark"):
            return HostOutcome(
                status=HostStatus.UNREACHABLE,
                message=track.unreachable or "unreachable",
                **base,
            )
        failed = bool(track.failed_task) or bool(stats.get("failures")) or bool(result and result.failed_step)
        if failed:
            return HostOutcome(
                status=HostStatus.FAILED,
                failed_task=track.failed_task,
                message=self.scrub(result.message if result and result.message else track.failed_message) or "failed",
                **base,
            )
        if result is None:
            # No exported result and no failure: the play never finished for this host (cancelled, crashed, lost).
            reason = track.result_error or ("cancelled before the host finished" if cancelled else "no result")
            return HostOutcome(status=HostStatus.UNKNOWN, message=reason, **base)
        status = HostStatus.PATCHED if base["changed"] else HostStatus.UNCHANGED
        return HostOutcome(status=status, **base)


def facts_result(fold: _EventFold) -> FactsResult:
    """The facts each requested host exported, validated into HostFacts; the others with Ansible's reason or the
    validation error."""
    facts: dict[str, HostFacts] = {}
    failed: dict[str, str] = {}
    for host in fold.request_hosts:
        track = fold.hosts.get(host, _HostTrack())
        if track.facts is None or track.unreachable or track.failed_task:
            failed[host] = track.unreachable or track.failed_message or "no facts exported"
            continue
        try:
            facts[host] = HostFacts.model_validate(track.facts)
        except ValidationError as exc:
            failed[host] = f"facts did not validate: {exc.errors()[0]['msg']}"
    return FactsResult(facts=facts, failed=failed)


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    # ansible-runner writes UTC without an offset; timestamps in patchorch are always timezone-aware.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _message(res: Mapping[str, Any]) -> str | None:
    for key in ("msg", "stderr", "module_stderr", "reason"):
        value = res.get(key)
        if value:
            text = str(value).strip()
            return text if len(text) <= 2000 else text[:2000] + "..."
    return None


class AnsibleRunnerExecutor:
    """Runs stage playbooks with ansible-runner, one batch per call, in a fresh private directory each time.

    Opening it on a `work_dir` removes the private directories a killed orchestrator left there.
    """

    def __init__(
        self,
        *,
        work_dir: Path | None = None,
        ansible_bin_dir: Path | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self._work_dir = work_dir
        # ansible-playbook is found beside the running interpreter first (a virtualenv), then on PATH.
        self._bin_dir = ansible_bin_dir or Path(sys.executable).parent
        self._credentials = credentials or Credentials()
        if work_dir is not None:
            remove_abandoned_private_dirs(work_dir)

    def run_batch(
        self,
        request: BatchRequest,
        *,
        on_event: EventCallback | None = None,
        cancelled: CancelCheck | None = None,
        release: Release | None = None,
    ) -> BatchOutcome:
        """Run the stage playbook limited to the batch's hosts and fold the events into outcomes; with `release`,
        its hosts wait at the role's gate until `release()` answers (see `_Gate`)."""
        fold = _EventFold(
            request.hosts,
            request.stage,
            request.batch,
            request.attempt,
            on_event=on_event,
            secrets=self._credentials.secrets(),
        )
        was_cancelled = self._run(
            playbook=request.playbook,
            inventory=request.inventory,
            hosts=request.hosts,
            ansible_cfg=request.ansible_cfg,
            fact_cache=request.fact_cache,
            run_id=request.run_id,
            check=request.check,
            forks=request.forks,
            timeout=request.timeout,
            fold=fold,
            cancelled=cancelled,
            release=release,
        )
        return BatchOutcome(
            stage=request.stage,
            batch=request.batch,
            attempt=request.attempt,
            outcomes=fold.outcomes(check=request.check, cancelled=was_cancelled),
            cancelled=was_cancelled,
        )

    def gather(self, request: FactsRequest) -> FactsResult:
        """Run the read-only facts play (content/facts.yml, this executor's own) and validate what each host exported;
        hosts that did not export valid facts are listed as failed with the reason."""
        fold = _EventFold(request.hosts, "facts", 1, 1, fact=FACTS_FACT, secrets=self._credentials.secrets())
        self._run(
            playbook=_FACTS_PLAYBOOK,
            inventory=request.inventory,
            hosts=request.hosts,
            ansible_cfg=_FACTS_ANSIBLE_CFG,
            run_id=request.run_id,
            check=False,
            forks=request.forks,
            timeout=None,
            fold=fold,
            cancelled=None,
        )
        return facts_result(fold)

    def _run(
        self,
        *,
        playbook: Path,
        inventory: tuple[Path, ...],
        hosts: tuple[str, ...],
        ansible_cfg: Path | None,
        run_id: str,
        check: bool,
        forks: int,
        timeout: int | None,
        fold: _EventFold,
        cancelled: CancelCheck | None,
        release: Release | None = None,
        fact_cache: Path | None = None,
    ) -> bool:
        if not hosts:
            return False
        if self._work_dir is not None:
            self._work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # The owner's process id in the name: a later start removes the directory once that process is gone.
        private = Path(tempfile.mkdtemp(prefix=f"{_PRIVATE_PREFIX}{os.getpid()}-{run_id}-", dir=self._work_dir))
        private.chmod(0o700)
        envvars = {
            RUN_MARKER_ENV: run_id,
            "PATH": f"{self._bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "ANSIBLE_FORKS": str(forks),
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
        }
        if ansible_cfg is not None:
            envvars["ANSIBLE_CONFIG"] = str(ansible_cfg)
        if fact_cache is not None:
            envvars |= fact_cache_env(fact_cache)
        arguments, passwords = self._prompts()
        if check:
            arguments = ["--check", "--diff", *arguments]
        flag = threading.Event()

        def cancel_callback() -> bool:
            if not flag.is_set() and cancelled is not None and cancelled():
                flag.set()
            return flag.is_set()

        gate: _Gate | None = None
        interrupted = False
        try:
            # Inside the try: when either fails (a full disk), the private directory goes with the error.
            _write_settings(private)
            if release is not None:
                gate = _Gate(private, hosts, release)
            thread, runner = ansible_runner.run_async(
                private_data_dir=str(private),
                # ansible-playbook runs under the keeper, on a terminal of its own that outlives this process:
                # killed, the orchestrator leaves a playbook that finishes its hosts and exits (see _keeper).
                binary=sys.executable,
                cmdline=shlex.join(_keeper_command(private, [*arguments, str(playbook)], gate)),
                inventory=[str(p) for p in inventory],
                limit=",".join(hosts),
                envvars=envvars,
                extravars={"patchorch_patch_gate": gate.pipes} if gate is not None else None,
                passwords=passwords or None,
                event_handler=fold,
                cancel_callback=cancel_callback,
                quiet=True,
                timeout=timeout,
                # No env/ files (envvars, passwords, extravars) and no artifacts/stdout: nothing secret on disk.
                suppress_env_files=True,
                # runner would point Ansible's fact cache at its artifacts (a cache per playbook): the run's own, or
                # none, comes from envvars above.
                fact_cache_type="",
            )
            # The playbook runs in runner's thread; this one waits, so Ctrl-C lands here and stops the child
            # (ansible-playbook runs in its own session and would otherwise outlive us).
            while thread.is_alive():
                try:
                    thread.join(_CANCEL_POLL)
                except KeyboardInterrupt:
                    interrupted = True
                    flag.set()
            if runner.status == "failed" and not fold.stats_seen and not fold.hosts:
                # ansible-playbook exited before any host ran: a syntax error, a missing inventory, a bad option.
                raise ExecutionError(
                    f"ansible-playbook failed before running any host (rc {runner.rc}) for {playbook}: " + fold.tail(),
                    stage=fold.stage,
                )
        except ExecutionError:
            raise
        except Exception as exc:
            raise ExecutionError(
                f"ansible-runner could not run {playbook}: {fold.scrub(str(exc))}", stage=fold.stage
            ) from exc
        finally:
            if gate is not None:
                gate.close()
            shutil.rmtree(private, ignore_errors=True)
        if interrupted:
            raise BatchInterrupted(fold.outcomes(check=check, cancelled=True))
        return flag.is_set() or runner.status == "canceled"

    def _prompts(self) -> tuple[list[str], dict[str, str]]:
        """ansible-playbook options that make it prompt for each secret, and the answer to each prompt (a pattern)."""
        arguments: list[str] = []
        passwords: dict[str, str] = {}
        if self._credentials.become_password is not None:
            arguments.append("--ask-become-pass")
            passwords[r"^BECOME password.*:\s*?$"] = self._credentials.become_password
        for vault in self._credentials.vault_ids:
            if vault.password is not None:
                arguments += ["--vault-id", f"{vault.label}@prompt"]
                passwords[rf"^Vault password \({re.escape(vault.label)}\):\s*?$"] = vault.password
            elif vault.source is not None:
                arguments += ["--vault-id", f"{vault.label}@{vault.source}"]
        return arguments, passwords


def fact_cache_env(directory: Path) -> dict[str, str]:
    """The environment that gives ansible-playbook Ansible's jsonfile fact cache in `directory`, entries kept for
    FACT_CACHE_SECONDS (runner must be told `fact_cache_type=""`, or it points the cache at its artifacts)."""
    return {
        "ANSIBLE_CACHE_PLUGIN": "ansible.builtin.jsonfile",
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(directory),
        "ANSIBLE_CACHE_PLUGIN_TIMEOUT": str(FACT_CACHE_SECONDS),
    }


_KEEPER = Path(__file__).with_name("_keeper.py")
# Runner's settings: no stdout or stderr file in the artifacts (Ansible's output, -vvv included, can carry what the
# inventory put on an SSH command line), and how often runner asks whether to cancel.
_SETTINGS = {"suppress_output_file": True, "pexpect_timeout": _CANCEL_POLL}


def _write_settings(private: Path) -> None:
    """Runner's settings as the file it reads (`env/settings`): settings handed to it as an argument are dropped
    when that file is missing. They hold no secret."""
    env = private / "env"
    env.mkdir(mode=0o700)
    (env / "settings").write_text(json.dumps(_SETTINGS), encoding="utf-8")


def _keeper_command(private: Path, arguments: list[str], gate: _Gate | None = None) -> list[str]:
    """The arguments after the interpreter that run ansible-playbook with `arguments` under the keeper (runner
    appends the inventory, limit and extra vars). -I: the keeper needs only the standard library."""
    gated = ["--gate", str(gate.path)] if gate is not None else []
    return ["-I", str(_KEEPER), "--private", str(private), *gated, "--", "ansible-playbook", *arguments]


class _Gate:
    """The role's gate for one playbook started ahead of its turn: a named pipe per host in `private`/gate.

    This process holds every pipe open for writing from the start, so the role's reader never waits to open one. A
    thread waits for `release()` and writes its answer, `go` or `stop`, as one line into each. The pipes stay open
    until the playbook has exited: a reader that opens one later still finds the answer. If this process dies first,
    the keeper writes `stop` (the readers would otherwise wait for ever) and hosts not yet released are left alone.
    """

    def __init__(self, private: Path, hosts: tuple[str, ...], release: Release) -> None:
        self.path = private / "gate"
        self.path.mkdir(mode=0o700)
        self.pipes: dict[str, str] = {}  # host -> its pipe (numbered: host names need not be file names)
        self._fds: list[int] = []
        self._lock = threading.Lock()
        try:
            for index, host in enumerate(hosts):
                pipe = self.path / str(index)
                os.mkfifo(pipe, 0o600)
                # Read and write: opening does not wait for a reader; nothing here ever reads. Not inherited (PEP 446).
                self._fds.append(os.open(pipe, os.O_RDWR | os.O_NONBLOCK))
                self.pipes[host] = str(pipe)
        except OSError:
            self.close()  # no answer thread yet: nothing else holds these
            raise
        self._release = release
        threading.Thread(target=self._answer, name="patchorch-gate", daemon=True).start()

    def _answer(self) -> None:
        go = self._release()
        with self._lock:  # nothing once the playbook has ended (a read-only step failed before the answer came)
            for fd in self._fds:
                os.write(fd, b"go\n" if go else b"stop\n")

    def close(self) -> None:
        """The playbook has exited: nothing will read an answer any more."""
        with self._lock:
            for fd in self._fds:
                os.close(fd)
            self._fds = []


_PRIVATE_PREFIX = "patchorch-"
_OWNER = re.compile(rf"^{_PRIVATE_PREFIX}(?P<pid>\d+)-")


def remove_abandoned_private_dirs(work_dir: Path) -> tuple[Path, ...]:
    """Remove the private directories in `work_dir` whose orchestrator process is gone (killed before its own
    clean-up ran); those of running processes are left alone, and so is one a playbook that outlived its orchestrator
    still works in (its keeper removes it when the playbook exits). Returns what was removed."""
    removed = []
    try:
        entries = list(work_dir.iterdir())
    except OSError:
        return ()
    in_use: set[Path] | None = None
    for entry in entries:
        match = _OWNER.match(entry.name)
        if match is None or not entry.is_dir() or _alive(int(match.group("pid"))):
            continue
        in_use = _working_dirs() if in_use is None else in_use
        if entry.resolve() in in_use:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return tuple(removed)


def _working_dirs(proc: Path = Path("/proc")) -> set[Path]:
    """The current directories of the live processes this user may look at (runner starts the keeper and
    ansible-playbook in the private directory)."""
    found = set()
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                found.add(Path(os.readlink(entry / "cwd")))
            except OSError:
                continue  # gone, or not ours to read
    return found


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
