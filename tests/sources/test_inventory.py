"""load_fleet: real Ansible inventories (INI, YAML, directories, scripts) read by ansible-inventory into a Fleet."""

from __future__ import annotations

import stat
import sys
import textwrap
from pathlib import Path

import pytest

from patchorch.domain.fleet import Criticality, Exposure, Lifecycle
from patchorch.domain.inventory_check import KNOWN_VARIABLES
from patchorch.errors import ConfigError, InventoryError
from patchorch.sources.inventory import InventoryLoad, UnknownKey, load_fleet

EXAMPLE = Path(__file__).resolve().parents[2] / "inventories" / "example-mail"


def write(path: Path, text: str) -> Path:
    """Write dedented `text` to `path` (making its directory) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.fixture
def ini(tmp_path: Path) -> Path:
    """An INI inventory: two MX hosts and an IMAP host, a parent group, host and group variables."""
    return write(
        tmp_path / "hosts.ini",
        """
        [mx]
        mx1 patchorch_criticality=critical
        mx2

        [imap]
        imap1

        [mail:children]
        mx
        imap

        [mx:vars]
        patchorch_exposure=internet
        patchorch_services=['smtp']
        patchorch_cluster=mx
        patchorch_cluster_budget=1
        patchorch_canary=true
        """,
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A YAML inventory of two sites for --limit patterns."""
    return write(
        tmp_path / "site.yml",
        """
        all:
          children:
            mx:
              hosts: {mx1: {}, mx2: {}, mx3: {}}
            imap:
              hosts: {imap1: {}, imap2: {}}
            site_a:
              hosts: {mx1: {}, imap1: {}}
            site_b:
              hosts: {mx2: {}, mx3: {}, imap2: {}}
        """,
    )


def test_ini_inventory_hosts_and_groups(ini: Path) -> None:
    """An INI inventory gives every host, with its groups including parents from [group:children]."""
    fleet = load_fleet([ini]).fleet
    assert [host.name for host in fleet] == ["imap1", "mx1", "mx2"]
    assert fleet.get("mx2").groups == ("mail", "mx")
    assert fleet.get("imap1").groups == ("imap", "mail")


def test_ini_values_are_typed(ini: Path) -> None:
    """INI strings become the documented types: enums, lists, booleans and budgets."""
    mx2 = load_fleet([ini]).fleet.get("mx2")
    assert mx2.exposure is Exposure.INTERNET
    assert mx2.services == ("smtp",)
    assert mx2.canary is True
    assert str(mx2.cluster_budget) == "1"


def test_yaml_inventory(tmp_path: Path) -> None:
    """A YAML inventory with nested children, group vars and host vars."""
    source = write(
        tmp_path / "hosts.yml",
        """
        all:
          children:
            web:
              vars:
                patchorch_owner: {team: web, contact: web@example.org}
                patchorch_maintenance_windows:
                  - {days: [sat, sunday], start: "02:00", duration: 1h30m, timezone: Europe/Berlin}
              hosts:
                web1:
                  patchorch_health_checks: [{http: "https://localhost/", body: OK}, {tcp: 443}]
        """,
    )
    web1 = load_fleet([source]).fleet.get("web1")
    assert web1.owner is not None
    assert web1.owner.team == "web"
    assert [day.value for day in web1.maintenance_windows[0].days] == ["sat", "sun"]
    assert [check.kind for check in web1.health_checks] == ["http", "tcp"]


def test_directory_with_group_and_host_vars(tmp_path: Path) -> None:
    """A directory inventory reads group_vars/ and host_vars/ beside its hosts file."""
    write(tmp_path / "inv" / "hosts", "[imap]\nimap1\nimap2\n")
    write(tmp_path / "inv" / "group_vars" / "imap.yml", "patchorch_cluster: imap\npatchorch_cluster_budget: '50%'\n")
    write(tmp_path / "inv" / "host_vars" / "imap2.yml", "patchorch_lifecycle: decommissioning\n")
    fleet = load_fleet([tmp_path / "inv"]).fleet
    assert str(fleet.clusters["imap"].budget) == "50%"
    assert fleet.get("imap2").lifecycle is Lifecycle.DECOMMISSIONING


