"""`patchorch plan`, run in-process over the example mail estate; golden plans for regular and emergency rollouts.

Regenerate the golden files after an intended change with `PATCHORCH_UPDATE_GOLDEN=1 pytest tests/cli/test_plan_cli.py`
and review the diff: it shows exactly how plans changed.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from patchorch.cli._app import main
from patchorch.domain.plan import ExclusionReason, Mode, RolloutPlan, StageKind
from patchorch.orchestrator.planning import plan_rollout

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "inventories" / "example-mail"
POLICY = EXAMPLE / "policy.yml"
GOLDEN = ROOT / "tests" / "golden"
NOW = "2025-03-05T12:00:00+00:00"  # a Wednesday, noon UTC


def _run(tmp_path: Path, *args: str) -> int:
    return main(["--state-dir", str(tmp_path / "state"), "plan", *args])


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("PATCHORCH_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} is missing: run with PATCHORCH_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("mode", "flags"), [("regular", []), ("emergency", ["--emergency"])])
def test_the_example_plan_matches_its_golden_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: str, flags: list[str]
) -> None:
    """`plan --json` over the example estate prints exactly the stored plan."""
    assert _run(tmp_path, "-i", str(EXAMPLE), "--policy", str(POLICY), "--now", NOW, "--json", *flags) == 0
    _check_golden(f"plan-example-{mode}.json", capsys.readouterr().out)


def test_the_golden_plans_are_valid_plans() -> None:
    """The stored plans read back as RolloutPlans whose content hash matches."""
    for mode in ("regular", "emergency"):
        rollout = RolloutPlan.from_json((GOLDEN / f"plan-example-{mode}.json").read_text(encoding="utf-8"))
        assert rollout.mode is Mode(mode)


def test_the_library_call_gives_the_same_plan_as_the_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """plan_rollout with the same inputs returns the plan the CLI prints."""
    rollout = plan_rollout([EXAMPLE], POLICY, now=datetime.fromisoformat(NOW))
    assert _run(tmp_path, "-i", str(EXAMPLE), "--policy", str(POLICY), "--now", NOW, "--json") == 0
    assert capsys.readouterr().out == rollout.pretty_json()


def test_limit_excludes_the_other_hosts_and_is_recorded() -> None:
    """--limit keeps matching hosts and explains every other one as outside the limit."""
    rollout = plan_rollout([EXAMPLE], POLICY, limit="imap", now=datetime(2025, 3, 5, 12, tzinfo=UTC))
    assert {host.name.split(".")[0] for host in rollout.hosts} == {"imap1", "imap2", "imap3", "imap4"}
    assert rollout.limit == "imap"
    assert ExclusionReason.OUTSIDE_LIMIT in {exclusion.reason for exclusion in rollout.exclusions}


def test_the_built_in_policy_is_used_without_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --policy or settings, the plan is made with the built-in default policy."""
    assert _run(tmp_path, "-i", str(EXAMPLE), "--now", NOW, "--json") == 0
    rollout = RolloutPlan.from_json(capsys.readouterr().out)
    assert rollout.stages[0].kind is StageKind.CANARY


def test_the_table_shows_stages_gates_and_exclusions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The terminal view names each stage with its start and gates, the batches, exclusions and warnings."""
    assert _run(tmp_path, "-i", str(EXAMPLE), "--policy", str(POLICY), "--now", NOW) == 0
    out = capsys.readouterr().out
    for text in ("regular rollout plan", "canary  starts", "wave-1-critical", "approval required", "batch 1"):
        assert text in out
    assert "old-mx3.mail.example.org" in out
    assert "decommissioned" in out


def test_out_writes_the_plan_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--out writes the plan's pretty JSON and says where."""
    target = tmp_path / "plan.json"
    assert _run(tmp_path, "-i", str(EXAMPLE), "--policy", str(POLICY), "--now", NOW, "--out", str(target)) == 0
    assert f"plan written to {target}" in capsys.readouterr().out.replace("\n", "")
    assert json.loads(target.read_text(encoding="utf-8"))["mode"] == "regular"


def test_json_and_out_together_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json and --out exclude each other: exit 2."""
    assert _run(tmp_path, "-i", str(EXAMPLE), "--json", "--out", str(tmp_path / "p.json")) == 2
    assert "--json or --out" in capsys.readouterr().err


def test_a_bad_policy_exits_2_naming_file_line_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A policy error is one line with file:line and field, exit 2."""
    policy = tmp_path / "policy.yml"
    text = POLICY.read_text(encoding="utf-8").replace("    soak: 1h\n", "    soak: 1h\n    sok: 2h\n", 1)
    policy.write_text(text, encoding="utf-8")
    line = text.splitlines().index("    sok: 2h") + 1
    assert _run(tmp_path, "-i", str(EXAMPLE), "--policy", str(policy)) == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert f"{policy}:{line}, classes.critical.sok: unknown key" in err


