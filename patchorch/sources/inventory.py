"""The fleet, read from Ansible inventories by Ansible's own parser.

`load_fleet` reads the sources once, in this process, with Ansible's own inventory and variable managers as
`ansible-inventory --list` does (INI, YAML, directories with group_vars/host_vars, scripts and plugins all work, with
Ansible's variable precedence), then validates each host's `patchorch_*` variables into a `Host`. A limit is evaluated
by Ansible on that same load, so the pattern means exactly what it means to Ansible while the fleet still holds every
host (the planner reports the others as outside the limit). docs/INVENTORY.md is the reference of the variables.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from patchorch.domain.fleet import HOOK_FIELDS, Fleet, Hook, Host, host_name_problem, jinja_in
from patchorch.domain.inventory_check import (
    KNOWN_VARIABLES,
    PASSTHROUGH_VARIABLES,
    VARIABLE_PREFIX,
    UnknownKey,
    suggest_variable,
)
from patchorch.errors import ConfigError, InventoryError, Problem
from patchorch.sources._origins import HOST_DEFINITION, Origin, locate
from patchorch.sources._reading import ReadFailed, Reading, VaultSecret, read_inventory
from patchorch.sources.hooks import HookFileMissing, resolve_hook

__all__ = ["IGNORED_FILE_PATTERNS", "InventoryLoad", "UnknownKey", "VaultSecret", "load_fleet"]

# Fields that take a documented default when undeclared, and are reported as defaulted.
_DEFAULTABLE = frozenset({"owner", "criticality", "exposure"})
_FIELDS = {name[len(VARIABLE_PREFIX) :] for name in KNOWN_VARIABLES - PASSTHROUGH_VARIABLES}
_PREFIX_LENGTH = len(VARIABLE_PREFIX)

# patchorch's own files beside an inventory (`inventories/mail/policy.yml`) are not inventory sources: Ansible
# would read a policy's keys as empty groups, with a warning for each. Ansible matches these against file names
# in inventory directories; `ignore_patterns` in [inventory] of an ansible.cfg takes the same list.
IGNORED_FILE_PATTERNS = (r"^policy\.ya?ml$", r"^patchorch\.ya?ml$")


@dataclasses.dataclass(frozen=True, slots=True)
class InventoryLoad:
    """A fleet read from inventory sources, and what the load noticed on the way."""

    fleet: Fleet
    sources: tuple[str, ...]
    # Hosts inside `limit` by Ansible's pattern rules; None when no limit was given.
    in_limit: frozenset[str] | None = None
    limit: str | None = None
    # Hosts of each group, children's hosts included (like Ansible's `groups`), without `all` and `ungrouped`.
    groups: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    # Unknown `patchorch_*` variables; only a non-strict load gets this far with any.
    unknown_keys: tuple[UnknownKey, ...] = ()
    # Per host, the fields that took their default (only hosts with any).
    defaulted: Mapping[str, frozenset[str]] = dataclasses.field(default_factory=dict)
    # Per host, variables patchorch passes by untouched: `ansible_*` connection variables and the reboot commands.
    passthrough: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    # Ansible's own warnings while reading (a skipped key, a pattern that matched nothing), one line each.
    warnings: tuple[str, ...] = ()

    @property
    def selected(self) -> Fleet:
        """The hosts inside the limit (every host without one)."""
        return self.fleet if self.in_limit is None else self.fleet.subset(self.in_limit)


def load_fleet(
    sources: Sequence[Path],
    *,
    limit: str | None = None,
    strict: bool = True,
    vault_ids: Sequence[VaultSecret] = (),
) -> InventoryLoad:
    """Read `sources` with Ansible, in this process, and validate every host's patch metadata.

    Vault-encrypted files and values are read with `vault_ids`: a password held in memory is handed to Ansible's
    loader as is; a password file or client script of the user's is read by Ansible itself. Nothing is written.

    Raises InventoryError naming the source and Ansible's reason when Ansible cannot read a source, and listing every
    problem (host, variable, value, what is allowed) when metadata does not validate. Unknown `patchorch_*` variables
    are problems when `strict`, else recorded in `unknown_keys`.
    """
    if not sources:
        raise InventoryError([Problem("no inventory source given", field="inventory")])
    if limit is not None:
        check_limit(limit)
    names = tuple(str(source) for source in sources)
    label = " + ".join(names)
    for source, name in zip(sources, names, strict=True):
        # A comma-separated host list ("mx1,mx2,") is a source too; only paths can be missing.
        if "," not in name and not source.exists():
            raise InventoryError([Problem("no such file or directory", file=name)])
    try:
        load = _read(names, label, limit=limit, strict=strict, vault_ids=vault_ids)
    finally:
        # Ansible's inventory is a web of cycles (hosts and groups name each other): free it before planning.
        gc.collect()
    return _with_hook_files(load, sources, label)


def _read(
    names: tuple[str, ...], label: str, *, limit: str | None, strict: bool, vault_ids: Sequence[VaultSecret]
) -> InventoryLoad:
    """The validated load of `names`; Ansible's inventory of it is left behind for the collector."""
    try:
        with read_inventory(names, limit=limit, ignored_files=IGNORED_FILE_PATTERNS, vault_ids=vault_ids) as reading:
            try:
                load = _convert(reading, names, label, limit=limit, strict=strict)
            except InventoryError as exc:
                origins = locate(reading.inventory, reading.variable_manager, _wanted(exc.problems))
                raise InventoryError(_located(exc.problems, names, origins), summary=exc.summary) from None
    except ReadFailed as exc:
        raise _failure(exc.report, names, label) from None
    return dataclasses.replace(load, warnings=reading.warnings) if reading.warnings else load