def test_dynamic_inventory_script(tmp_path: Path) -> None:
    """An executable script that prints --list JSON is an inventory source."""
    script = write(
        tmp_path / "dynamic.py",
        f"""
        #!{sys.executable}
        import json, sys
        if "--host" in sys.argv:
            print("{{}}")
        else:
            print(json.dumps({{
                "relay": {{"hosts": ["relay1", "relay2"], "vars": {{"patchorch_services": ["relay"]}}}},
                "_meta": {{"hostvars": {{"relay1": {{"patchorch_criticality": "high"}}}}}},
            }}))
        """,
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    fleet = load_fleet([script]).fleet
    assert [host.name for host in fleet] == ["relay1", "relay2"]
    assert fleet.get("relay1").criticality is Criticality.HIGH
    assert fleet.get("relay2").services == ("relay",)


def test_several_sources_merge(tmp_path: Path, ini: Path) -> None:
    """Repeated sources merge into one fleet, as `-i a -i b` does for Ansible."""
    other = write(tmp_path / "more.yml", "all:\n  hosts:\n    relay1:\n")
    load = load_fleet([ini, other])
    assert "relay1" in load.fleet
    assert "mx1" in load.fleet
    assert load.sources == (str(ini), str(other))


def test_host_vars_beat_group_vars(ini: Path) -> None:
    """A host's own variable wins over its group's."""
    fleet = load_fleet([ini]).fleet
    assert fleet.get("mx1").criticality is Criticality.CRITICAL


def test_child_group_beats_parent_group(tmp_path: Path) -> None:
    """A child group's variable wins over its parent's, and the parent's over `all`."""
    source = write(
        tmp_path / "hosts.yml",
        """
        all:
          vars: {patchorch_criticality: low, patchorch_exposure: isolated}
          children:
            mail:
              vars: {patchorch_criticality: medium, patchorch_exposure: internal}
              children:
                mx:
                  vars: {patchorch_criticality: high}
                  hosts: {mx1: {}}
        """,
    )
    mx1 = load_fleet([source]).fleet.get("mx1")
    assert (mx1.criticality, mx1.exposure) == (Criticality.HIGH, Exposure.INTERNAL)


def test_defaults_are_recorded(ini: Path) -> None:
    """Undeclared owner, criticality and exposure take their defaults and say so."""
    load = load_fleet([ini])
    imap1 = load.fleet.get("imap1")
    assert (imap1.owner, imap1.criticality, imap1.exposure) == (None, Criticality.MEDIUM, Exposure.INTERNAL)
    assert imap1.defaulted == {"owner", "criticality", "exposure"}
    assert load.defaulted["mx1"] == {"owner"}


def test_groups_include_descendants_but_not_all(ini: Path) -> None:
    """`groups` maps each group to its hosts and its children's hosts; `all` and `ungrouped` are left out."""
    groups = load_fleet([ini]).groups
    assert groups["mail"] == ("imap1", "mx1", "mx2")
    assert "all" not in groups
    assert "ungrouped" not in groups


def test_connection_variables_pass_through(tmp_path: Path) -> None:
    """ansible_* variables and the reboot commands are kept untouched per host, outside Host."""
    source = write(
        tmp_path / "hosts.yml",
        """
        all:
          hosts:
            box1: {ansible_port: 2222, ansible_user: root, patchorch_reboot_command: "/sbin/reboot-ct", other: 1}
        """,
    )
    load = load_fleet([source])
    assert load.passthrough["box1"] == {
        "ansible_port": 2222,
        "ansible_user": "root",
        "patchorch_reboot_command": "/sbin/reboot-ct",
    }


def test_integer_os_version_is_read_as_text(tmp_path: Path) -> None:
    """An unquoted `patchorch_os_version: 12` means "12"."""
    source = write(
        tmp_path / "hosts.yml", "all:\n  hosts:\n    h1: {patchorch_os_family: debian, patchorch_os_version: 12}\n"
    )
    assert load_fleet([source]).fleet.get("h1").os_label == "debian 12"


def test_unsafe_values_are_literal(tmp_path: Path) -> None:
    """A value marked !unsafe is read literally, braces and all."""
    source = write(
        tmp_path / "hosts.yml",
        'all:\n  hosts:\n    h1: {patchorch_owner: {team: !unsafe "ops{{x}}", contact: ops@example.org}}\n',
    )
    owner = load_fleet([source]).fleet.get("h1").owner
    assert owner is not None
    assert owner.team == "ops{{x}}"


# --- bad metadata: one inventory with one host per kind of mistake, loaded once -------------------------------------

BAD = """
all:
  hosts:
    wrong-type: {patchorch_services: 5}
    bad-bool: {patchorch_canary: maybe}
    bad-enum: {patchorch_criticality: hihg}
    bad-percent: {patchorch_cluster: c1, patchorch_cluster_budget: "150%"}
    bad-budget: {patchorch_cluster: c2, patchorch_cluster_budget: lots}
    zero-budget: {patchorch_cluster: c3, patchorch_cluster_budget: 0}
    bad-time: {patchorch_maintenance_windows: [{days: [sun], start: "25:00", duration: 2h}]}
    bad-zone: {patchorch_maintenance_windows: [{days: [sun], start: "02:00", duration: 2h, timezone: Mars/Olympus}]}
    bad-day: {patchorch_maintenance_windows: [{days: [funday], start: "02:00", duration: 2h}]}
    bad-owner: {patchorch_owner: ops-team}
    typo: {patchorch_exlude: true}
"""

# host -> (variable, text the message must contain)
BAD_CASES = {
    "wrong-type": ("patchorch_services", "expected a list, not 5"),
    "bad-bool": ("patchorch_canary", "expected true or false, not 'maybe'"),
    "bad-enum": ("patchorch_criticality", "'hihg' is not allowed (allowed: low, medium, high, critical)"),
    "bad-percent": ("patchorch_cluster_budget", "a percentage must lie in (0, 100], not '150%'"),
    "bad-budget": ("patchorch_cluster_budget", "expected a count like 2 or a percentage like '25%', not 'lots'"),
    "zero-budget": ("patchorch_cluster_budget", "a cluster budget of 0"),
    "bad-time": (
        "patchorch_maintenance_windows",
        "[0].start: expected a start time HH:MM (00:00 to 23:59), not '25:00'",
    ),
    "bad-zone": ("patchorch_maintenance_windows", "[0].timezone: unknown time zone 'Mars/Olympus'"),
    "bad-day": ("patchorch_maintenance_windows", "[0].days[0]: 'funday' is not allowed (allowed: mon, tue, wed"),
    "bad-owner": ("patchorch_owner", "expected a mapping {team, contact} or 'Team Name <contact>', not 'ops-team'"),
    "typo": ("patchorch_exlude", "unknown variable (set to True): did you mean patchorch_exclude?"),
}


@pytest.fixture(scope="module")
def bad_load_error(tmp_path_factory: pytest.TempPathFactory) -> InventoryError:
    """The InventoryError of loading the BAD inventory."""
    source = write(tmp_path_factory.mktemp("bad") / "bad.yml", BAD)
    with pytest.raises(InventoryError) as caught:
        load_fleet([source])
    return caught.value


@pytest.mark.parametrize("host", sorted(BAD_CASES))
def test_bad_metadata_names_host_variable_and_value(bad_load_error: InventoryError, host: str) -> None:
    """Each kind of bad metadata is a problem naming the host, the variable, the value and what is allowed."""
    variable, expected = BAD_CASES[host]
    [problem] = [p for p in bad_load_error.problems if p.host == host]
    assert problem.field == variable
    assert problem.file is not None
    assert problem.file.endswith("bad.yml")
    assert expected in str(problem)
    assert f"host {host}, {variable}: " in str(problem)


def test_every_problem_in_one_error(bad_load_error: InventoryError) -> None:
    """One error lists every problem; its message names the first and counts the rest."""
    assert len(bad_load_error.problems) == len(BAD_CASES)
    assert str(bad_load_error).startswith(str(bad_load_error.problems[0]))
    assert f"(and {len(BAD_CASES) - 1} more problems)" in str(bad_load_error)


def test_documented_message_shape(tmp_path: Path) -> None:
    """The message reads like docs/INVENTORY.md: file and line, host, variable, value, allowed values."""
    source = write(tmp_path / "hosts.yml", "all:\n  hosts:\n    mx1: {patchorch_criticality: hihg}\n")
    with pytest.raises(InventoryError) as caught:
        load_fleet([source])
    assert str(caught.value) == (
        f"{source}:3, host mx1, patchorch_criticality: 'hihg' is not allowed (allowed: low, medium, high, critical)"
    )


def test_unknown_key_without_a_close_name(tmp_path: Path) -> None:
    """An unknown variable with no close known name points at the reference instead of guessing."""
    source = write(tmp_path / "hosts.yml", "all:\n  hosts:\n    h1: {patchorch_zzz: 1}\n")
    with pytest.raises(InventoryError, match=r"patchorch_zzz: unknown variable \(set to 1\): see docs/INVENTORY.md"):
        load_fleet([source])


def test_unknown_key_in_group_is_one_problem(tmp_path: Path) -> None:
    """A typo inherited by many hosts is reported once, with how many other hosts carry it."""
    source = write(
        tmp_path / "hosts.yml", "all:\n  vars: {patchorch_critcality: high}\n  hosts: {h1: {}, h2: {}, h3: {}}\n"
    )
    with pytest.raises(InventoryError) as caught:
        load_fleet([source])
    [problem] = caught.value.problems
    assert problem.hosts == ("h1", "h2", "h3")
    assert str(problem).endswith(
        "host h1 (and 2 other hosts), patchorch_critcality: unknown variable (set to 'high'):"
        " did you mean patchorch_criticality?"
    )


def test_non_strict_records_unknown_keys(tmp_path: Path) -> None:
    """Without strict, unknown variables are recorded with their suggestion instead of refused."""
    source = write(tmp_path / "hosts.yml", "all:\n  hosts:\n    h1: {patchorch_exlude: true}\n")
    load = load_fleet([source], strict=False)
    assert load.unknown_keys == (UnknownKey("h1", "patchorch_exlude", "patchorch_exclude"),)
    assert load.fleet.get("h1").exclude is False


def test_cluster_members_with_different_budgets(tmp_path: Path) -> None:
    """Members of one cluster that declare different budgets are refused: which one counts would be a guess."""
    source = write(
        tmp_path / "hosts.yml",
        """
        all:
          vars: {patchorch_cluster: imap}
          hosts:
            imap1: {patchorch_cluster_budget: 1}
            imap2: {patchorch_cluster_budget: "50%"}
        """,
    )
    with pytest.raises(InventoryError) as caught:
        load_fleet([source])
    [problem] = caught.value.problems
    assert problem.field == "patchorch_cluster_budget"
    assert "members of cluster imap declare different budgets (1 on imap1; 50% on imap2)" in str(problem)


def test_templates_are_refused(tmp_path: Path) -> None:
    """A Jinja template in patchorch_* metadata is refused: patchorch would read it literally."""
    source = write(tmp_path / "hosts.yml", "all:\n  hosts:\n    h1: {patchorch_criticality: '{{ crit }}'}\n")
    with pytest.raises(InventoryError, match=r"patchorch_criticality: '\{\{ crit \}\}' is a Jinja template"):
        load_fleet([source])


# --- sources Ansible cannot read ------------------------------------------------------------------------------------


def test_unparseable_yaml(tmp_path: Path) -> None:
    """A YAML syntax error names the source, the line and Ansible's reason, instead of an empty fleet."""
    source = write(tmp_path / "broken.yml", "all:\n  hosts: [a, b\n")
    with pytest.raises(InventoryError) as caught:
        load_fleet([source])
    [problem] = caught.value.problems
    assert problem.file == str(source)
    assert problem.line == 3
    assert "YAML parsing failed" in problem.message


def test_unparseable_ini(tmp_path: Path) -> None:
    """An INI file Ansible refuses gives the INI parser's reason."""
    source = write(tmp_path / "broken", "[mx:children]\nnosuchgroup\n")
    with pytest.raises(InventoryError, match="includes undefined group 'nosuchgroup'") as caught:
        load_fleet([source])
    assert caught.value.problems[0].file == str(source)


def test_failing_script(tmp_path: Path) -> None:
    """A dynamic inventory script that fails names the script, its exit status and what it said on stderr."""
    script = write(tmp_path / "dynamic.sh", "#!/bin/sh\necho 'CMDB token expired (401)' >&2\nexit 3\n")
    script.chmod(0o755)
    with pytest.raises(InventoryError) as caught:
        load_fleet([script])
    [problem] = caught.value.problems
    assert problem.file == str(script)
    assert (
        problem.message == "Inventory script returned non-zero exit code 3; the script said: CMDB token expired (401)"
    )


def test_missing_source(tmp_path: Path) -> None:
    """A source that does not exist is refused before Ansible runs."""
    with pytest.raises(InventoryError, match="no such file or directory") as caught:
        load_fleet([tmp_path / "nope.yml"])
    assert caught.value.problems[0].file == str(tmp_path / "nope.yml")


def test_one_bad_source_among_several(tmp_path: Path, ini: Path) -> None:
    """With several sources, the error names the one Ansible could not read."""
    broken = write(tmp_path / "broken.yml", "all:\n  hosts: [a, b\n")
    with pytest.raises(InventoryError) as caught:
        load_fleet([ini, broken])
    assert caught.value.problems[0].file == str(broken)


# --- --limit ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("mx", {"mx1", "mx2", "mx3"}),
        ("mx:&site_a", {"mx1"}),
        ("!mx1", {"mx2", "mx3", "imap1", "imap2"}),
        ("mx:!mx1", {"mx2", "mx3"}),
        ("~mx[12]", {"mx1", "mx2"}),
        ("mx*", {"mx1", "mx2", "mx3"}),
        ("imap1,mx3", {"imap1", "mx3"}),
        ("site_b:&imap", {"imap2"}),
        ("nomatch", set()),
    ],
)
def test_limit_patterns_mean_what_ansible_means(site: Path, pattern: str, expected: set[str]) -> None:
    """--limit is evaluated by Ansible: groups, intersections, exclusions, regexes and globs."""
    load = load_fleet([site], limit=pattern)
    assert load.in_limit == expected
    assert load.limit == pattern


