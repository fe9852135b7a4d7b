"""`patchorch inventory show` and `check`, driven in-process through main() and once as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from patchorch.cli._app import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "inventories" / "example-mail"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No patchorch.yml, PATCHORCH_* variable or state directory of the person running the tests leaks in."""
    for name in list(os.environ):
        if name.startswith("PATCHORCH_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PATCHORCH_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)


def inventory(tmp_path: Path, text: str, name: str = "hosts.yml") -> str:
    """Write a YAML inventory into tmp_path (the working directory) and return its relative path."""
    (tmp_path / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return name


def one_line(text: str) -> str:
    """`text` with rich's line wrapping undone (the error console wraps at the terminal width)."""
    return " ".join(text.split())


def test_show_example_table(capsys: pytest.CaptureFixture[str]) -> None:
    """`show` prints a table of the example estate and exits 0."""
    assert main(["inventory", "show", "-i", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "18 hosts in" in out
    assert "imap (50% of 4)" in out
    assert "tue,thu 02:00 2h Europe/Berlin" in out
    assert "excluded: decommissioned 2025-03" in out


def test_show_json(capsys: pytest.CaptureFixture[str]) -> None:
    """`show --json` prints the fleet: every host with every field, `defaulted` sorted, and the limit."""
    assert main(["inventory", "show", "-i", str(EXAMPLE), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["limit"] is None
    assert data["source"] == [str(EXAMPLE)]
    hosts = {host["name"]: host for host in data["hosts"]}
    assert len(hosts) == 18
    assert hosts["imap1.mail.example.org"]["cluster_budget"] == "50%"
    assert hosts["mx-b2.mail.example.org"]["canary"] is True
    assert hosts["mon1.mail.example.org"]["risk_class"] == "low"


def test_show_marks_defaults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Defaulted criticality and exposure are marked with * and explained."""
    source = inventory(tmp_path, "all:\n  hosts:\n    h1: {}\n")
    assert main(["inventory", "show", "-i", source]) == 0
    out = capsys.readouterr().out
    assert "medium*" in out
    assert "internal*" in out
    assert "* not declared" in out


def test_show_limit(capsys: pytest.CaptureFixture[str]) -> None:
    """--limit shows only the hosts Ansible's pattern selects, and says how many of all."""
    assert main(["inventory", "show", "-i", str(EXAMPLE), "--limit", "mx:&site_a", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [host["name"] for host in data["hosts"]] == ["mx-a1.mail.example.org", "mx-a2.mail.example.org"]
    assert data["limit"] == "mx:&site_a"


def test_show_inventory_from_environment(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Without -i the inventory comes from PATCHORCH_INVENTORY."""
    monkeypatch.setenv("PATCHORCH_INVENTORY", str(EXAMPLE))
    assert main(["inventory", "show", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["hosts"]) == 18


def test_show_inventory_from_project_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without -i the inventory comes from patchorch.yml in the working directory."""
    (tmp_path / "patchorch.yml").write_text(f"inventory: [{EXAMPLE}]\n", encoding="utf-8")
    assert main(["inventory", "show", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["hosts"]) == 18


def test_no_inventory_anywhere(capsys: pytest.CaptureFixture[str]) -> None:
    """No inventory from flags, file or environment is exit 2 naming all three ways to give one."""
    assert main(["inventory", "show"]) == 2
    err = one_line(capsys.readouterr().err)
    for way in ("-i/--inventory", "patchorch.yml", "PATCHORCH_INVENTORY"):
        assert way in err


@pytest.mark.parametrize(
    ("declaration", "expected"),
    [
        ("patchorch_services: 5", "patchorch_services: expected a list, not 5"),
        ("patchorch_criticality: hihg", "patchorch_criticality: 'hihg' is not allowed (allowed: low, medium, high"),
        ("{patchorch_cluster: c, patchorch_cluster_budget: '150%'}", "patchorch_cluster_budget: a percentage"),
        (
            "patchorch_maintenance_windows: [{days: [sun], start: '25:00', duration: 2h}]",
            "patchorch_maintenance_windows: [0].start: expected a start time HH:MM (00:00 to 23:59), not '25:00'",
        ),
        (
            "patchorch_maintenance_windows: [{days: [sun], start: '02:00', duration: 2h, timezone: Nowhere/City}]",
            "patchorch_maintenance_windows: [0].timezone: unknown time zone 'Nowhere/City'",
        ),
        (
            "patchorch_maintenance_windows: [{days: [caturday], start: '02:00', duration: 2h}]",
            "patchorch_maintenance_windows: [0].days[0]: 'caturday' is not allowed",
        ),
        ("patchorch_exlude: true", "patchorch_exlude: unknown variable (set to True): did you mean patchorch_exclude?"),
    ],
)
def test_show_refuses_bad_metadata(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], declaration: str, expected: str
) -> None:
    """Each kind of bad metadata is exit 2 with one line naming the host, the variable and the value."""
    body = declaration if declaration.startswith("{") else "{" + declaration + "}"
    source = inventory(tmp_path, f"all:\n  hosts:\n    mx1: {body}\n")
    assert main(["inventory", "show", "-i", source]) == 2
    err = one_line(capsys.readouterr().err)
    assert err.startswith(f"error: {source}:3, host mx1, ")
    assert expected in err


def test_show_unreadable_inventory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An inventory Ansible cannot parse is exit 2 naming the file and Ansible's reason."""
    source = inventory(tmp_path, "all:\n  hosts: [a, b\n")
    assert main(["inventory", "show", "-i", source]) == 2
    assert f"error: {source}:3: YAML parsing failed" in one_line(capsys.readouterr().err)


def test_check_example_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    """The example estate has no findings: exit 0, and the summary lists its four owning teams."""
    assert main(["inventory", "check", "-i", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "no findings" in out
    for team in ("mail-platform", "mail-storage", "web-frontends", "observability"):
        assert team in out


FINDINGS = """
all:
  vars:
    patchorch_owner: {team: mail, contact: mail@example.org}
    patchorch_criticality: high
    patchorch_exposure: internal
  children:
    mx:
      hosts:
        mx1: {patchorch_services: [smtp], patchorch_cluster: mx, patchorch_cluster_budget: "100%"}
        mx2: {patchorch_services: [smtp], patchorch_cluster: mx}
        old-mx: {patchorch_lifecycle: decommissioned, patchorch_services: [smtp], patchorch_cluster: mx}
    db:
      hosts:
        db1: {patchorch_cluster: db, patchorch_exlude: true}
    loose:
      hosts:
        stray: {patchorch_owner: null}
        guess: {patchorch_criticality: null}  # null undeclares the group's value
"""


@pytest.fixture
def findings_inventory(tmp_path: Path) -> str:
    """An inventory with one or more of each finding."""
    return inventory(tmp_path, FINDINGS)


def test_check_findings_exit_1(findings_inventory: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Findings are exit 1, listed by kind with a heading each."""
    assert main(["inventory", "check", "-i", findings_inventory]) == 1
    out = capsys.readouterr().out
    for heading in (
        "unknown patchorch_* variables",
        "clusters whose budget lets every member go down at once",
        "clusters of one member",
        "decommissioned hosts that still list services",
        "decommissioned hosts in groups of serving hosts",
        "decommissioned hosts still in a cluster",
        "hosts without an owner",
        "hosts whose criticality was defaulted",
    ):
        assert heading in out


def test_check_json(findings_inventory: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`check --json` prints every finding with its code, and the per-owner summary."""
    assert main(["inventory", "check", "-i", findings_inventory, "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert {finding["code"] for finding in data["findings"]} == {
        "unknown-variable",
        "cluster-all-down",
        "single-member-cluster",
        "decommissioned-with-services",
        "decommissioned-in-serving-group",
        "decommissioned-in-cluster",
        "no-owner",
        "defaulted-criticality",
    }
    [typo] = [finding for finding in data["findings"] if finding["code"] == "unknown-variable"]
    assert "did you mean patchorch_exclude?" in typo["message"]
    assert [owner["team"] for owner in data["owners"]] == ["mail", None]


def test_check_reports_typos_that_show_refuses(findings_inventory: str) -> None:
    """An unknown variable is a finding for `check` (exit 1) but refused by `show` (exit 2)."""
    assert main(["inventory", "check", "-i", findings_inventory, "--json"]) == 1
    assert main(["inventory", "show", "-i", findings_inventory]) == 2


def test_check_defaulted_criticality(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A host without patchorch_criticality is a finding saying what was assumed."""
    source = inventory(
        tmp_path, "all:\n  hosts:\n    h1: {patchorch_owner: {team: t, contact: c}, patchorch_exposure: internal}\n"
    )
    assert main(["inventory", "check", "-i", source]) == 1
    assert "  h1 declares no patchorch_criticality: assumed medium\n" in capsys.readouterr().out


def test_check_limit(findings_inventory: str, capsys: pytest.CaptureFixture[str]) -> None:
    """With --limit only hosts inside it are checked."""
    assert main(["inventory", "check", "-i", findings_inventory, "--limit", "stray", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [finding["code"] for finding in data["findings"]] == ["no-owner"]


def test_check_unreadable_inventory(tmp_path: Path) -> None:
    """An inventory that cannot be read is exit 2 for `check` too."""
    assert main(["inventory", "check", "-i", str(tmp_path / "missing.yml")]) == 2


def test_check_bad_metadata(tmp_path: Path) -> None:
    """Metadata that does not validate is exit 2 for `check`, not a finding."""
    source = inventory(tmp_path, "all:\n  hosts:\n    h1: {patchorch_criticality: hihg}\n")
    assert main(["inventory", "check", "-i", source]) == 2


def test_subprocess_show_json(tmp_path: Path) -> None:
    """`python -m patchorch inventory show --json` works as a real process with the documented exit status."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PATCHORCH_")}
    env["PATCHORCH_STATE_DIR"] = str(tmp_path / "state")
    result = subprocess.run(
        [sys.executable, "-m", "patchorch", "inventory", "show", "-i", str(EXAMPLE), "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["hosts"]) == 18
    assert result.stderr == ""


def test_check_of_an_empty_inventory_says_it_is_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An inventory whose hosts are all commented out is reported as empty, with no findings."""
    source = inventory(tmp_path, "all:\n  children:\n    etcd:\n      hosts:\n        # node1:\n")
    assert main(["inventory", "check", "-i", source]) == 0
    assert capsys.readouterr().out.startswith("no hosts in hosts.yml: the inventory is empty: no findings")


def test_check_reports_likely_quorum_members(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """kubespray-shaped etcd members without a cluster are one warning, exit 1; --policy can switch it off."""
    source = inventory(
        tmp_path,
        """
        all:
          children:
            etcd: {hosts: {node1: {}, node2: {}, node3: {}}}
            kube_control_plane: {hosts: {node1: {}, node2: {}, node3: {}}}
        """,
    )
    assert main(["inventory", "check", "-i", source, "--json"]) == 1
    findings = json.loads(capsys.readouterr().out)["findings"]
    [quorum] = [f for f in findings if f["code"] == "quorum-without-cluster"]
    assert quorum["hosts"] == ["node1", "node2", "node3"]
    off = inventory(
        tmp_path,
        "version: 1\nclasses: {low: {sla: 7d, concurrency: 5}}\nwave_order: [low]\n"
        "default_class: low\nquorum: {groups: []}\n",
        name="off.yml",
    )
    assert main(["inventory", "check", "-i", source, "--policy", off, "--json"]) == 1
    assert "quorum-without-cluster" not in {f["code"] for f in json.loads(capsys.readouterr().out)["findings"]}