def _with_hook_files(load: InventoryLoad, sources: Sequence[Path], label: str) -> InventoryLoad:
    """Hook tasks files found beside the inventory (absolute paths, digests); a missing one is a problem."""
    bases = [source if source.is_dir() else source.parent for source in sources if "," not in str(source)]
    cache: dict[Path, Hook] = {}
    hosts: list[Host] = []
    problems: list[Problem] = []
    changed = False
    for host in load.fleet.hosts:
        update = {}
        for key in HOOK_FIELDS:
            hook = getattr(host, key)
            if hook is None or hook.tasks is None:
                continue
            try:
                update[key] = resolve_hook(hook, bases, cache)
            except HookFileMissing as exc:
                problems.append(
                    Problem(
                        str(exc),
                        file=label,
                        host=host.name,
                        field=VARIABLE_PREFIX + key,
                        value=hook.tasks,
                        allowed="a tasks file beside the inventory (relative) or an absolute path",
                    )
                )
        changed = changed or bool(update)
        hosts.append(host.model_copy(update=update) if update else host)
    if problems:
        raise InventoryError(problems, summary=None)
    if not changed:
        return load
    return dataclasses.replace(load, fleet=Fleet(hosts=tuple(hosts), source=load.fleet.source))


_LIMIT_ALLOWED = "Ansible host patterns (names, groups, globs, ~regex, [N] or [N:M]) joined by , or : with ! and &"


def check_limit(limit: str) -> None:
    """Refuse a --limit Ansible would quietly read as something else (an unbalanced `[` selects the whole fleet)."""

    def refused(message: str) -> ConfigError:
        return ConfigError([Problem(message, field="--limit", value=limit, allowed=_LIMIT_ALLOWED)])

    if not limit.strip():
        raise refused("the pattern is empty")
    for term in _limit_terms(limit):
        bare = term.strip().lstrip("!&")
        if not bare:
            raise refused(f"{limit!r} has an empty term")
        if bare.startswith("~"):
            try:
                re.compile(bare[1:])
            except re.error as exc:
                raise refused(f"{bare!r} is not a valid regular expression ({exc})") from None
            continue
        depth = 0
        for char in bare:
            depth += {"[": 1, "]": -1}.get(char, 0)
            if depth not in (0, 1):
                raise refused(f"{bare!r} has unbalanced brackets")
        if depth or "[]" in bare:
            raise refused(f"{bare!r} has unbalanced brackets" if depth else f"{bare!r} has an empty []")


def _limit_terms(limit: str) -> list[str]:
    """The terms of a pattern as Ansible splits it: on commas when there are any, else on colons outside brackets."""
    if "," in limit:
        return limit.split(",")
    terms, current, depth = [], "", 0
    for char in limit:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == ":" and depth == 0 and not current.lstrip("!&").startswith("~"):
            terms.append(current)
            current = ""
        else:
            current += char
    return [*terms, current]