def test_limit_keeps_every_host_in_the_fleet(site: Path) -> None:
    """Hosts outside the limit stay in the fleet (the planner reports them); `selected` has only those inside."""
    load = load_fleet([site], limit="mx:&site_a")
    assert len(load.fleet) == 5
    assert [host.name for host in load.selected] == ["mx1"]


def test_no_limit(site: Path) -> None:
    """Without a limit, in_limit is None and every host is selected."""
    load = load_fleet([site])
    assert load.in_limit is None
    assert load.selected == load.fleet


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ("[", "'[' has unbalanced brackets"),
        ("mx[", "'mx[' has unbalanced brackets"),
        ("mx]", "'mx]' has unbalanced brackets"),
        ("mx[]", "'mx[]' has an empty []"),
        ("~mx(", "'~mx(' is not a valid regular expression"),
        ("mx,,imap1", "'mx,,imap1' has an empty term"),
        ("  ", "the pattern is empty"),
    ],
)
def test_malformed_limit_is_refused_before_ansible_runs(site: Path, pattern: str, says: str) -> None:
    """A pattern Ansible would quietly widen (an unbalanced `[` selects every host) is a ConfigError naming --limit."""
    with pytest.raises(ConfigError) as caught:
        load_fleet([site], limit=pattern)
    assert str(caught.value).startswith(f"--limit: {says}")


