"""The public surface: `patchorch.__all__` names exactly the public members, and each is importable."""

from __future__ import annotations

import inspect

import patchorch


def test_all_lists_every_public_member_exactly_once() -> None:
    """Every public, non-module name the package offers (lazy ones included) is in __all__, and nothing else is."""
    public = {
        name
        for name in dir(patchorch)
        if not name.startswith("_") and not inspect.ismodule(getattr(patchorch, name)) and name != "annotations"
    }
    assert sorted(patchorch.__all__) == sorted(public | {"__version__"})
    assert len(patchorch.__all__) == len(set(patchorch.__all__))


def test_every_exported_name_resolves() -> None:
    """Each name in __all__ is an attribute of the package."""
    for name in patchorch.__all__:
        assert getattr(patchorch, name) is not None