_SOURCE_FAILED = re.compile(r"^\[ERROR\]: Completely failed to parse inventory source (?P<source>.+)$")
_PLUGIN_FAILED = re.compile(
    r"^\[WARNING\]: Failed to parse inventory with '(?P<plugin>[\w.]+)' plugin: (?P<reason>.+)$"
)
_ERROR = re.compile(r"^\[ERROR\]: (?P<reason>.+)$")
_ORIGIN = re.compile(r"^Origin: (?P<file>/[^<>]+?):(?P<line>\d+)(?::\d+)?$")
# The auto plugin tries every YAML file as a plugin configuration first; its complaint about that is never the reason.
_NOT_A_PLUGIN_CONFIG = "no root 'plugin' key found"


def _failure(stderr: str, names: tuple[str, ...], label: str) -> InventoryError:
    """Ansible's own one-line reason, and the source it concerns when Ansible names it.

    A dynamic inventory script's own standard error (the CMDB's "token expired") is what an operator needs most:
    it is kept whole, after the reason.
    """
    raw = [line.rstrip() for line in stderr.splitlines()]
    lines = [line.strip() for line in raw if line.strip()]
    file = label
    # (plugin, reason, line): each plugin Ansible tried on the source, and the line its "Origin:" names.
    reasons: list[tuple[str | None, str, int | None]] = []
    for line in lines:
        if match := _SOURCE_FAILED.match(line):
            file = _given_name(match.group("source"), names)
        elif match := _PLUGIN_FAILED.match(line):
            if not match.group("reason").startswith(_NOT_A_PLUGIN_CONFIG):
                reasons.append((match.group("plugin"), match.group("reason"), None))
        elif match := _ERROR.match(line):
            reasons.append((None, match.group("reason"), None))
        elif (match := _ORIGIN.match(line)) and reasons and reasons[-1][2] is None:
            reasons[-1] = (*reasons[-1][:2], int(match.group("line")))
    if not reasons:
        reason = lines[-1] if lines else "ansible-inventory failed without saying why"
        return InventoryError([Problem(reason, file=file)])
    plugin, reason, line_number = _likely_reason(reasons, file)
    script_said = _script_stderr(raw)
    if plugin == "script" and script_said:
        reason = f"{reason.rstrip('.')}; the script said: {script_said}"
    return InventoryError([Problem(reason, file=file, line=line_number)])


_SCRIPT_STDERR = "Standard error from inventory script:"


def _script_stderr(lines: Sequence[str]) -> str:
    """The lines Ansible quotes under "Standard error from inventory script:", joined with ' / '."""
    quoted: list[str] = []
    inside = False
    for line in lines:
        if line.strip() == _SCRIPT_STDERR:
            inside = True
        elif inside and (not line.strip() or line.startswith("[")):
            break
        elif inside:
            quoted.append(line.strip())
    return " / ".join(quoted)


def _likely_reason(reasons: list[tuple[str | None, str, int | None]], file: str) -> tuple[str | None, str, int | None]:
    """Ansible tries several plugins on a source; the one that fits its kind says what is wrong with it."""
    path = Path(file)
    preferred: tuple[str, ...]
    if path.is_file() and os.access(path, os.X_OK):
        preferred = ("script",)
    elif path.suffix in (".yml", ".yaml", ".json"):
        preferred = ("auto", "yaml")
    else:
        preferred = ("ini",)
    plugin_reasons = [item for item in reasons if item[0] is not None]
    for item in plugin_reasons:
        if item[0] in preferred:
            return item
    return plugin_reasons[0] if plugin_reasons else reasons[0]


def _given_name(reported: str, names: tuple[str, ...]) -> str:
    """The source as the user wrote it, when Ansible reports its absolute path."""
    for name in names:
        if str(Path(name).resolve()) == reported or name == reported:
            return name
    return reported


class _Unreadable(Exception):
    """A declared value patchorch cannot use as written."""


def _literal(value: Any) -> Any:
    """The declared value as plain data; raises _Unreadable for a vaulted value or a Jinja template."""
    if isinstance(value, str):
        if jinja_in(value) is not None:
            raise _Unreadable(
                f"{value!r} is a Jinja template: patchorch_* variables are data, never evaluated;"
                " write the value itself"
            )
        return value
    if isinstance(value, dict):
        if "__ansible_unsafe" in value:
            return _plain(value["__ansible_unsafe"])  # marked !unsafe: meant literally
        if "__ansible_vault" in value:
            raise _Unreadable("a vault-encrypted value: patchorch_* metadata must be plain values")
        return {_literal(key): _literal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_literal(item) for item in value]
    return value


