"""Reading policy files: strict YAML with line numbers, validated into `patchorch.domain.policy.Policy`.

The loader is deliberately smaller than YAML: duplicate keys, tags (`!!python/...`, `!!str`), anchors, aliases and
merge keys are refused, because each lets a policy say something other than what a reader sees. Every problem names
the file, the line and the field:

    invalid policy: site/policy.yml:14, classes.high.failure_budget: a percentage must lie in (0, 100], not '150%'

    >>> policy = load_policy(Path("inventories/example-mail/policy.yml"))   # doctest: +SKIP
    >>> default = load_policy(None)                                         # the built-in policy
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from patchorch.domain.fleet import HOOK_FIELDS
from patchorch.domain.policy import Location, Policy, format_location, parse_policy
from patchorch.errors import PolicyError, Problem
from patchorch.sources._yaml import BoundedLoader
from patchorch.sources.hooks import HookFileMissing, resolve_hook

DEFAULT_POLICY = "default.yml"
_BUILT_IN_NAME = "patchorch/policy/default.yml (built-in)"


class _Refused(Exception):
    """A YAML feature the policy loader does not accept, at a line."""

    def __init__(self, message: str, mark: Any, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line: int | None = mark.line + 1 if mark is not None else None
        self.field = field


class StrictLoader(BoundedLoader):
    """A safe loader that refuses tags, anchors and aliases while composing (so before anything is constructed)."""

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(
                f"aliases (*{event.anchor}) are not allowed in a policy: write the value out", event.start_mark
            )
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _Refused(f"anchors (&{anchor}) are not allowed in a policy", event.start_mark)
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!":
            raise _Refused(f"YAML tags ({tag}) are not allowed in a policy", event.start_mark)
        return super().compose_node(parent, index)


def load_yaml_with_lines(text: str, *, source: str) -> tuple[Any, dict[Location, int]]:
    """Parse `text` strictly; return the data and the line (1-based) of every key and list item, by location."""
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise PolicyError([Problem("the policy is empty", file=source, line=1)])
        lines: dict[Location, int] = {(): node.start_mark.line + 1}
        return _build(loader, node, (), lines), lines
    except _Refused as exc:
        raise PolicyError([Problem(exc.message, file=source, line=exc.line, field=exc.field)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = f"not valid YAML: {exc.problem or exc.context or 'cannot parse'}"
        raise PolicyError([Problem(problem, file=source, line=mark.line + 1 if mark else None)]) from None
    except yaml.YAMLError as exc:
        raise PolicyError([Problem(f"not valid YAML: {exc}", file=source)]) from None
    finally:
        loader.dispose()


def _build(loader: StrictLoader, node: Node, location: Location, lines: dict[Location, int]) -> Any:
    if isinstance(node, MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _Refused("merge keys (<<) are not allowed in a policy", key_node.start_mark)
            if not isinstance(key_node, ScalarNode):
                raise _Refused("a key must be a plain word, not a list or mapping", key_node.start_mark)
            key = loader.construct_object(key_node)
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise _Refused(f"a key must be a word, not {key!r}", key_node.start_mark)
            if key in result:
                first = lines.get((*location, key))
                where = format_location((*location, key))
                raise _Refused(f"duplicate key {key!r} (first on line {first})", key_node.start_mark, where)
            lines[(*location, key)] = line
            result[key] = _build(loader, value_node, (*location, key), lines)
        return result
    if isinstance(node, SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            lines[(*location, index)] = item.start_mark.line + 1
            items.append(_build(loader, item, (*location, index), lines))
        return items
    return loader.construct_object(node)


def parse_policy_text(text: str, *, source: str) -> Policy:
    """Validate a policy given as YAML text; `source` names it in errors (a path, or `<stdin>`)."""
    data, lines = load_yaml_with_lines(text, source=source)

    def line_of(location: Location) -> int | None:
        # The line of the deepest known part: a missing key points at the mapping that lacks it.
        for end in range(len(location), -1, -1):
            line = lines.get(location[:end])
            if line is not None:
                return line
        return None

    return parse_policy(data, source=source, line_of=line_of)


def load_policy(path: Path | None = None) -> Policy:
    """Read and validate the policy file at `path`; None reads the built-in default policy (package data)."""
    if path is None:
        text = resources.files("patchorch.policy").joinpath(DEFAULT_POLICY).read_text(encoding="utf-8")
        return parse_policy_text(text, source=_BUILT_IN_NAME)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError([Problem("no such policy file", file=str(path))]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError([Problem(f"cannot read the policy file: {exc}", file=str(path))]) from None
    policy = parse_policy_text(text, source=str(path))
    return _with_hook_files(policy, path)


def _with_hook_files(policy: Policy, path: Path) -> Policy:
    """The policy with its hook tasks files found beside it (absolute paths, digests)."""
    update = {}
    for key in HOOK_FIELDS:
        hook = getattr(policy, key)
        if hook is None:
            continue
        try:
            update[key] = resolve_hook(hook, [path.parent])
        except HookFileMissing as exc:
            raise PolicyError(
                [
                    Problem(
                        str(exc), file=str(path), field=key, value=hook.tasks, allowed="a tasks file beside the policy"
                    )
                ]
            ) from None
    return policy.model_copy(update=update) if update else policy
