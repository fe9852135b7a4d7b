"""render_run: the run directory's layout, its structure against the plan, and what it refuses."""

from __future__ import annotations

import configparser
import hashlib
from pathlib import Path

import pytest
import yaml

from patchorch.domain.fleet import Hook, StaleServices
from patchorch.domain.plan import (
    Batch,
    HostSettings,
    PackageSpec,
    RolloutPlan,
    Stage,
    StageKind,
    UpdateScope,
    UpdateSpec,
)
from patchorch.errors import ConfigError, InventoryError, RenderError
from patchorch.rendering import render_run
from patchorch.rendering._vars import UNSAFE_TAG, dump_vars, load_vars
from patchorch.sources.hooks import resolve_hook
from patchorch.sources.inventory import IGNORED_FILE_PATTERNS
from tests.plans import make_plan
from tests.rendering.example import example_plan, host_vars_of


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "inventory.yml"
    path.write_text("all:\n  hosts:\n    webmail1:\n    mx1:\n    mx2:\n    imap1:\n    relay1:\n")
    return path


def test_stage_playbook_has_one_play_whatever_the_number_of_batches(tmp_path: Path, inventory: Path) -> None:
    """A stage of two batches is one play on the hosts patchorch_hosts names (the stage group), then a gate play."""
    run = render_run(example_plan(), tmp_path / "run", inventory_sources=[inventory])
    plays = yaml.safe_load(run.stage_playbook("wave-1").read_text())
    assert [(p["hosts"], p.get("roles"), p["vars"]["patchorch_hosts"]) for p in plays] == [
        ("{{ patchorch_hosts }}", [{"role": "patchorch_patch"}], "patchorch_wave_1_all"),
        ("localhost", None, "patchorch_wave_1_all"),
    ]
    assert plays[0]["vars"]["patchorch_patch_prepared"] is True


def test_prepare_playbook_runs_the_prepare_phase_on_every_target(tmp_path: Path, inventory: Path) -> None:
    """00-prepare.yml is one play of the role in its prepare phase on patchorch_targets, then a gate play."""
    run = render_run(example_plan(), tmp_path / "run", inventory_sources=[inventory])
    plays = yaml.safe_load(run.prepare_playbook.read_text())
    assert [(p["hosts"], p["vars"]["patchorch_hosts"]) for p in plays] == [
        ("{{ patchorch_hosts }}", "patchorch_targets"),
        ("localhost", "patchorch_targets"),
    ]
    assert plays[0]["vars"]["patchorch_patch_phase"] == "prepare"


def test_site_prepares_then_imports_each_stage_once_per_batch(tmp_path: Path, inventory: Path) -> None:
    """site.yml imports 00-prepare, then each stage playbook per batch with that batch's group, in plan order."""
    run = render_run(example_plan(), tmp_path / "run", inventory_sources=[inventory])
    imports = [
        (entry["ansible.builtin.import_playbook"], (entry.get("vars") or {}).get("patchorch_hosts"))
        for entry in yaml.safe_load(run.site_playbook.read_text())
    ]
    assert imports == [
        ("00-prepare.yml", None),
        ("01-canary.yml", "patchorch_canary_b1"),
        ("02-wave-1.yml", "patchorch_wave_1_b1"),
        ("02-wave-1.yml", "patchorch_wave_1_b2"),
        ("03-wave-2.yml", "patchorch_wave_2_b1"),
    ]


def test_groups_inventory_nests_targets_stages_and_batches(tmp_path: Path, inventory: Path) -> None:
    """patchorch_targets holds each stage group, which holds its batch groups with exactly the batch's hosts."""
    run = render_run(example_plan(), tmp_path / "run", inventory_sources=[inventory])
    stages = load_vars(run.inventory_sources[-1].read_text())["all"]["children"]["patchorch_targets"]["children"]
    batches = {name: sorted(group["hosts"]) for stage in stages.values() for name, group in stage["children"].items()}
    assert sorted(stages) == ["patchorch_canary_all", "patchorch_wave_1_all", "patchorch_wave_2_all"]
    assert batches == {
        "patchorch_canary_b1": ["webmail1"],
        "patchorch_wave_1_b1": ["mx1"],
        "patchorch_wave_1_b2": ["mx2"],
        "patchorch_wave_2_b1": ["imap1", "relay1"],
    }