def _plain(value: Any) -> Any:
    """The value with ansible-inventory's `{"__ansible_unsafe": ...}` wrappers removed."""
    if isinstance(value, dict):
        if len(value) == 1 and "__ansible_unsafe" in value:
            return _plain(value["__ansible_unsafe"])
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _wanted_variable(key: str) -> bool:
    """The variables patchorch reads: its own and Ansible's connection variables (not Ansible's magic ones)."""
    return key.startswith(VARIABLE_PREFIX) or (key.startswith("ansible_") and key not in _ANSIBLE_INTERNAL)


# Variables Ansible computes itself (ansible_version, ansible_facts, the ansible_local facts) rather than reads from
# the inventory; `ansible-inventory --list` leaves them out too.
_ANSIBLE_INTERNAL = frozenset(
    {
        "ansible_async_path", "ansible_collection_name", "ansible_config_file", "ansible_dependent_role_names",
        "ansible_diff_mode", "ansible_facts", "ansible_forks", "ansible_inventory_sources", "ansible_limit",
        "ansible_play_batch", "ansible_play_hosts", "ansible_play_hosts_all", "ansible_play_role_names",
        "ansible_playbook_python", "ansible_role_name", "ansible_role_names", "ansible_run_tags",
        "ansible_skip_tags", "ansible_verbosity", "ansible_version", "ansible_local",
    }
)  # fmt: skip


def _convert(reading: Reading, names: tuple[str, ...], label: str, *, limit: str | None, strict: bool) -> InventoryLoad:
    """Validate each host's variables as Ansible merged them into a Host; every problem of every host at once."""
    groups = reading.groups
    groups_of: dict[str, list[str]] = {}
    for group in sorted(groups):
        for host in groups[group]:
            groups_of.setdefault(host, []).append(group)
    # Each distinct list of groups, and each distinct value of validated metadata, is held once for the whole fleet.
    group_lists: dict[tuple[str, ...], tuple[str, ...]] = {}
    pool: dict[Any, Any] = {}

    hosts: list[Host] = []
    problems: list[Problem] = []
    unknown: list[UnknownKey] = []
    defaulted: dict[str, frozenset[str]] = {}
    passthrough: dict[str, dict[str, Any]] = {}
    # Hosts mostly inherit their metadata from a few groups: validate each distinct set of declarations once.
    validated: dict[str, Host | list[Problem]] = {}
    # The values of unknown variables, for their problems (the rest of each host's variables is not kept).
    unknown_values: dict[tuple[str, str], Any] = {}
    for name, variables in reading.variables(_wanted_variable):
        declared: dict[str, Any] = {}
        kept: dict[str, Any] = {}
        for key, value in sorted(variables.items()):
            if key.startswith(VARIABLE_PREFIX):
                if key in PASSTHROUGH_VARIABLES:
                    kept[key] = value
                elif key[_PREFIX_LENGTH:] in _FIELDS:
                    # `patchorch_x:` with no value (null) undeclares x: a host can drop what its group set.
                    if value is not None:
                        declared[key[_PREFIX_LENGTH:]] = value
                else:
                    unknown.append(UnknownKey(name, key, suggest_variable(key)))
                    unknown_values[name, key] = value
            elif key.startswith("ansible_"):
                kept[key] = value
        for key in sorted(PASSTHROUGH_VARIABLES.intersection(kept)):
            # Passed to Ansible untouched, so never a template either (a reboot command would run it at reboot).
            try:
                kept[key] = _literal(kept[key])
            except _Unreadable as exc:
                problems.append(Problem(str(exc), file=label, host=name, field=key, value=_plain(kept[key])))
        if kept:
            passthrough[name] = kept
        if (bad_name := host_name_problem(name)) is not None:
            problems.append(Problem(bad_name, file=label, host=name, field="host name", value=name))
        missing = _DEFAULTABLE.difference(declared)
        if missing:
            defaulted[name] = frozenset(missing)
        # Keys are sorted, so equal declarations have equal reprs (a miss only costs time).
        signature = repr(declared)
        result = validated.get(signature)
        if result is None:
            result = validated[signature] = _validate(declared, frozenset(missing), label, pool)
        if isinstance(result, Host):
            member_of = tuple(groups_of.get(name, ()))
            hosts.append(result.named(name, group_lists.setdefault(member_of, member_of)))
        else:
            problems.extend(_at(problem, name) for problem in result)

    problems.extend(_budget_conflicts(hosts, label))
    if strict:
        problems.extend(_unknown_problems(unknown, unknown_values, label))
    if problems:
        problems.sort(key=lambda p: (p.host or "", p.field or ""))
        raise InventoryError(problems, summary=None)
    return InventoryLoad(
        fleet=Fleet(hosts=tuple(hosts), source=names),
        sources=names,
        in_limit=reading.in_limit,
        limit=limit,
        groups=groups,
        unknown_keys=tuple(unknown),
        defaulted=defaulted,
        passthrough=passthrough,
    )


