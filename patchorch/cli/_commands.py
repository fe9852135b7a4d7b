"""Imports every command module so that each registers its commands on the app."""

from __future__ import annotations

# One line per command module; each registers itself on patchorch.cli._app.app when imported.
from patchorch.cli import advisories  # noqa: F401
from patchorch.cli import plan  # noqa: F401
