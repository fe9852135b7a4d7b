"""The policy model: durations, defaults, and every validation rule naming its field."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from patchorch.domain.policy import Policy, format_location, parse_policy
from patchorch.domain.quantity import Budget
from patchorch.domain.spans import format_span, parse_span
from patchorch.errors import PolicyError

BASE: dict[str, Any] = {
    "classes": {
        "high": {"sla": "24h", "concurrency": 2, "soak": "30m", "failure_budget": 0, "approval": True},
        "low": {"sla": "7d", "concurrency": 10, "failure_budget": "10%"},
    },
    "wave_order": ["high", "low"],
    "rules": [{"class": "high", "exposure": "internet"}],
    "default_class": "low",
}


def _data(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data.update(changes)
    return data


def _error(data: dict[str, Any]) -> str:
    with pytest.raises(PolicyError) as caught:
        parse_policy(data, source="site.yml")
    return str(caught.value)


def test_spans_read_days_hours_and_minutes() -> None:
    """`7d`, `24h`, `1h30m`, `1d12h` and bare minutes are all durations."""
    assert parse_span("7d") == timedelta(days=7)
    assert parse_span("24h") == timedelta(hours=24)
    assert parse_span("1h30m") == timedelta(minutes=90)
    assert parse_span("1d12h") == timedelta(hours=36)
    assert parse_span(45) == timedelta(minutes=45)


def test_spans_read_seconds_last() -> None:
    """`45s` and `1m30s` are durations (leases are set in seconds); seconds before minutes are not."""
    assert parse_span("45s") == timedelta(seconds=45)
    assert parse_span("1m30s") == timedelta(seconds=90)
    with pytest.raises(ValueError, match="expected a duration"):
        parse_span("30s1m")


def test_a_zero_span_is_refused_unless_allowed() -> None:
    """An SLA of 0 is refused; a soak of 0 is allowed."""
    with pytest.raises(ValueError, match="positive"):
        parse_span("0")
    assert parse_span(0, allow_zero=True) == timedelta(0)


def test_spans_format_back_compactly() -> None:
    """Spans print the way people write them."""
    assert format_span(timedelta(days=1, hours=12)) == "1d12h"
    assert format_span(timedelta(minutes=30)) == "30m"
    assert format_span(timedelta(0)) == "0"


def test_spans_with_seconds_format_to_what_parses_back() -> None:
    """A span with seconds keeps them in print, and the printed form parses back to the same span."""
    for span in (timedelta(seconds=45), timedelta(minutes=1, seconds=30), timedelta(days=1, seconds=5)):
        assert parse_span(format_span(span)) == span
    assert format_span(timedelta(seconds=45)) == "45s"


def test_locations_format_keys_and_indices() -> None:
    """A location reads like a path into the file."""
    assert format_location(("rules", 2, "class")) == "rules[2].class"


def test_a_valid_policy_parses_with_its_defaults() -> None:
    """Omitted settings take documented defaults (7-day horizon, 5% rollout budget, 1-host canary)."""
    policy = parse_policy(BASE)
    assert policy.horizon == timedelta(days=7)
    assert policy.failure_budget == Budget(percent=5.0)
    assert policy.canary.size == Budget(count=1)
    assert policy.classes["high"].approval is True


def test_the_digest_is_stable_and_content_addressed() -> None:
    """The same policy gives the same digest; a change gives another."""
    assert parse_policy(BASE).digest == parse_policy(copy.deepcopy(BASE)).digest
    assert parse_policy(_data(horizon="3d")).digest != parse_policy(BASE).digest


def test_an_unknown_key_is_refused_by_name() -> None:
    """A misspelt key is an error naming the field."""
    data = _data()
    data["classes"]["high"]["concurency"] = 3
    assert "site.yml, classes.high.concurency: unknown key" in _error(data)


def test_a_percentage_above_100_is_refused() -> None:
    """Budgets are percentages in (0, 100]."""
    data = _data()
    data["classes"]["low"]["failure_budget"] = "150%"
    assert "classes.low.failure_budget: a percentage must lie in (0, 100]" in _error(data)


def test_a_zero_percentage_is_refused() -> None:
    """0% is not a percentage budget (write 0 for none)."""
    assert "failure_budget: a percentage must lie in (0, 100]" in _error(_data(failure_budget="0%"))


def test_a_canary_of_every_target_is_refused() -> None:
    """A 100% canary proves nothing before the rest."""
    assert "canary.size: a canary of 100% takes every target" in _error(_data(canary={"size": "100%"}))


def test_an_empty_canary_is_refused() -> None:
    """A canary takes at least one host."""
    assert "canary.size: a canary takes at least 1 host" in _error(_data(canary={"size": 0}))


def test_an_empty_wave_order_is_refused() -> None:
    """The wave order names at least one class."""
    assert "wave_order: must not be empty" in _error(_data(wave_order=[]))


def test_an_ordered_class_must_be_defined() -> None:
    """A class in the wave order that is not defined is named with the defined ones."""
    message = _error(_data(wave_order=["high", "low", "urgent"]))
    assert "wave_order[2]: class 'urgent' is in the wave order but not defined in classes" in message
    assert "(allowed: high, low)" in message


def test_a_defined_class_must_be_ordered() -> None:
    """A class defined but missing from the wave order is refused."""
    assert "classes.low: class 'low' is defined but missing from the wave order" in _error(_data(wave_order=["high"]))


def test_a_class_cannot_be_ordered_twice() -> None:
    """Each class has one place in the wave order."""
    assert "wave_order[2]: class 'high' appears twice" in _error(_data(wave_order=["high", "low", "high"]))


def test_a_rule_must_assign_a_defined_class() -> None:
    """A rule's class must be defined."""
    data = _data(rules=[{"class": "medium", "criticality": "medium"}])
    assert "rules[0].class: rule assigns undefined class 'medium'" in _error(data)


