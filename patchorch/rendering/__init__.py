"""Rendering: a rollout plan becomes a self-contained run directory of stage playbooks, vars files and the role."""

from __future__ import annotations

from patchorch.rendering.render import RenderedRun, RoleSettings, batch_group_name, render_run

__all__ = ["RenderedRun", "RoleSettings", "batch_group_name", "render_run"]
