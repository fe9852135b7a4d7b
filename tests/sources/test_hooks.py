"""Hooks where users keep them: patchorch_pre_hook / patchorch_post_hook in inventories, pre_hook / post_hook in
the policy; tasks files found beside the file that names them, commands validated, the plan resolving both."""

from __future__ import annotations

import hashlib
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from patchorch.domain.fleet import Hook, StaleServices
from patchorch.errors import InventoryError, PolicyError
from patchorch.orchestrator.planning import plan_rollout
from patchorch.sources.inventory import load_fleet
from patchorch.sources.policy import load_policy

DRAIN = "- name: Drain\n  ansible.builtin.debug:\n    msg: drain\n"
POLICY = """\
classes: {std: {sla: 7d, concurrency: 5}}
wave_order: [std]
default_class: std
"""


def write(path: Path, text: str) -> Path:
    """Write dedented `text` to `path` (making its directory) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def test_a_string_is_a_tasks_file_and_a_list_is_commands() -> None:
    """The short forms: a string names a tasks file, a list gives commands (strings split on white space)."""
    assert Hook.model_validate("hooks/drain.yml").tasks == "hooks/drain.yml"
    hook = Hook.model_validate(["lb-drain mx1", ["/bin/echo", "two words"]])
    assert hook.commands == (("lb-drain", "mx1"), ("/bin/echo", "two words"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["lb-drain {{ inventory_hostname }}"], "without templating"),
        ([["lb-drain", "{% if x %}"]], "without templating"),
        ([[]], "needs a program"),
        ("drain.sh", "ends in .yml or .yaml"),
        ({"tasks": "d.yml", "commands": ["x"]}, "exactly one"),
        ([], "exactly one"),
    ],
)
def test_bad_hooks_are_refused(value: object, message: str) -> None:
    """Template markers, empty commands, a non-YAML tasks file and both-or-neither kinds are refused."""
    with pytest.raises(ValidationError, match=message):
        Hook.model_validate(value)


def test_inventory_tasks_file_is_found_beside_the_inventory(tmp_path: Path) -> None:
    """A relative tasks file is resolved beside the inventory file, made absolute and its digest recorded."""
    drain = write(tmp_path / "inv" / "hooks" / "drain.yml", DRAIN)
    source = write(tmp_path / "inv" / "hosts.yml", "all:\n  hosts:\n    mx1: {patchorch_pre_hook: hooks/drain.yml}\n")
    hook = load_fleet([source]).fleet.get("mx1").pre_hook
    assert hook is not None
    assert (hook.tasks, hook.digest) == (str(drain), hashlib.sha256(drain.read_bytes()).hexdigest())


def test_group_commands_reach_every_member(tmp_path: Path) -> None:
    """Commands set on a group are each member's post hook, as argv lists."""
    source = write(
        tmp_path / "hosts.yml",
        """
        all:
          children:
            mx:
              hosts: {mx1: {}, mx2: {}}
              vars:
                patchorch_post_hook: ["/usr/local/sbin/lb undrain"]
        """,
    )
    fleet = load_fleet([source]).fleet
    assert [fleet.get(name).post_hook for name in ("mx1", "mx2")] == [
        Hook(commands=(("/usr/local/sbin/lb", "undrain"),))
    ] * 2


def test_missing_inventory_tasks_file_names_host_and_variable(tmp_path: Path) -> None:
    """A tasks file that is not beside the inventory is an InventoryError naming host, variable and file."""
    source = write(tmp_path / "hosts.yml", "all:\n  hosts:\n    mx1: {patchorch_post_hook: undrain.yml}\n")
    with pytest.raises(InventoryError) as caught:
        load_fleet([source])
    problem = caught.value.problems[0]
    assert (problem.host, problem.field, problem.value) == ("mx1", "patchorch_post_hook", "undrain.yml")
    assert str(tmp_path / "undrain.yml") in problem.message


def test_jinja_in_inventory_hook_commands_is_refused(tmp_path: Path) -> None:
    """A hook command written as a Jinja template is refused like any templated patchorch_* value."""
    source = write(
        tmp_path / "hosts.yml", "all:\n  hosts:\n    mx1: {patchorch_pre_hook: ['drain {{ inventory_hostname }}']}\n"
    )
    with pytest.raises(InventoryError, match="patchorch_pre_hook"):
        load_fleet([source])


def test_unknown_stale_services_value_is_refused(tmp_path: Path) -> None:
    """patchorch_stale_services takes restart or report only."""
    source = write(tmp_path / "hosts.yml", "all:\n  hosts:\n    mx1: {patchorch_stale_services: reboot}\n")
    with pytest.raises(InventoryError, match="patchorch_stale_services"):
        load_fleet([source])


