"""Filters of the patchorch_patch role: turn what modules report into the plain data the role exports.

They run on the controller inside Ansible's templating and only reshape data: nothing here is evaluated as a
template, and everything that comes from a host (package lists, apt's output) stays data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_INST = re.compile(r"^Inst (?P<name>\S+) (?:\[(?P<installed>[^\]]*)\] )?\((?P<candidate>\S+) (?P<origin>[^)]*)\)", re.M)
_CHECK_KINDS = ("tcp", "http", "command")


def installed_versions(packages: Mapping[str, Any]) -> dict[str, str]:
    """`{name: version}` from `ansible_facts.packages` (apt: `1:2.3-4`; rpm: `[epoch:]version-release`)."""
    result: dict[str, str] = {}
    for name, entries in packages.items():
        if not entries:
            continue
        entry = entries[0]
        version = str(entry.get("version", ""))
        release = entry.get("release")
        epoch = entry.get("epoch")
        if release:
            version = f"{version}-{release}"
        if epoch not in (None, "", 0, "0") and entry.get("source") != "apt":
            version = f"{epoch}:{version}"
        result[str(name)] = version
    return result


def apt_upgrades(simulation: str, origin: str = "") -> dict[str, dict[str, str]]:
    """The packages an `apt-get --simulate` run would install: `{name: {installed, candidate, origin}}`.

    With `origin`, only packages whose candidate comes from an archive whose description contains it.
    """
    result: dict[str, dict[str, str]] = {}
    for match in _INST.finditer(simulation or ""):
        if origin and origin not in match["origin"]:
            continue
        result[match["name"]] = {
            "installed": match["installed"] or "",
            "candidate": match["candidate"],
            "origin": match["origin"],
        }
    return result


def dnf_upgrades(listing: str) -> dict[str, dict[str, str]]:
    """The packages `dnf check-update` lists: `{name: {installed: "", candidate, origin}}` (origin: the repository).

    Lines are `name.arch  [epoch:]version-release  repository`; the "Obsoleting Packages" section and anything else
    that is not three columns (metadata notices, blank lines) is skipped.
    """
    result: dict[str, dict[str, str]] = {}
    for line in (listing or "").splitlines():
        if line.strip().lower().startswith("obsoleting"):
            break
        parts = line.split()
        if len(parts) != 3 or "." not in parts[0] or line.startswith((" ", "\t")):
            continue
        name = parts[0].rsplit(".", 1)[0]
        result[name] = {"installed": "", "candidate": parts[1], "origin": parts[2]}
    return result


def health_checks(checks: Any) -> list[dict[str, Any]]:
    """The inventory's `patchorch_health_checks`, short or long form, as `{kind, name, ...}` with defaults filled in."""
    if checks is None or checks == "":
        return []
    if isinstance(checks, Mapping):
        checks = [checks]
    if not isinstance(checks, list | tuple):
        raise ValueError(f"patchorch_health_checks must be a list, not {type(checks).__name__}")
    return [_check(item) for item in checks]


def _check(item: Any) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise ValueError(f"a health check is a mapping, not {type(item).__name__}")
    data = dict(item)
    kind = data.pop("kind", None)
    if kind is None:
        present = [k for k in _CHECK_KINDS if k in data]
        if len(present) != 1:
            raise ValueError(f"a health check names exactly one of tcp, http, command; got keys {sorted(data)}")
        kind = present[0]
        data[{"tcp": "port", "http": "url", "command": "command"}[kind]] = data.pop(kind)
    if kind == "tcp":
        port, address = int(data["port"]), str(data.get("address", "127.0.0.1"))
        return {
            "kind": "tcp",
            "name": f"tcp {address}:{port}",
            "port": port,
            "address": address,
            "timeout": int(data.get("timeout", 5)),
        }
    if kind == "http":
        url = str(data["url"])
        body = data.get("body")
        return {
            "kind": "http",
            "name": f"http {url}",
            "url": url,
            "status": int(data.get("status", 200)),
            "body": None if body is None else str(body),
            "timeout": int(data.get("timeout", 5)),
        }
    if kind == "command":
        command = data["command"]
        argv = command.split() if isinstance(command, str) else [str(part) for part in command]
        if not argv:
            raise ValueError("a command health check needs a command")
        return {
            "kind": "command",
            "name": "command " + " ".join(argv),
            "argv": argv,
            "timeout": int(data.get("timeout", 30)),
        }
    raise ValueError(f"unknown health check kind {kind!r} (allowed: tcp, http, command)")