def _validate(
    declared: Mapping[str, Any], missing: frozenset[str], label: str, pool: dict[Any, Any]
) -> Host | list[Problem]:
    """A Host (named `-` in no group until named per host) from declared metadata, its values shared through `pool`;
    or the problems that stop it."""
    problems: list[Problem] = []
    data: dict[str, Any] = {"name": "-", "groups": (), "defaulted": missing}
    for key, value in declared.items():
        try:
            data[key] = _literal(value)
        except _Unreadable as exc:
            # Reported once, as what it is; validating the template text would only add a second problem.
            problems.append(Problem(str(exc), file=label, field=VARIABLE_PREFIX + key, value=_plain(value)))
    try:
        host = Host.model_validate(data)
    except ValidationError as exc:
        return problems + _problems(exc, data, label)
    return problems or host.sharing(pool)


# Hosts located per distinct bad value: a typo in group_vars/all.yml of a 100k-host fleet is one value on every host,
# and asking Ansible about each would take minutes. Hosts beyond these share the first host's file.
_LOCATED_PER_VALUE = 20


def _variable(problem: Problem) -> str:
    """The variable a problem is about, as `locate` asks for it."""
    return HOST_DEFINITION if problem.field == "host name" else problem.field or ""


def _by_value(problems: Sequence[Problem]) -> dict[tuple[object, ...], list[Problem]]:
    """Problems that differ only in their host; a bad host name is a mistake of each host."""
    by_value: dict[tuple[object, ...], list[Problem]] = {}
    for problem in problems:
        same = (problem.field, problem.allowed, repr(problem.value), problem.message)
        by_value.setdefault((*same, problem.host) if problem.field == "host name" else same, []).append(problem)
    return by_value


def _wanted(problems: Sequence[Problem]) -> list[tuple[str, str]]:
    """The (host, variable) pairs to locate: up to `_LOCATED_PER_VALUE` hosts per distinct bad value."""
    return [
        (problem.host, _variable(problem))
        for group in _by_value(problems).values()
        for problem in group[:_LOCATED_PER_VALUE]
        if problem.host is not None and problem.field is not None
    ]


def _located(
    problems: Sequence[Problem], names: tuple[str, ...], origins: Mapping[tuple[str, str], Origin]
) -> list[Problem]:
    """The problems with the file (and line) that set each value, and one problem per value that is wrong on many hosts.

    A bad value in group_vars/mail.yml is one mistake, reported once, naming that file and every host it reaches.
    `origins` answers `_wanted(problems)`.
    """
    by_value = _by_value(problems)
    # Then one problem per value and file that set it.
    alike: dict[tuple[object, ...], tuple[str | None, int | None, list[Problem]]] = {}
    for key, group in by_value.items():
        first = origins.get((group[0].host or "", _variable(group[0])))
        for index, problem in enumerate(group):
            origin = origins.get((problem.host or "", _variable(problem))) if index < _LOCATED_PER_VALUE else first
            file, line = (_shown(origin[0], names), origin[1]) if origin else (problem.file, problem.line)
            alike.setdefault((*key, file, line), (file, line, []))[2].append(problem)
    located = [
        Problem(
            group[0].message,
            file=file,
            line=line,
            host=group[0].host,
            field=group[0].field,
            value=group[0].value,
            allowed=group[0].allowed,
            hosts=[host for problem in group for host in problem.hosts],
        )
        for file, line, group in alike.values()
    ]
    return sorted(located, key=lambda p: (p.file or "", p.line or 0, p.host or "", p.field or ""))


def _shown(path: str, names: tuple[str, ...]) -> str:
    """A file Ansible read, relative to the source the user named when it lies inside it (`inv/group_vars/x.yml`)."""
    resolved = Path(path)
    for name in names:
        base = Path(name).resolve()
        if resolved == base:
            return name
        if resolved.is_relative_to(base) or (base.is_file() and resolved.is_relative_to(base.parent)):
            root = base if base.is_dir() else base.parent
            return str(Path(name if base.is_dir() else str(Path(name).parent)) / resolved.relative_to(root))
    return path


