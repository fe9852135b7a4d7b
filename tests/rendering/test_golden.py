"""Golden files: the run directory patchorch renders for the example plan (PATCHORCH_UPDATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from patchorch.rendering import render_run
from tests.rendering.example import example_plan

GOLDEN = Path(__file__).parents[1] / "golden" / "render-example"
INVENTORY = "all:\n  hosts:\n    webmail1:\n    mx1:\n    mx2:\n    imap1:\n    relay1:\n"


def _generated(directory: Path) -> dict[str, str]:
    # The role is a verbatim copy of the package's; the golden files show what is generated.
    return {
        str(path.relative_to(directory)): path.read_text()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and "roles" not in path.relative_to(directory).parts
    }


def test_example_plan_renders_the_golden_files(tmp_path: Path) -> None:
    """The example plan renders byte for byte into tests/golden/render-example/."""
    (tmp_path / "inventory.yml").write_text(INVENTORY)
    run = render_run(example_plan(), tmp_path / "render-example", inventory_sources=[tmp_path / "inventory.yml"])
    produced = _generated(run.directory)
    if os.environ.get("PATCHORCH_UPDATE_GOLDEN"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for name, text in produced.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_text(text)
    assert produced == _generated(GOLDEN)