def test_each_hosts_plan_data_reaches_ansible_through_the_groups_inventory(tmp_path: Path, inventory: Path) -> None:
    """A host's reason is its host var, its batch its batch group's var, its wave's risk class its stage group's."""
    plan = example_plan()
    run = render_run(plan, tmp_path / "run", inventory_sources=[inventory])
    stages = load_vars(run.inventory_sources[-1].read_text())["all"]["children"]["patchorch_targets"]["children"]
    wave = stages["patchorch_wave_1_all"]
    batch = wave["children"]["patchorch_wave_1_b2"]
    planned = next(host for host in plan.hosts if host.name == "mx2")
    assert (wave["vars"], batch["vars"]) == ({"patchorch_patch_risk_class": "mail-edge"}, {"patchorch_patch_batch": 2})
    assert batch["hosts"] == {"mx2": {"patchorch_patch_reason": planned.reason}}


def test_a_canary_hosts_risk_class_is_its_own_host_var(tmp_path: Path, inventory: Path) -> None:
    """The canary mixes risk classes, so each canary host carries its own risk class beside its reason."""
    plan = example_plan()
    run = render_run(plan, tmp_path / "run", inventory_sources=[inventory])
    stages = load_vars(run.inventory_sources[-1].read_text())["all"]["children"]["patchorch_targets"]["children"]
    planned = next(host for host in plan.hosts if host.name == "webmail1")
    host = stages["patchorch_canary_all"]["children"]["patchorch_canary_b1"]["hosts"]["webmail1"]
    assert host == {"patchorch_patch_reason": planned.reason, "patchorch_patch_risk_class": planned.risk_class}


def test_a_stage_play_runs_its_concurrency_at_a_time(tmp_path: Path, inventory: Path) -> None:
    """Each stage play has serial set to its stage's concurrency, so a large batch run by hand keeps the limit."""
    plan = example_plan()
    run = render_run(plan, tmp_path / "run", inventory_sources=[inventory])
    serials = [yaml.safe_load(run.stage_playbook(s.name).read_text())[0]["serial"] for s in plan.stages]
    assert serials == [s.concurrency for s in plan.stages] == [1, 1, 2]


def test_run_vars_name_no_host(tmp_path: Path, inventory: Path) -> None:
    """vars/run.yml, which every play loads, holds run-wide data only: no host of the plan appears in it."""
    plan = example_plan()
    run = render_run(plan, tmp_path / "run", inventory_sources=[inventory])
    run_vars = (run.directory / "vars" / "run.yml").read_text()
    assert not any(host.name in run_vars for host in plan.hosts)


def test_inventory_sources_are_the_users_then_the_groups_file(tmp_path: Path, inventory: Path) -> None:
    """RenderedRun.inventory_sources are absolute: the user's sources first, the generated groups file last."""
    run = render_run(example_plan(), tmp_path / "run", inventory_sources=[inventory])
    assert run.inventory_sources == (inventory, tmp_path / "run" / "inventory" / "patchorch_groups.yml")


def test_ansible_cfg_uses_the_runs_own_roles_and_stage_concurrency(tmp_path: Path, inventory: Path) -> None:
    """ansible.cfg points roles_path at the copied role and sets forks to the prepare phase's (every target)."""
    run = render_run(example_plan(), tmp_path / "run", inventory_sources=[inventory])
    config = configparser.ConfigParser(interpolation=None)
    config.read(run.ansible_cfg)
    assert (config["defaults"]["roles_path"], config["defaults"]["forks"]) == ("roles", "5")
    assert (run.directory / "roles" / "patchorch_patch" / "tasks" / "main.yml").is_file()


