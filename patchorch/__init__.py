"""patchorch: staged, gated and recorded patch rollouts over Ansible."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