def test_policy_tasks_file_is_found_beside_the_policy(tmp_path: Path) -> None:
    """The policy's pre_hook tasks file is resolved beside the policy file."""
    drain = write(tmp_path / "policies" / "drain.yml", DRAIN)
    policy = load_policy(write(tmp_path / "policies" / "policy.yml", POLICY + "pre_hook: drain.yml\n"))
    assert policy.pre_hook is not None
    assert policy.pre_hook.tasks == str(drain)


def test_missing_policy_tasks_file_is_a_policy_error(tmp_path: Path) -> None:
    """A policy hook tasks file that does not exist is a PolicyError naming the field."""
    path = write(tmp_path / "policy.yml", POLICY + "post_hook: undrain.yml\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert caught.value.problems[0].field == "post_hook"


def test_plan_takes_the_hosts_hooks_else_the_policys(tmp_path: Path) -> None:
    """mx1's own pre hook wins; mx2 takes the policy's; both take the policy's post hook and stale setting."""
    write(tmp_path / "drain.yml", DRAIN)
    source = write(
        tmp_path / "hosts.yml",
        "all:\n  hosts:\n    mx1: {patchorch_pre_hook: drain.yml, patchorch_stale_services: report}\n    mx2: {}\n",
    )
    policy = write(
        tmp_path / "policy.yml",
        POLICY + "pre_hook: ['lb drain']\npost_hook: ['lb undrain']\nstale_services: restart\n",
    )
    plan = plan_rollout([source], policy, now=datetime(2026, 1, 5, tzinfo=UTC))
    mx1, mx2 = plan.settings_of("mx1"), plan.settings_of("mx2")
    assert mx1.pre_hook is not None
    assert mx1.pre_hook.tasks == str(tmp_path / "drain.yml")
    assert mx2.pre_hook == Hook(commands=(("lb", "drain"),))
    assert mx1.post_hook == mx2.post_hook == Hook(commands=(("lb", "undrain"),))
    assert (mx1.stale_services, mx2.stale_services) == (StaleServices.REPORT, StaleServices.RESTART)


def test_plan_without_settings_keeps_its_bytes(tmp_path: Path) -> None:
    """A plan with no hooks and default settings has no host_settings key, so earlier plans keep their hashes."""
    source = write(tmp_path / "hosts.yml", "all:\n  hosts:\n    mx1: {}\n")
    plan = plan_rollout([source], write(tmp_path / "policy.yml", POLICY), now=datetime(2026, 1, 5, tzinfo=UTC))
    assert plan.host_settings == ()
    assert "host_settings" not in plan.canonical_json()


def test_snapshot_hook_comes_from_the_inventory_else_the_policy(tmp_path: Path) -> None:
    """patchorch_snapshot_hook (a tasks file beside the inventory) wins; other hosts take the policy's commands."""
    snapshot = write(tmp_path / "inv" / "snapshot.yml", DRAIN)
    source = write(
        tmp_path / "inv" / "hosts.yml",
        "all:\n  hosts:\n    mx1: {patchorch_snapshot_hook: snapshot.yml}\n    mx2: {}\n",
    )
    policy = write(tmp_path / "policy.yml", POLICY + "snapshot_hook: ['lvcreate -s -n before vg/root']\n")
    plan = plan_rollout([source], policy, now=datetime(2026, 1, 5, tzinfo=UTC))
    mx1, mx2 = plan.settings_of("mx1").snapshot_hook, plan.settings_of("mx2").snapshot_hook
    assert mx1 is not None
    assert (mx1.tasks, mx1.digest) == (str(snapshot), hashlib.sha256(snapshot.read_bytes()).hexdigest())
    assert mx2 == Hook(commands=(("lvcreate", "-s", "-n", "before", "vg/root"),))


@pytest.mark.parametrize(
    ("hosts", "says"),
    [
        ("mx1: {patchorch_snapshot_hook: ['snap {{ inventory_hostname }}']}", "patchorch_snapshot_hook"),
        ("mx1: {patchorch_snapshot_hook: missing.yml}", "no hook tasks file 'missing.yml'"),
        ("mx1: {patchorch_snapshot_hook: snapshot.sh}", "ends in .yml or .yaml"),
    ],
)
def test_bad_snapshot_hooks_are_refused(tmp_path: Path, hosts: str, says: str) -> None:
    """A templated command, a missing tasks file or a file that is not a tasks file is refused like any hook."""
    source = write(tmp_path / "hosts.yml", f"all:\n  hosts:\n    {hosts}\n")
    with pytest.raises(InventoryError, match=says):
        load_fleet([source])