def _at(problem: Problem, host: str) -> Problem:
    return Problem(
        problem.message,
        file=problem.file,
        host=host,
        field=problem.field,
        value=problem.value,
        allowed=problem.allowed,
        line=problem.line,
    )


def _problems(exc: ValidationError, data: Mapping[str, Any], label: str) -> list[Problem]:
    """One Problem per pydantic error, naming the variable, the value and what is allowed."""
    problems = []
    errors = exc.errors(include_url=False)
    for error in errors:
        location = error["loc"]
        if error["type"] == "too_short" and any(
            len(other["loc"]) > len(location) and other["loc"][: len(location)] == location for other in errors
        ):
            continue  # an item inside was refused; "too short after validation" only repeats that
        if not location:
            # A rule across fields; its message names the variables.
            problems.append(Problem(_message(error), file=label))
            continue
        top = str(location[0])
        inner = _inner_path(location[1:])
        # At the top the declared value says more than pydantic's input (which may already be parsed).
        value = data.get(top) if len(location) == 1 else error.get("input")
        message = _message(error)
        if error["type"] in ("enum", "literal_error"):
            message = f"{value!r} is not allowed"
        elif error["type"] in _EXPECTED:
            message = f"expected {_EXPECTED[error['type']]}, not {value!r}"
        elif error["type"] != "missing" and repr(value) not in message:
            message = f"{value!r}: {message}"
        if inner:
            message = f"{inner}: {message}"
        problems.append(Problem(message, file=label, field=VARIABLE_PREFIX + top, value=value, allowed=_allowed(error)))
    return problems


# pydantic's type errors, said in the words of someone writing YAML (not "a valid tuple").
_EXPECTED = {
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "tuple_type": "a list",
    "list_type": "a list",
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "dict_type": "a mapping",
    "time_type": "a time like '02:00'",
    "time_parsing": "a time like '02:00'",
}


def _inner_path(location: tuple[int | str, ...]) -> str:
    """`[1].start` for the start of the second window; discriminator tags (tcp, http) are left out."""
    parts = []
    for part in location:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif part not in ("tcp", "http", "command"):
            parts.append(f".{part}" if parts else str(part))
    return "".join(parts)


def _message(error: Mapping[str, Any]) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message[:1].lower() + message[1:]


def _allowed(error: Mapping[str, Any]) -> str | None:
    context = error.get("ctx") or {}
    if error["type"] in ("enum", "literal_error") and "expected" in context:
        # pydantic says "'low', 'medium', 'high' or 'critical'".
        return str(context["expected"]).replace("'", "").replace(" or ", ", ")
    return None


def _budget_conflicts(hosts: Sequence[Host], label: str) -> list[Problem]:
    """Members of one cluster that declare different budgets: which one counts would be a guess."""
    budgets: dict[str, dict[str, list[str]]] = {}
    for host in hosts:
        if host.cluster is not None and host.cluster_budget is not None:
            budgets.setdefault(host.cluster, {}).setdefault(str(host.cluster_budget), []).append(host.name)
    problems = []
    for cluster, declared in sorted(budgets.items()):
        if len(declared) > 1:
            detail = "; ".join(f"{budget} on {', '.join(names)}" for budget, names in sorted(declared.items()))
            first = min(name for names in declared.values() for name in names)
            problems.append(
                Problem(
                    f"members of cluster {cluster} declare different budgets ({detail})",
                    file=label,
                    host=first,
                    field="patchorch_cluster_budget",
                    value=sorted(declared),
                    allowed="one budget for every member of a cluster",
                )
            )
    return problems


def _unknown_problems(
    unknown: Sequence[UnknownKey], values: Mapping[tuple[str, str], Any], label: str
) -> list[Problem]:
    """One problem per host and unknown variable; `_located` makes one of those that share a value and its file."""
    problems = []
    for item in unknown:
        hint = f"did you mean {item.suggestion}?" if item.suggestion else "see docs/INVENTORY.md for the variables"
        value = _plain(values[item.host, item.key])
        problems.append(
            Problem(
                f"unknown variable (set to {value!r}): {hint}", file=label, host=item.host, field=item.key, value=value
            )
        )
    return problems
