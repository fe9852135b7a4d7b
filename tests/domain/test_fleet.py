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
    TcpCheck,
    Weekday,
    parse_duration,
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
        ("duration", "8d", "expected a duration"),
        ("duration", 0, "must be positive"),
        ("timezone", "Mars/Olympus", "unknown time zone"),
    ],
)
def test_bad_window(field: str, value: object, message: str) -> None:
    """Bad start times, durations and time zones are refused with a message saying what is expected."""
    data: dict[str, object] = {"days": ["sun"], "start": "02:00", "duration": "2h", field: value}
    with pytest.raises(ValidationError, match=message):
        MaintenanceWindow.model_validate(data)


def test_parse_duration_forms() -> None:
    """Durations read as minutes, hours, or both."""
    assert [parse_duration(v) for v in (90, "2h", "30m", "1h30m")] == [
        timedelta(minutes=90),
        timedelta(hours=2),
        timedelta(minutes=30),
        timedelta(minutes=90),
    ]


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