def test_the_default_class_must_be_defined() -> None:
    """The class of hosts no rule matches must exist."""
    assert "default_class: default class 'none' is not defined" in _error(_data(default_class="none"))


def test_rules_after_a_catch_all_are_refused() -> None:
    """A rule without conditions hides every rule after it."""
    data = _data(rules=[{"class": "low"}, {"class": "high", "exposure": "internet"}])
    assert "rules[0]: rule has no conditions" in _error(data)


def test_a_class_name_must_fit_a_stage_name() -> None:
    """Class names become stage names, so they are lowercase words."""
    data = _data()
    data["classes"]["Hot Fix"] = {"sla": "1h", "concurrency": 1}
    assert "classes.Hot Fix: 'Hot Fix' is not a valid name" in _error(data)


def test_a_rule_condition_value_must_be_known() -> None:
    """A rule on an exposure that does not exist names the offending item."""
    data = _data(rules=[{"class": "high", "exposure": "space"}])
    assert "rules[0].exposure[0]: Input should be 'internet'" in _error(data)


def test_a_single_condition_value_means_a_list_of_one() -> None:
    """`exposure: internet` reads as `exposure: [internet]`."""
    assert parse_policy(BASE).rules[0].exposure == ("internet",)


def test_every_problem_is_listed() -> None:
    """Several problems are reported together, the first in the message."""
    with pytest.raises(PolicyError) as caught:
        parse_policy(_data(default_class="none", wave_order=["high"]))
    assert len(caught.value.problems) == 2


def test_a_top_level_that_is_not_a_mapping_is_refused() -> None:
    """A policy is a mapping."""
    with pytest.raises(PolicyError, match="expected a mapping"):
        parse_policy(["classes"])


def test_a_policy_built_in_python_is_validated_too() -> None:
    """Cross-field checks also run for policies built directly, raising PolicyError."""
    with pytest.raises(PolicyError, match="wave order"):
        Policy.model_validate(_data(wave_order=["high"]))


def test_sla_beyond_the_bounded_span_is_refused() -> None:
    """An SLA of 3000000d is refused when the policy loads, so no later date computation can overflow."""
    data = {
        "classes": {"low": {"sla": "3000000d", "concurrency": 1}},
        "wave_order": ["low"],
        "default_class": "low",
    }
    with pytest.raises(ValueError, match="at most 36525d"):
        Policy.model_validate(data)
