"""Quality gates on rendered content: ansible-playbook --syntax-check and ansible-lint (production profile)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from patchorch.rendering import RenderedRun, render_run
from tests.rendering.example import example_plan

BIN = Path(sys.executable).parent
REPO = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> RenderedRun:
    root = tmp_path_factory.mktemp("lint")
    (root / "inventory.yml").write_text("all:\n  hosts:\n    webmail1:\n    mx1:\n    mx2:\n    imap1:\n    relay1:\n")
    return render_run(example_plan(), root / "run", inventory_sources=[root / "inventory.yml"])


def _env(rendered: RenderedRun) -> dict[str, str]:
    return {**os.environ, "ANSIBLE_CONFIG": str(rendered.ansible_cfg), "NO_COLOR": "1", "ANSIBLE_NOCOLOR": "1"}


def test_every_rendered_playbook_passes_syntax_check(rendered: RenderedRun) -> None:
    """site.yml and each stage playbook pass `ansible-playbook --syntax-check` with the run's inventories."""
    playbooks = [rendered.site_playbook, *(path for _, path in rendered.stage_playbooks)]
    for playbook in playbooks:
        sources = [arg for source in rendered.inventory_sources for arg in ("-i", str(source))]
        done = subprocess.run(
            [str(BIN / "ansible-playbook"), *sources, "--syntax-check", str(playbook)],
            capture_output=True, text=True, env=_env(rendered), cwd=rendered.directory, check=False, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, f"{playbook.name}:\n{done.stdout}{done.stderr}"


def test_rendered_run_passes_ansible_lint_production(rendered: RenderedRun) -> None:
    """ansible-lint --profile production finds nothing in the run directory (playbooks and the copied role)."""
    done = subprocess.run(
        [str(BIN / "ansible-lint"), "--offline", "--nocolor", "--profile", "production", "site.yml"],
        capture_output=True, text=True, env=_env(rendered), cwd=rendered.directory, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_repository_passes_ansible_lint_production() -> None:
    """ansible-lint with the repository's .ansible-lint (role, molecule scenario) passes."""
    done = subprocess.run(
        [str(BIN / "ansible-lint"), "--offline", "--nocolor"],
        capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"}, cwd=REPO, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
