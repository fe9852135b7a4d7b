"""`patchorch render --plan`: a stored plan becomes a run directory; a tampered plan is bad input."""

from __future__ import annotations

from pathlib import Path

from patchorch.cli import main
from patchorch.rendering._vars import load_vars
from tests.rendering.example import example_plan, host_vars_of

INVENTORY = "all:\n  hosts:\n    webmail1:\n    mx1:\n    mx2:\n    imap1:\n    relay1:\n"


def test_render_writes_the_plan_into_the_directory(tmp_path: Path) -> None:
    """`render --plan plan.json -i INV -o DIR` exits 0 and writes the stage playbooks of the plan."""
    (tmp_path / "inventory.yml").write_text(INVENTORY)
    (tmp_path / "plan.json").write_text(example_plan().pretty_json())
    status = main(
        [
            "render",
            "--plan",
            str(tmp_path / "plan.json"),
            "-i",
            str(tmp_path / "inventory.yml"),
            "-o",
            str(tmp_path / "run"),
        ]
    )
    assert status == 0
    assert sorted(p.name for p in (tmp_path / "run").glob("*.yml")) == [
        "00-prepare.yml",
        "01-canary.yml",
        "02-wave-1.yml",
        "03-wave-2.yml",
        "site.yml",
    ]


def test_render_refuses_a_plan_whose_hash_does_not_match(tmp_path: Path) -> None:
    """A plan file edited after planning exits 2 and writes nothing."""
    (tmp_path / "inventory.yml").write_text(INVENTORY)
    text = example_plan().pretty_json().replace('"webmail1"', '"mx1x"', 1)
    (tmp_path / "plan.json").write_text(text)
    status = main(
        [
            "render",
            "--plan",
            str(tmp_path / "plan.json"),
            "-i",
            str(tmp_path / "inventory.yml"),
            "-o",
            str(tmp_path / "run"),
        ]
    )
    assert status == 2
    assert not (tmp_path / "run").exists()


def test_render_passes_the_inventorys_hooks(tmp_path: Path) -> None:
    """`render -i INV` plans with the inventory's hooks: the host's commands and copied tasks file are its host vars."""
    (tmp_path / "drain.yml").write_text("- name: Drain\n  ansible.builtin.debug:\n    msg: drain\n")
    (tmp_path / "inventory.yml").write_text(
        "all:\n  hosts:\n    mx1:\n      patchorch_pre_hook: drain.yml\n      patchorch_post_hook: [lb undrain mx1]\n"
    )
    status = main(["render", "-i", str(tmp_path / "inventory.yml"), "-o", str(tmp_path / "run")])
    assert status == 0
    groups = load_vars((tmp_path / "run" / "inventory" / "patchorch_groups.yml").read_text())
    mx1 = host_vars_of(groups)["mx1"]["patchorch_patch_host_settings"]
    assert mx1["post_hook"] == {"commands": [["lb", "undrain", "mx1"]]}
    assert (tmp_path / "run" / mx1["pre_hook"]["tasks"]).read_text() == (tmp_path / "drain.yml").read_text()
