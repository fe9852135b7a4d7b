"""The test fleet's one exception."""

from __future__ import annotations

from patchorch.errors import PatchorchError


class FleetError(PatchorchError):
    """The test fleet could not be built, started, reached or torn down (context names host, port, command)."""