def test_every_string_in_the_run_vars_is_unsafe(tmp_path: Path, inventory: Path) -> None:
    """vars/run.yml tags each string value !unsafe, the advisory included."""
    run = render_run(
        example_plan(advisory="{{ lookup('pipe', 'id') }}"), tmp_path / "run", inventory_sources=[inventory]
    )
    text = (run.directory / "vars" / "run.yml").read_text()
    assert f"patchorch_patch_advisory: {UNSAFE_TAG} \"{{{{ lookup('pipe', 'id') }}}}\"" in text
    assert 'patchorch_patch_scope: !unsafe "packages"' in text


def test_rendering_twice_gives_the_same_files(tmp_path: Path, inventory: Path) -> None:
    """Rendering the same plan into the same directory again replaces it with identical bytes."""
    first = render_run(example_plan(), tmp_path / "run", inventory_sources=[inventory])
    before = {p: p.read_bytes() for p in first.directory.rglob("*") if p.is_file()}
    render_run(example_plan(), tmp_path / "run", inventory_sources=[inventory])
    assert {p: p.read_bytes() for p in first.directory.rglob("*") if p.is_file()} == before


def test_a_foreign_directory_is_not_replaced(tmp_path: Path, inventory: Path) -> None:
    """A non-empty directory patchorch did not render is refused, and left alone."""
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    with pytest.raises(RenderError, match="not rendered by patchorch"):
        render_run(example_plan(), tmp_path / "run", inventory_sources=[inventory])
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"


def test_a_missing_inventory_source_is_an_input_error(tmp_path: Path) -> None:
    """An inventory path that does not exist raises InventoryError naming it."""
    with pytest.raises(InventoryError, match="no such inventory source"):
        render_run(example_plan(), tmp_path / "run", inventory_sources=[tmp_path / "absent.yml"])


def test_a_stage_name_that_is_not_a_plain_name_is_refused(tmp_path: Path, inventory: Path) -> None:
    """A stage name smuggled past validation (model_construct) cannot become a group or play name."""
    plan = example_plan()
    bad = Stage.model_construct(
        name="x\n- hosts: all", kind=StageKind.WAVE, index=9, batches=(Batch(index=1, hosts=("mx1",)),), concurrency=1
    )
    evil = plan.model_copy(update={"stages": (*plan.stages[:1], bad)})
    with pytest.raises(RenderError, match="stage name"):
        render_run(evil, tmp_path / "run", inventory_sources=[inventory])


@pytest.mark.parametrize("host", ["web[1:3]", "mx1:2222", "a,b", "{{ lookup('pipe','id') }}", "!mx1"])
def test_a_host_name_ansible_would_not_read_literally_is_refused(tmp_path: Path, inventory: Path, host: str) -> None:
    """Host names with ranges, ports, pattern operators or braces are refused before anything is written."""
    plan = example_plan()
    stage = plan.stages[0].model_copy(update={"batches": (Batch(index=1, hosts=(host,)),)})
    with pytest.raises(RenderError, match="host name"):
        render_run(
            plan.model_copy(update={"stages": (stage, *plan.stages[1:])}), tmp_path / "r", inventory_sources=[inventory]
        )
    assert not (tmp_path / "r").exists()


def test_a_template_override_that_changes_the_plays_is_refused(tmp_path: Path, inventory: Path) -> None:
    """A user template aiming the stage play at `all` fails the structural check."""
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "stage.yml.j2").write_text(
        "- name: x\n  hosts: all\n  roles: [patchorch_patch]\n- name: g\n  hosts: localhost\n  tasks: [{}]\n"
    )
    with pytest.raises(RenderError, match="first play must run exactly the role"):
        render_run(example_plan(), tmp_path / "run", inventory_sources=[inventory], template_dir=templates)


def test_a_template_cannot_interpolate_text_with_braces(tmp_path: Path, inventory: Path) -> None:
    """The environment's finalize refuses values outside the plain-name character set."""
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "README.md.j2").write_text("{{ '{{ evil }}' }}\n")
    with pytest.raises(RenderError, match="interpolate"):
        render_run(example_plan(), tmp_path / "run", inventory_sources=[inventory], template_dir=templates)


def test_a_template_override_replaces_ours_by_name(tmp_path: Path, inventory: Path) -> None:
    """A README.md.j2 in template_dir is used instead of patchorch's."""
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "README.md.j2").write_text("run {{ run_id }}\n")
    run = render_run(example_plan(), tmp_path / "run-7", inventory_sources=[inventory], template_dir=templates)
    assert (run.directory / "README.md").read_text() == "run run-7\n"


