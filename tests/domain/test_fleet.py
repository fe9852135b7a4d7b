"""Host, Cluster and Fleet: validation of patch metadata, defaults and the fleet's views."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from pydantic import ValidationError

from patchorch.domain.fleet import (
    Cluster,
    CommandCheck,
    Criticality,
    Exposure,
    Fleet,
    Host,
    HttpCheck,
    MaintenanceWindow,
    Owner,
    TcpCheck,
    Weekday,
    host_name_problem,
    jinja_in,
)
from patchorch.domain.quantity import Budget


def test_host_defaults() -> None:
    """A host that declares nothing is medium, internal, active, unowned and never a canary."""
    host = Host(name="h1")
    assert (host.criticality, host.exposure, host.owner, host.canary) == (
        Criticality.MEDIUM,
        Exposure.INTERNAL,
        None,
        False,
    )


def test_budget_needs_a_cluster() -> None:
    """A cluster budget without a cluster is refused."""
    with pytest.raises(ValidationError, match="patchorch_cluster_budget is set but patchorch_cluster is not"):
        Host.model_validate({"name": "h1", "cluster_budget": 1})


def test_cluster_budget_of_zero_is_refused() -> None:
    """A cluster budget of 0 would silently become 1; it is refused instead."""
    with pytest.raises(ValidationError, match="a cluster budget of 0"):
        Host.model_validate({"name": "h1", "cluster": "c", "cluster_budget": 0})


def test_integer_os_version() -> None:
    """An integer OS version (unquoted YAML) becomes text; a float stays an error."""
    assert Host.model_validate({"name": "h1", "os_version": 12}).os_version == "12"
    with pytest.raises(ValidationError):
        Host.model_validate({"name": "h1", "os_version": 9.1})


def test_services_accept_one_string() -> None:
    """A single service written as a string is a one-element list."""
    assert Host.model_validate({"name": "h1", "services": "smtp"}).services == ("smtp",)


def test_health_check_short_forms() -> None:
    """`{tcp: 25}`, `{http: URL}` and `{command: "argv"}` are read as typed checks."""
    host = Host.model_validate(
        {"name": "h1", "health_checks": [{"tcp": 25}, {"http": "https://localhost/"}, {"command": "postfix status"}]}
    )
    tcp, http, command = host.health_checks
    assert isinstance(tcp, TcpCheck)
    assert tcp.port == 25
    assert isinstance(http, HttpCheck)
    assert http.status == 200
    assert isinstance(command, CommandCheck)
    assert command.command == ("postfix", "status")


def test_health_check_names_one_kind() -> None:
    """A health check with two kinds at once is refused."""
    with pytest.raises(ValidationError, match="exactly one of tcp, http, command"):
        Host.model_validate({"name": "h1", "health_checks": [{"tcp": 25, "http": "https://x/"}]})


@pytest.mark.parametrize(
    ("days", "expected"),
    [(["mon", "Tue"], (Weekday.MON, Weekday.TUE)), ("sat, sunday", (Weekday.SAT, Weekday.SUN))],
)
def test_window_days(days: object, expected: tuple[Weekday, ...]) -> None:
    """Days are short or full names, in a list or one comma-separated string, any case."""
    window = MaintenanceWindow.model_validate({"days": days, "start": "02:00", "duration": "2h"})
    assert window.days == expected


def test_window_day_is_not_guessed_from_a_prefix() -> None:
    """`month` is not Monday: only a day's short or full name counts."""
    with pytest.raises(ValidationError, match="month"):
        MaintenanceWindow.model_validate({"days": ["month"], "start": "02:00", "duration": "2h"})