def test_an_unknown_override_exits_2_naming_the_host(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An inventory risk class the policy does not define stops planning with exit 2."""
    policy = tmp_path / "policy.yml"
    text = POLICY.read_text(encoding="utf-8")
    text = text.replace("  low:\n    description", "  minor:\n    description").replace(
        "medium, low]", "medium, minor]"
    )
    policy.write_text(text.replace("default_class: low", "default_class: minor"), encoding="utf-8")
    assert _run(tmp_path, "-i", str(EXAMPLE), "--policy", str(policy)) == 2
    assert "host mon1.mail.example.org: patchorch_risk_class 'low'" in capsys.readouterr().err


def test_no_inventory_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without -i or a configured inventory there is nothing to plan: exit 2."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PATCHORCH_INVENTORY", raising=False)
    assert _run(tmp_path) == 2
    assert "no inventory" in capsys.readouterr().err


def test_a_bad_now_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--now must be an ISO 8601 time."""
    assert _run(tmp_path, "-i", str(EXAMPLE), "--now", "tomorrow") == 2
    assert "--now" in capsys.readouterr().err


def test_later_stages_start_after_the_stage_before_and_its_soak(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stage after the first never reads "starts now": it waits for the stage before it and that stage's soak."""
    assert _run(tmp_path, "-i", str(EXAMPLE), "--policy", str(POLICY), "--now", NOW) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "canary starts Wed 2025-03-05 21:00Z" in out
    assert "wave-1-critical starts after canary + soak 2h, not before Thu 2025-03-06" in out
    assert "wave-4-low starts after wave-3-medium + soak 30m ·" in out
    assert out.count("starts now") == 0


def test_an_empty_inventory_plans_nothing_and_render_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """All hosts commented out: plan says the inventory is empty (exit 0); render refuses it with exit 2."""
    source = tmp_path / "hosts.yml"
    source.write_text("all:\n  children:\n    etcd:\n      hosts:\n        # node1:\n", encoding="utf-8")
    assert _run(tmp_path, "-i", str(source)) == 0
    assert "! no targets: the inventory has no hosts, nothing to patch" in capsys.readouterr().out
    status = main(["--state-dir", str(tmp_path / "state"), "render", "-i", str(source), "-o", str(tmp_path / "run")])
    assert status == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "error: nothing to render: the plan has no stages (no targets: the inventory has no hosts" in err
    assert not (tmp_path / "run").exists()


KUBESPRAY = """
all:
  hosts: {node1: {}, node2: {}, node3: {}, node4: {}, node5: {}, node6: {}}
  children:
    kube_control_plane: {hosts: {node1: {}, node2: {}, node3: {}}}
    kube_node: {hosts: {node4: {}, node5: {}, node6: {}}}
    etcd: {hosts: {node1: {}, node2: {}, node3: {}}}
    k8s_cluster: {children: {kube_control_plane: {}, kube_node: {}}}
    calico_rr: {hosts: {}}
"""


def test_kubespray_control_plane_is_patched_one_at_a_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """kubespray's sample inventory: the plan warns about etcd and never batches two control-plane nodes together."""
    source = tmp_path / "hosts.yaml"
    source.write_text(KUBESPRAY, encoding="utf-8")
    assert _run(tmp_path, "-i", str(source), "--json") == 0
    rollout = RolloutPlan.from_json(capsys.readouterr().out.encode())
    members = {"node1", "node2", "node3"}
    assert all(len(members & set(batch.hosts)) <= 1 for stage in rollout.stages for batch in stage.batches)
    assert any(w.startswith("group etcd looks like quorum members") for w in rollout.warnings)


def test_timeline_json_starts_every_host_inside_its_own_window(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`plan --timeline --json` (regular): every target projected once, inside one of its windows, the whole
    expected duration before it closes; the makespan is never below the lower bound."""
    from datetime import timedelta

    from patchorch.domain.windows import open_intervals

    assert _run(tmp_path, "-i", str(EXAMPLE), "--policy", str(POLICY), "--now", NOW, "--timeline", "--json") == 0
    timeline = json.loads(capsys.readouterr().out)
    rollout = plan_rollout([EXAMPLE], POLICY, now=datetime.fromisoformat(NOW))
    assert sorted(h["host"] for h in timeline["hosts"]) + [w["host"] for w in timeline["waiting"]] == sorted(
        rollout.targets
    )
    for projected in timeline["hosts"]:
        start, end = datetime.fromisoformat(projected["start"]), datetime.fromisoformat(projected["end"])
        windows = rollout.planned_host(projected["host"]).windows
        if windows:
            spans = open_intervals(windows, rollout.planned_at, rollout.horizon + timedelta(days=7))
            assert any(s <= start and end <= e for s, e in spans), projected
    assert timeline["windows_respected"] is True
    assert timeline["makespan_seconds"] >= timeline["lower_bound_seconds"] > 0


def test_timeline_in_an_emergency_says_windows_are_ignored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`plan --emergency --timeline` prints the projection and says windows are ignored."""
    assert _run(tmp_path, "-i", str(EXAMPLE), "--policy", str(POLICY), "--now", NOW, "--timeline", "--emergency") == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "projected makespan" in out
    assert "emergency: windows ignored" in out


def test_a_large_batch_shows_a_few_names_and_how_many_more() -> None:
    """A batch of 30 hosts prints its first HOSTS_SHOWN names and the count of the rest, not every name."""
    from rich.console import Console

    from patchorch.cli._plan_view import HOSTS_SHOWN, render_plan
    from patchorch.domain.fleet import Fleet, Host
    from patchorch.domain.planner import plan
    from patchorch.domain.policy import Policy

    fleet = Fleet(hosts=tuple(Host.model_validate({"name": f"h{i:02d}"}) for i in range(31)))
    rules = {"classes": {"low": {"sla": "1d", "concurrency": 2}}, "wave_order": ["low"], "default_class": "low"}
    policy = Policy.model_validate({**rules, "max_batches": 1})
    rollout = plan(fleet, policy, mode=Mode.REGULAR, now=datetime(2025, 3, 5, 12, tzinfo=UTC))
    console = Console(width=400, record=True)
    console.print(render_plan(rollout, policy_label="test"))
    out = console.export_text()
    assert "30 hosts in 1 batch" in out
    assert f"and {30 - HOSTS_SHOWN} more (30 hosts; --json lists all)" in out
    assert f"h{HOSTS_SHOWN + 1:02d}" not in out.split("batch 1", 2)[-1]