def test_pattern_that_matches_nothing_warns(site: Path) -> None:
    """Ansible's warning about a pattern that matched nothing is kept for the CLI to show."""
    load = load_fleet([site], limit="nomatch")
    assert any("nomatch" in warning for warning in load.warnings)


# --- the example estate ---------------------------------------------------------------------------------------------


def test_example_estate_loads() -> None:
    """The example mail estate reads as 18 hosts with every owner, criticality and exposure declared."""
    load = load_fleet([EXAMPLE])
    assert isinstance(load, InventoryLoad)
    assert len(load.fleet) == 18
    assert load.defaulted == {}
    assert {host.os_label for host in load.fleet} == {"debian 12", "debian 11", "rhel 9"}


# --- hostile inventories: what the inventory says is data, shown as text and run as nothing ---------------------------

PAYLOAD = "{{ lookup('pipe', 'touch MARKER') }}"


@pytest.fixture(scope="module")
def templated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, InventoryError]:
    """An inventory directory with one host per patchorch_* variable, each set to a Jinja lookup in its host_vars."""
    root = tmp_path_factory.mktemp("templated")
    marker = root / "executed"
    names = {key: "h-" + key.removeprefix("patchorch_").replace("_", "-") for key in sorted(KNOWN_VARIABLES)}
    write(root / "inv" / "hosts.yml", "all:\n  hosts:\n" + "".join(f"    {name}:\n" for name in names.values()))
    for key, name in names.items():
        write(root / "inv" / "host_vars" / f"{name}.yml", f'{key}: "{PAYLOAD.replace("MARKER", str(marker))}"\n')
    with pytest.raises(InventoryError) as caught:
        load_fleet([root / "inv"])
    return root, marker, caught.value