def pinned(packages: list[Mapping[str, Any]]) -> list[str]:
    """`name=version` for the named packages that pin an exact version (apt's and zypper's spelling)."""
    return [f"{p['name']}={p['version']}" for p in packages or () if p.get("version")]


def unpinned(packages: list[Mapping[str, Any]]) -> list[str]:
    """Names of the named packages that do not pin a version (they go to the newest available)."""
    return [str(p["name"]) for p in packages or () if not p.get("version")]


def apt_pins(upgrades: Mapping[str, Mapping[str, str]]) -> list[str]:
    """`name=candidate` for each upgrade of `apt_upgrades`: exactly the versions the simulation chose."""
    return [f"{name}={info['candidate']}" for name, info in sorted(upgrades.items())]


def candidates(upgrades: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """`{name: candidate}` of `apt_upgrades`: the exact versions the prepare phase downloads."""
    return {str(name): str(info["candidate"]) for name, info in sorted(upgrades.items())}


def version_pins(versions: Mapping[str, str]) -> list[str]:
    """`name=version` for each entry of `{name: version}` (apt's spelling)."""
    return [f"{name}={version}" for name, version in sorted(versions.items())]


def pinned_versions(packages: list[Mapping[str, Any]]) -> dict[str, str]:
    """`{name: version}` for the named packages that pin an exact version."""
    return {str(p["name"]): str(p["version"]) for p in packages or () if p.get("version")}


def report(before: Mapping[str, str], after: Mapping[str, str] | None, targets: list[str]) -> dict[str, dict[str, str]]:
    """Versions before and after of the target packages and of every package whose version changed.

    `after` is None when nothing was read after the update (check mode, or a failure before it): the packages are
    then as they were.
    """
    before = dict(before or {})
    after_map = dict(before if after is None else after)
    names = {name for name in targets or () if name in before or name in after_map}
    names |= {name for name in set(before) | set(after_map) if before.get(name) != after_map.get(name)}
    return {
        "before": {name: before[name] for name in sorted(names) if name in before},
        "after": {name: after_map[name] for name in sorted(names) if name in after_map},
    }


def check_verdicts(results: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`[{name, passed, detail}]` from the registered loop results of the tcp, http and command probes."""
    verdicts = []
    for result in results or ():
        check = result.get("item") or {}
        if result.get("skipped"):
            continue
        kind = check.get("kind")
        failed = bool(result.get("failed"))
        if kind == "http":
            body = check.get("body")
            content = str(result.get("content") or "")
            status = result.get("status")
            body_ok = body is None or body in content
            passed = not failed and body_ok
            detail = f"status {status}"
            if body is not None:
                detail += ", body contains " + repr(body) if body_ok else ", body lacks " + repr(body)
            if failed and result.get("msg"):
                detail += f": {_short(result['msg'])}"
        elif kind == "command":
            passed = not failed
            detail = f"exit {result.get('rc')}"
            stderr = str(result.get("stderr") or "").strip()
            if stderr:
                detail += f": {_short(stderr.splitlines()[-1])}"
        else:
            passed = not failed
            detail = "port open" if passed else _short(str(result.get("msg", "port closed")))
        verdicts.append({"name": str(check.get("name", kind)), "passed": passed, "detail": detail})
    return verdicts


def hook(planned: Any, role_setting: Any = "") -> dict[str, Any] | None:
    """The host's hook as `{kind, label, tasks, commands}`: the plan's (`{tasks}` or `{commands}`), else the role's
    own setting (a tasks file path, empty for none); None when the host has no hook."""
    if isinstance(planned, Mapping) and planned.get("commands"):
        commands = [[str(part) for part in argv] for argv in planned["commands"]]
        label = "commands: " + "; ".join(" ".join(argv) for argv in commands)
        return {"kind": "commands", "label": label, "tasks": None, "commands": commands}
    tasks = planned.get("tasks") if isinstance(planned, Mapping) else None
    tasks = tasks or role_setting or None
    if tasks is None:
        return None
    return {"kind": "tasks", "label": f"tasks {tasks}", "tasks": str(tasks), "commands": []}


def hook_result(
    hook_value: Mapping[str, Any], registered: Mapping[str, Any] | None, check_mode: bool
) -> dict[str, Any]:
    """`{hook, status, detail, rc, output}` of a commands hook from its registered loop: ok, failed (the first
    failing command and why) or skipped (check mode runs no hook command). `rc` and `output` (the last line the
    command wrote, stdout before stderr) are those of the failing command, else of the last one."""
    label = str(hook_value.get("label", ""))
    if check_mode:
        skipped = "check mode runs no hook command"
        return {"hook": label, "status": "skipped", "detail": skipped, "rc": None, "output": ""}
    results = [r for r in (registered or {}).get("results") or () if isinstance(r, Mapping) and not r.get("skipped")]
    for result in results:
        if result.get("failed"):
            argv = " ".join(str(part) for part in result.get("item") or ())
            why = str(result.get("stderr") or result.get("msg") or "failed").strip()
            last = why.splitlines()[-1] if why else "failed"
            return {
                "hook": label,
                "status": "failed",
                "detail": _short(f"{argv}: exit {result.get('rc')}: {last}"),
                "rc": _rc(result),
                "output": _last_line(result),
            }
    last_result = results[-1] if results else {}
    return {
        "hook": label,
        "status": "ok",
        "detail": f"{len(results)} command(s) exited 0",
        "rc": _rc(last_result),
        "output": _last_line(last_result),
    }


def _rc(result: Mapping[str, Any]) -> int | None:
    rc = result.get("rc")
    return rc if isinstance(rc, int) and not isinstance(rc, bool) else None


def _last_line(result: Mapping[str, Any]) -> str:
    for stream in ("stdout", "stderr"):
        lines = [line for line in str(result.get(stream) or "").splitlines() if line.strip()]
        if lines:
            return _short(lines[-1])
    return ""


_NOT_RESTARTABLE = frozenset({"systemd-manager", "sysv-init"})


def stale_services(listings: Mapping[str, Any], rebooted: bool, family: str) -> dict[str, Any]:
    """`{tool, stale, restarted: [], detail}` from the registered outputs of needrestart (`NEEDRESTART-SVC: name`
    lines), needs-restarting -s and zypper ps -sss (one service per line); the first that ran is the answer."""
    if rebooted:
        return {"tool": None, "stale": [], "restarted": [], "detail": "the host rebooted: no service runs old code"}
    for tool, registered in listings.items():
        if not isinstance(registered, Mapping) or registered.get("skipped") or "stdout" not in registered:
            continue
        lines = [line.strip() for line in str(registered.get("stdout") or "").splitlines() if line.strip()]
        if tool == "needrestart":
            names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("NEEDRESTART-SVC:")]
        else:
            names = [line for line in lines if " " not in line]
        stale = sorted({name for name in names if name not in _NOT_RESTARTABLE})
        return {"tool": tool, "stale": stale, "restarted": [], "detail": f"{tool}: {len(stale)} stale service(s)"}
    missing = "needrestart is not installed" if family == "apt" else "no tool listed stale services"
    return {"tool": None, "stale": [], "restarted": [], "detail": f"not checked: {missing}"}


def failure_message(task_name: Any, result: Mapping[str, Any] | None) -> str:
    """One line saying which task failed and why, from `ansible_failed_task.name` and `ansible_failed_result`."""
    result = result or {}
    failed_items = [r for r in result.get("results") or () if isinstance(r, Mapping) and r.get("failed")]
    source = failed_items[0] if failed_items else result
    why = str(source.get("msg") or "failed")
    stderr = str(source.get("stderr") or "").strip()
    if stderr and stderr not in why:
        why += ": " + stderr.splitlines()[-1]
    return _short(f"{task_name}: {why}", 1000)


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class FilterModule:
    """Ansible's entry point for the role's filters."""

    def filters(self) -> dict[str, Any]:
        """The role's filters by name."""
        return {
            "patchorch_installed_versions": installed_versions,
            "patchorch_apt_upgrades": apt_upgrades,
            "patchorch_dnf_upgrades": dnf_upgrades,
            "patchorch_normalise_checks": health_checks,
            "patchorch_pinned": pinned,
            "patchorch_unpinned": unpinned,
            "patchorch_apt_pins": apt_pins,
            "patchorch_candidates": candidates,
            "patchorch_version_pins": version_pins,
            "patchorch_pinned_versions": pinned_versions,
            "patchorch_report": report,
            "patchorch_check_verdicts": check_verdicts,
            "patchorch_failure_message": failure_message,
            "patchorch_hook": hook,
            "patchorch_hook_result": hook_result,
            "patchorch_stale_services": stale_services,
        }