def test_role_vars_copy_the_hooks_into_the_run(tmp_path: Path, inventory: Path) -> None:
    """Hook task files named in the role vars file are copied to hooks/ and referenced relatively."""
    (tmp_path / "drain.yml").write_text("- name: Drain\n  ansible.builtin.debug:\n    msg: drain\n")
    settings = tmp_path / "role-vars.yml"
    settings.write_text("patchorch_patch_pre_hook: drain.yml\npatchorch_patch_min_free_mb: 10\n")
    run = render_run(example_plan(), tmp_path / "run", inventory_sources=[inventory], extra_vars_from=settings)
    data = load_vars((run.directory / "vars" / "settings.yml").read_text())
    assert data == {"patchorch_patch_pre_hook": "hooks/pre.yml", "patchorch_patch_min_free_mb": 10}
    assert (run.directory / "hooks" / "pre.yml").read_text() == (tmp_path / "drain.yml").read_text()


def test_role_vars_with_an_unknown_key_are_refused(tmp_path: Path, inventory: Path) -> None:
    """A misspelt role setting is a ConfigError, not silently ignored."""
    settings = tmp_path / "role-vars.yml"
    settings.write_text("patchorch_patch_min_free: 10\n")
    with pytest.raises(ConfigError, match="patchorch_patch_min_free"):
        render_run(example_plan(), tmp_path / "run", inventory_sources=[inventory], extra_vars_from=settings)


def test_vars_serializer_refuses_objects() -> None:
    """Only plain data reaches a vars file: anything else is a RenderError."""
    with pytest.raises(RenderError, match="cannot write"):
        dump_vars({"x": object()}, header="h")


def test_vars_serializer_keeps_yaml_tags_as_text() -> None:
    """A string spelling a Python YAML tag is written and read back as that text, tagged !unsafe."""
    payload = "!!python/object/apply:os.system ['id']"
    text = dump_vars({"x": payload}, header="h")
    assert load_vars(text) == {"x": payload}
    assert "!!python" not in text.split(UNSAFE_TAG, 1)[0]


def test_rendered_ansible_cfg_ignores_patchorch_files_beside_inventories(tmp_path: Path) -> None:
    """ansible-playbook skips policy.yml and patchorch.yml in inventory directories, as the inventory loader does."""
    rendered = render_run(make_plan([[["a"]]]), tmp_path / "run", inventory_sources=[tmp_path])
    config = configparser.ConfigParser(interpolation=None)
    config.read(rendered.ansible_cfg)
    patterns = [p.strip() for p in config["inventory"]["ignore_patterns"].split(",")]
    assert patterns == list(IGNORED_FILE_PATTERNS)


def _with_host_hooks(tmp_path: Path) -> tuple[RolloutPlan, Path]:
    drain = tmp_path / "inv" / "drain.yml"
    drain.parent.mkdir()
    drain.write_text("- name: Drain\n  ansible.builtin.debug:\n    msg: drain\n")
    hook = resolve_hook(Hook(tasks="drain.yml"), [drain.parent])
    settings = (
        HostSettings(host="mx1", pre_hook=hook, post_hook=Hook(commands=(("lb", "undrain", "mx1"),))),
        HostSettings(host="mx2", stale_services=StaleServices.RESTART),
    )
    return example_plan().model_copy(update={"host_settings": settings}), drain


def test_host_hooks_reach_the_host_vars_and_tasks_files_are_copied(tmp_path: Path, inventory: Path) -> None:
    """Each host's hooks and stale-service setting are its inventory vars; its tasks file is copied under hooks/."""
    plan, drain = _with_host_hooks(tmp_path)
    run = render_run(plan, tmp_path / "run", inventory_sources=[inventory])
    groups = load_vars((run.directory / "inventory" / "patchorch_groups.yml").read_text())
    hosts = {name: data.get("patchorch_patch_host_settings", {}) for name, data in host_vars_of(groups).items()}
    copied = f"hooks/pre-{hashlib.sha256(drain.read_bytes()).hexdigest()[:16]}.yml"
    assert hosts["mx1"]["pre_hook"] == {"tasks": copied}
    assert hosts["mx1"]["post_hook"] == {"commands": [["lb", "undrain", "mx1"]]}
    assert hosts["mx2"]["stale_services"] == "restart"
    assert "pre_hook" not in hosts["imap1"]
    assert (run.directory / copied).read_text() == drain.read_text()