@pytest.mark.parametrize("variable", sorted(KNOWN_VARIABLES))
def test_jinja_is_refused_in_every_patchorch_variable(
    templated: tuple[Path, Path, InventoryError], variable: str
) -> None:
    """Each patchorch_* variable holding Jinja is one problem naming the host, the variable and its host_vars file."""
    root, _, error = templated
    host = "h-" + variable.removeprefix("patchorch_").replace("_", "-")
    [problem] = [p for p in error.problems if p.host == host]
    assert problem.field == variable
    assert problem.file == str(root / "inv" / "host_vars" / f"{host}.yml")
    assert problem.line == 1
    assert "is a Jinja template" in problem.message


def test_a_refused_template_never_runs(templated: tuple[Path, Path, InventoryError]) -> None:
    """Reading, validating and locating the templated inventory runs none of its lookups."""
    _, marker, error = templated
    assert len(error.problems) == len(KNOWN_VARIABLES)
    assert not marker.exists()


def test_a_bad_group_value_is_one_problem_naming_its_group_vars_file(tmp_path: Path) -> None:
    """A bad value in group_vars reaches every host of the group but is reported once, with that file and line."""
    write(tmp_path / "inv" / "hosts.yml", "mail:\n  hosts: {mx1: {}, mx2: {}, mx3: {}}\n")
    write(tmp_path / "inv" / "group_vars" / "mail.yml", 'patchorch_criticality: high\npatchorch_cluster: "mx\\nfake"\n')
    with pytest.raises(InventoryError) as caught:
        load_fleet([tmp_path / "inv"])
    [problem] = caught.value.problems
    assert problem.file == str(tmp_path / "inv" / "group_vars" / "mail.yml")
    assert problem.line == 2
    assert problem.hosts == ("mx1", "mx2", "mx3")
    assert str(problem).startswith(f"{problem.file}:2, host mx1 (and 2 other hosts), patchorch_cluster: ")
    assert "line break or control character" in problem.message


