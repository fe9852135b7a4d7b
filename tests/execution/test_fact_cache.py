"""BatchRequest.fact_cache: the executor gives every playbook of a run Ansible's fact cache in that directory, so a
later playbook sees what an earlier one kept with `cacheable: true`; without it, nothing outlives its playbook.
Real local-connection playbooks through the real executor."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from patchorch.execution.ansible import AnsibleRunnerExecutor
from patchorch.execution.base import BatchRequest


def _plays(directory: Path) -> tuple[Path, Path, Path]:
    """`keep.yml` keeps a cacheable fact; `read.yml` writes what it finds of it into `seen`."""
    keep = directory / "keep.yml"
    keep.write_text(
        yaml.safe_dump(
            [
                {
                    "hosts": "all",
                    "gather_facts": False,
                    "tasks": [{"ansible.builtin.set_fact": {"kept_by_prepare": "yes", "cacheable": True}}],
                }
            ]
        )
    )
    read = directory / "read.yml"
    seen = directory / "seen"
    read.write_text(
        yaml.safe_dump(
            [
                {
                    "hosts": "all",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "ansible.builtin.copy": {
                                "content": "{{ ansible_facts['kept_by_prepare'] | default('nothing') }}",
                                "dest": str(seen),
                            }
                        }
                    ],
                }
            ]
        )
    )
    inventory = directory / "inventory.yml"
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"local": local}}}))
    return keep, read, inventory


def _run(play: Path, inventory: Path, work: Path, cache: Path | None) -> None:
    request = BatchRequest(
        run_id="facts-cache",
        stage="s",
        batch=1,
        attempt=1,
        hosts=("local",),
        playbook=play,
        inventory=(inventory,),
        fact_cache=cache,
    )
    AnsibleRunnerExecutor(work_dir=work).run_batch(request)


def test_a_later_playbook_of_the_run_sees_what_an_earlier_one_cached(tmp_path: Path) -> None:
    """With a fact cache the second playbook reads the fact the first kept, from files in that directory."""
    keep, read, inventory = _plays(tmp_path)
    cache = tmp_path / "run" / "facts"
    _run(keep, inventory, tmp_path / "work", cache)
    _run(read, inventory, tmp_path / "work", cache)
    assert (tmp_path / "seen").read_text() == "yes"
    assert [entry.name.endswith("local") for entry in cache.iterdir()] == [True]


def test_without_a_fact_cache_nothing_outlives_its_playbook(tmp_path: Path) -> None:
    """No fact cache: the second playbook finds nothing of what the first kept."""
    keep, read, inventory = _plays(tmp_path)
    _run(keep, inventory, tmp_path / "work", None)
    _run(read, inventory, tmp_path / "work", None)
    assert (tmp_path / "seen").read_text() == "nothing"
