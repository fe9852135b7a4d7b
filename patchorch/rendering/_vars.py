"""Vars files for Ansible, written by a YAML serializer: every string is data, tagged `!unsafe`.

ansible-core 2.19 treats strings loaded from vars files as trusted templates: `{{ lookup('pipe', ...) }}` in a
plain string would run when a task uses the variable. Tagging a string `!unsafe` makes Ansible keep it as text.
patchorch writes no templates into vars files, so it tags every string value; mapping keys stay plain and must be
names (variable, host or stage names) that Ansible does not template.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from patchorch.errors import RenderError

UNSAFE_TAG = "!unsafe"
# Keys of generated mappings: Ansible variable names, inventory host names and stage names.
SAFE_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@+-]*$")


class _Unsafe(str):
    """A string value that Ansible must never template."""

    __slots__ = ()


# libyaml's emitter and parser when PyYAML has them (10k-host groups files: several times faster), else pure Python.
_SafeDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _VarsDumper(_SafeDumper):  # type: ignore[valid-type,misc]  # chosen at import time, both are SafeDumpers
    """A safe dumper that writes `_Unsafe` strings with the `!unsafe` tag."""


def _represent_unsafe(dumper: yaml.SafeDumper, value: _Unsafe) -> yaml.ScalarNode:
    # Always quoted: the tag applies to the scalar whatever characters it holds (newlines, '- hosts:', quotes).
    return dumper.represent_scalar(UNSAFE_TAG, str(value), style='"')


_VarsDumper.add_representer(_Unsafe, _represent_unsafe)


class _VarsLoader(_SafeLoader):  # type: ignore[valid-type,misc]  # chosen at import time, both are SafeLoaders
    """A safe loader that reads `!unsafe` scalars back as `_Unsafe` strings (to verify what was written)."""


def _construct_unsafe(loader: yaml.SafeLoader, node: yaml.Node) -> _Unsafe:
    if not isinstance(node, yaml.ScalarNode):
        raise yaml.constructor.ConstructorError(None, None, "!unsafe tags only strings", node.start_mark)
    return _Unsafe(loader.construct_scalar(node))


_VarsLoader.add_constructor(UNSAFE_TAG, _construct_unsafe)


def tag_unsafe(data: Any, *, where: str = "vars") -> Any:
    """`data` with every string value wrapped as `_Unsafe`; keys checked against `SAFE_KEY`; only plain data."""
    if isinstance(data, bool | int | float) or data is None:
        return data
    if isinstance(data, str):
        return _Unsafe(data)
    if isinstance(data, Mapping):
        result = {}
        for key, value in data.items():
            if not isinstance(key, str) or not SAFE_KEY.match(key):
                raise RenderError(f"{where}: refusing the mapping key {key!r} (allowed: {SAFE_KEY.pattern})", value=key)
            result[key] = tag_unsafe(value, where=f"{where}.{key}")
        return result
    if isinstance(data, Sequence):
        return [tag_unsafe(item, where=where) for item in data]
    raise RenderError(f"{where}: cannot write a {type(data).__name__} into a vars file", value=repr(data))


_BUFFER = 1 << 20
_DUMP_OPTIONS: dict[str, Any] = {"sort_keys": True, "default_flow_style": False, "allow_unicode": True, "width": 120}


def dump_vars(data: Mapping[str, Any], *, header: str) -> str:
    """`data` as YAML with every string `!unsafe`, after a `#` comment header; re-read and compared before returning."""
    tagged = tag_unsafe(data)
    body: str = yaml.dump(tagged, Dumper=_VarsDumper, **_DUMP_OPTIONS)
    text = _comment(header) + "---\n" + body
    _check_reads_back(load_vars(text), tagged)
    return text


def write_vars(path: Path, data: Mapping[str, Any], *, header: str) -> None:
    """`dump_vars` into `path`, streamed (no copy of a 100k-host file in memory as text), then read back once."""
    tagged = tag_unsafe(data)
    # libyaml writes in small pieces: a large buffer keeps that from being one system call each.
    with path.open("w", encoding="utf-8", buffering=_BUFFER) as stream:
        stream.write(_comment(header) + "---\n")
        yaml.dump(tagged, stream, Dumper=_VarsDumper, **_DUMP_OPTIONS)
    _check_reads_back(load_vars(path.read_text(encoding="utf-8")), tagged)


def _comment(header: str) -> str:
    return "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())


def _check_reads_back(loaded: Any, tagged: Any) -> None:
    if loaded != tagged or not _all_unsafe(loaded):
        raise RenderError("a generated vars file does not read back as the data it was written from")


def load_vars(text: str) -> Any:
    """Read a generated vars file: `!unsafe` strings come back as `_Unsafe`, anything but plain data is refused."""
    try:
        return yaml.load(text, Loader=_VarsLoader)  # noqa: S506  # a SafeLoader subclass that adds only !unsafe
    except yaml.YAMLError as exc:
        raise RenderError(f"a generated vars file does not parse: {exc}") from None


def _all_unsafe(data: Any) -> bool:
    if isinstance(data, str):
        return isinstance(data, _Unsafe)
    if isinstance(data, Mapping):
        return all(_all_unsafe(value) for value in data.values())
    if isinstance(data, list):
        return all(_all_unsafe(item) for item in data)
    return True