def test_every_problem_of_every_host_is_listed(tmp_path: Path) -> None:
    """Different mistakes on different hosts are all listed, each with the file that set it."""
    source = write(
        tmp_path / "hosts.yml",
        """
        all:
          hosts:
            münchen-mx3: {patchorch_owner: "ops\\u001b[2J <ops@example.org>"}
            mx1: {patchorch_unavailable_reason: "down\\r\\nmx2 patched OK"}
        """,
    )
    with pytest.raises(InventoryError) as caught:
        load_fleet([source])
    found = {(p.host, p.field, p.file, p.line) for p in caught.value.problems}
    assert found == {
        ("münchen-mx3", "host name", str(source), 3),
        ("münchen-mx3", "patchorch_owner", str(source), 3),
        ("mx1", "patchorch_unavailable_reason", str(source), 4),
    }


def test_owner_written_as_name_and_address(tmp_path: Path) -> None:
    """`patchorch_owner: "Mail Platform <mail-platform@example.net>"` is read as team and contact."""
    source = write(
        tmp_path / "hosts.yml",
        'all:\n  hosts:\n    mx1: {patchorch_owner: "Mail Platform <mail-platform@example.net>"}\n',
    )
    owner = load_fleet([source]).fleet.get("mx1").owner
    assert owner is not None
    assert (owner.team, owner.contact) == ("Mail Platform", "mail-platform@example.net")