def test_a_tasks_file_changed_since_planning_is_refused(tmp_path: Path, inventory: Path) -> None:
    """Rendering refuses a hook tasks file whose digest is not the one the plan recorded."""
    plan, drain = _with_host_hooks(tmp_path)
    drain.write_text("- name: Something else\n  ansible.builtin.debug:\n    msg: other\n")
    with pytest.raises(RenderError, match="changed since the run was planned"):
        render_run(plan, tmp_path / "run", inventory_sources=[inventory])


def test_a_payload_in_a_hosts_reason_stays_text_in_ansible(tmp_path: Path) -> None:
    """A reason holding a Jinja lookup reaches a real ansible-playbook as text from the groups inventory."""
    import json
    import subprocess
    import sys

    marker = tmp_path / "pwned"
    payload = f"{{{{ lookup('pipe', 'touch {marker}') }}}}"
    inventory = tmp_path / "inventory.yml"
    inventory.write_text("all:\n  hosts:\n    mx1:\n      ansible_connection: local\n")
    plan = make_plan([[["mx1"]]], canary=False)
    plan = plan.model_copy(update={"hosts": (plan.hosts[0].model_copy(update={"reason": payload}),)})
    run = render_run(plan, tmp_path / "run", inventory_sources=[inventory])
    show = tmp_path / "show.yml"
    debug = {"ansible.builtin.debug": {"var": "patchorch_patch_reason"}}
    show.write_text(yaml.safe_dump([{"hosts": "mx1", "gather_facts": False, "tasks": [debug]}]))
    sources = [arg for source in run.inventory_sources for arg in ("-i", str(source))]
    done = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), *sources, str(show)],
        env={"ANSIBLE_NOCOLOR": "1", "PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (json.dumps({"patchorch_patch_reason": payload}, indent=4)[2:-2] in done.stdout, marker.exists()) == (
        True,
        False,
    )


def test_a_rollback_renders_each_hosts_versions_and_snapshot_as_its_host_vars(tmp_path: Path, inventory: Path) -> None:
    """A rollback's exact versions and a snapshot hook are the host's settings; the run vars say scope rollback."""
    snapshot = Hook(commands=(("lvcreate", "-s", "-n", "before", "vg/root"),))
    settings = (
        HostSettings(host="mx1", snapshot_hook=snapshot, downgrade=(PackageSpec(name="acme-mta", version="1.0-1"),)),
        HostSettings(host="mx2", downgrade=(PackageSpec(name="acme-tls", version="2:1.0-1"),)),
    )
    update = UpdateSpec(scope=UpdateScope.ROLLBACK, rollback_of="20260305-100000-abcd")
    plan = example_plan().model_copy(update={"host_settings": settings, "update": update})
    run = render_run(plan, tmp_path / "run", inventory_sources=[inventory])
    groups = load_vars((run.directory / "inventory" / "patchorch_groups.yml").read_text())
    hosts = {name: data.get("patchorch_patch_host_settings", {}) for name, data in host_vars_of(groups).items()}
    assert hosts["mx1"] == {
        "snapshot_hook": {"commands": [["lvcreate", "-s", "-n", "before", "vg/root"]]},
        "downgrade": [{"name": "acme-mta", "version": "1.0-1"}],
    }
    assert hosts["mx2"] == {"downgrade": [{"name": "acme-tls", "version": "2:1.0-1"}]}
    assert hosts["imap1"] == {}
    run_vars = load_vars((run.directory / "vars" / "run.yml").read_text())
    assert (run_vars["patchorch_patch_scope"], run_vars["patchorch_patch_packages"]) == ("rollback", [])