def test_window_start_and_duration() -> None:
    """Start is HH:MM local time and duration is minutes or h/m."""
    window = MaintenanceWindow.model_validate(
        {"days": ["sun"], "start": "23:30", "duration": "1h30m", "timezone": "Europe/Berlin"}
    )
    assert (window.start, window.duration) == (time(23, 30), timedelta(minutes=90))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("start", "24:00", "expected a start time HH:MM"),
        ("start", 120, "expected a quoted start time"),
        ("duration", "soon", "expected a duration"),
        ("duration", "8d", "lasts at most 7 days"),
        ("duration", 0, "must be positive"),
        ("timezone", "Mars/Olympus", "unknown time zone"),
    ],
)
def test_bad_window(field: str, value: object, message: str) -> None:
    """Bad start times, durations and time zones are refused with a message saying what is expected."""
    data: dict[str, object] = {"days": ["sun"], "start": "02:00", "duration": "2h", field: value}
    with pytest.raises(ValidationError, match=message):
        MaintenanceWindow.model_validate(data)


def test_window_duration_is_read_as_any_span() -> None:
    """A window's duration is read by the one span reader: minutes, hours, both, or a whole day."""
    windows = [
        MaintenanceWindow.model_validate({"days": ["sun"], "start": "02:00", "duration": v})
        for v in (90, "2h", "1h30m", "1d")
    ]
    durations = [window.duration for window in windows]
    assert durations == [timedelta(minutes=90), timedelta(hours=2), timedelta(minutes=90), timedelta(days=1)]


def test_cluster_allowed_down() -> None:
    """Without a budget a cluster of n allows n-1 (1 for one member); a budget is capped to the members."""
    assert Cluster(name="c", members=("a", "b", "c")).allowed_down == 2
    assert Cluster(name="c", members=("a",)).allowed_down == 1
    assert Cluster(name="c", members=("a", "b", "c", "d"), budget=Budget.model_validate("50%")).allowed_down == 2
    assert Cluster(name="c", members=("a", "b", "c"), budget=Budget.model_validate("10%")).allowed_down == 1


def test_fleet_sorted_and_unique() -> None:
    """A fleet lists hosts by name whatever the input order, and refuses duplicate names."""
    fleet = Fleet(hosts=(Host(name="b"), Host(name="a")))
    assert [host.name for host in fleet] == ["a", "b"]
    with pytest.raises(ValidationError, match="unique"):
        Fleet(hosts=(Host(name="a"), Host(name="a")))


def test_fleet_clusters() -> None:
    """Clusters collect their members and the budget they declare."""
    fleet = Fleet(
        hosts=(
            Host.model_validate({"name": "i1", "cluster": "imap", "cluster_budget": "50%"}),
            Host.model_validate({"name": "i2", "cluster": "imap", "cluster_budget": "50%"}),
            Host(name="x"),
        )
    )
    assert list(fleet.clusters) == ["imap"]
    assert fleet.clusters["imap"].members == ("i1", "i2")
    assert str(fleet.clusters["imap"].budget) == "50%"


def test_fleet_subset() -> None:
    """A subset keeps only the named hosts and the sources."""
    fleet = Fleet(hosts=(Host(name="a"), Host(name="b")), source=("inv",))
    subset = fleet.subset(["b", "nope"])
    assert [host.name for host in subset] == ["b"]
    assert subset.source == ("inv",)


# --- outside text: one-line values, owners as people write them, Jinja, host names ----------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cluster", "imap\nmx"),
        ("exclude_reason", "retired\x1b[2J"),
        ("unavailable_reason", "down\rup"),
        ("services", ["smtp\nimap"]),
        ("risk_class", "low\x85"),
        ("os_family", "debian\u2028"),
        ("owner", {"team": "ops\n", "contact": "ops@example.org"}),
        ("owner", {"team": "ops", "contact": "\x1b]8;;http://evil\x07ops@example.org"}),
    ],
)
def test_one_line_values_refuse_line_breaks_and_control_characters(field: str, value: object) -> None:
    """A value shown on one line is refused when it holds a line break, ESC or another control character."""
    with pytest.raises(ValidationError, match="line break or control character"):
        Host.model_validate({"name": "h1", field: value})