def test_an_empty_inventory_loads_as_an_empty_fleet(tmp_path: Path) -> None:
    """An inventory whose hosts are all commented out is an empty fleet, not an error."""
    source = write(tmp_path / "hosts.yml", "all:\n  children:\n    etcd:\n      hosts:\n        # node1:\n")
    assert len(load_fleet([source]).fleet) == 0


def test_a_bad_value_from_a_script_names_the_script(tmp_path: Path) -> None:
    """Values a dynamic inventory script prints have no file of their own: the problem names the script."""
    listing = '{"_meta": {"hostvars": {"mx1": {"patchorch_criticality": "hihg"}}}, "all": {"hosts": ["mx1"]}}'
    script = write(tmp_path / "cmdb.sh", f"#!/bin/sh\necho '{listing}'\n")
    script.chmod(0o755)
    with pytest.raises(InventoryError) as caught:
        load_fleet([script])
    [problem] = caught.value.problems
    assert (problem.file, problem.host, problem.field) == (str(script), "mx1", "patchorch_criticality")


def test_a_read_leaves_ansibles_settings_as_it_found_them(site: Path) -> None:
    """The settings a read changes for itself (unparsed sources fail, ignored file names) are restored afterwards."""
    from ansible import constants
    from ansible.inventory import manager

    before = (constants.INVENTORY_UNPARSED_IS_FAILED, constants.INJECT_FACTS_AS_VARS, manager.IGNORED.pattern)
    load_fleet([site], limit="mx")
    assert (constants.INVENTORY_UNPARSED_IS_FAILED, constants.INJECT_FACTS_AS_VARS, manager.IGNORED.pattern) == before


def test_a_second_read_sees_group_vars_added_since_the_first(tmp_path: Path) -> None:
    """Reading again in the same process picks up a group_vars file created after the first read."""
    write(tmp_path / "inv" / "hosts.yml", "mail:\n  hosts: {mx1: {}}\n")
    assert load_fleet([tmp_path / "inv"]).fleet.get("mx1").criticality is Criticality.MEDIUM
    write(tmp_path / "inv" / "group_vars" / "mail.yml", "patchorch_criticality: high\n")
    assert load_fleet([tmp_path / "inv"]).fleet.get("mx1").criticality is Criticality.HIGH
