"""Imports every command module so that each registers its commands on the app."""

from __future__ import annotations

# One line per command module; each registers itself on patchorch.cli._app.app when imported.
from patchorch.cli import (
    advisories,  # noqa: F401
    advisory_sync,  # noqa: F401
    drill,  # noqa: F401
    inventory,  # noqa: F401
    plan,  # noqa: F401
    render,  # noqa: F401
    report,  # noqa: F401
    rollback,  # noqa: F401
    rollout,  # noqa: F401
)