def test_one_line_values_keep_brackets_and_unicode() -> None:
    """Brackets (rich markup) and non-ASCII letters are ordinary text in a one-line value."""
    host = Host.model_validate({"name": "h1", "owner": {"team": "[reverse red]ops[/]", "contact": "Jörg <j@x.de>"}})
    assert host.owner == Owner(team="[reverse red]ops[/]", contact="Jörg <j@x.de>")


def test_owner_as_name_and_address() -> None:
    """`Name <address>` is an owner: the name is the team, the address the contact."""
    owner = Owner.model_validate("Mail Platform <mail-platform@example.net>")
    assert owner == Owner(team="Mail Platform", contact="mail-platform@example.net")


@pytest.mark.parametrize("value", ["Mail Platform", "<mail@example.net>", "a <b> <c>"])
def test_owner_string_needs_a_name_and_one_address(value: str) -> None:
    """An owner string without a name or with other than one `<address>` is refused, saying both accepted forms."""
    with pytest.raises(ValidationError, match=r"expected a mapping \{team, contact\} or 'Team Name <contact>'"):
        Owner.model_validate(value)


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("{{ lookup('pipe', 'id') }}", "{{ lookup('pipe', 'id') }}"),
        (["reboot", "{% if x %}y{% endif %}"], "{% if x %}y{% endif %}"),
        ({"team": "ops", "contact": "{# c #}"}, "{# c #}"),
        ({"{{ key }}": "value"}, "{{ key }}"),
        ("shutdown -r now", None),
        ({"team": "{ops}", "contact": "a@b"}, None),
    ],
)
def test_jinja_in_finds_templates_anywhere(value: object, found: str | None) -> None:
    """jinja_in returns the first string with a Jinja delimiter, in keys, lists and mappings, else None."""
    assert jinja_in(value) == found


@pytest.mark.parametrize("name", ["mx1.example.org", "db_2", "node@rack+3"])
def test_host_names_ansible_reads_literally(name: str) -> None:
    """ASCII names of letters, digits and `_.@+-` pass the host-name rule."""
    assert host_name_problem(name) is None


@pytest.mark.parametrize("name", ["münchen-mx3", "mx[1:3]", "mx1:2222", "web server", "-mx", "mx!1"])
def test_host_names_rendering_cannot_use(name: str) -> None:
    """Non-ASCII names, ranges, ports, spaces and pattern operators break the host-name rule, saying what is allowed."""
    problem = host_name_problem(name)
    assert problem is not None
    assert repr(name) in problem
    assert "allowed: ASCII letters, digits and _.@+-" in problem


def _template() -> Host:
    return Host.model_validate(
        {
            "name": "-",
            "groups": (),
            "owner": "Mail <mail@example.org>",
            "services": ["smtp"],
            "maintenance_windows": [{"days": ["sun"], "start": "02:00", "duration": "2h"}],
        }
    )


def test_named_host_is_the_template_under_another_name() -> None:
    """`named` gives the same Host `model_copy` would, with the name and groups replaced."""
    template = _template()
    named = template.named("mx1", ("mail", "site_a"))
    assert named == template.model_copy(update={"name": "mx1", "groups": ("mail", "site_a")})
    assert named.model_fields_set == template.model_fields_set


def test_named_hosts_share_the_record_of_given_fields() -> None:
    """Hosts named from one template share its record of given fields instead of a copy each (memory at 100k)."""
    template = _template()
    first, second = template.named("mx1", ()), template.named("mx2", ())
    assert first.model_fields_set is second.model_fields_set is template.model_fields_set


def test_sharing_replaces_values_by_equal_ones_of_the_pool() -> None:
    """Two separately validated hosts with equal metadata hold one object per value after `sharing` one pool."""
    pool: dict[object, object] = {}
    first, second = _template().sharing(pool), _template().sharing(pool)
    assert first == _template()
    assert first.owner is second.owner
    assert first.maintenance_windows is second.maintenance_windows
