"""Hook tasks files, found where users keep them: beside the inventory or the policy that names them.

A hook's `tasks` is written relative to the file that declares it; reading resolves it to an absolute path and
records the file's SHA-256, so a stored plan names exactly the file it will render (and rendering can refuse a file
that changed since).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from patchorch.domain.fleet import Hook

__all__ = ["HookFileMissing", "resolve_hook"]


class HookFileMissing(Exception):
    """The tasks file of a hook is in none of the places it may be; `tried` lists them."""

    def __init__(self, tasks: str, tried: Sequence[Path]) -> None:
        self.tasks = tasks
        self.tried = tuple(tried)
        super().__init__(f"no hook tasks file {tasks!r} (looked at {', '.join(str(p) for p in self.tried)})")


def resolve_hook(hook: Hook, bases: Sequence[Path], cache: dict[Path, Hook] | None = None) -> Hook:
    """`hook` with its tasks file made absolute (the first of `bases` that holds it) and its digest recorded.

    Commands need nothing and come back unchanged. `cache` (absolute path -> resolved hook) saves reading one file
    once per host that names it.
    """
    if hook.tasks is None:
        return hook
    written = Path(hook.tasks)
    candidates = [written] if written.is_absolute() else [(base / written).absolute() for base in bases]
    for path in candidates:
        if cache is not None and path in cache:
            return cache[path]
        if path.is_file():
            resolved = hook.model_copy(
                update={"tasks": str(path), "digest": hashlib.sha256(path.read_bytes()).hexdigest()}
            )
            if cache is not None:
                cache[path] = resolved
            return resolved
    raise HookFileMissing(hook.tasks, candidates)
