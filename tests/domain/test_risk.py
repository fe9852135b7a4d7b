"""Risk assessment: ordered rules, vulnerability inputs, overrides, and the reasons they give."""

from __future__ import annotations

from typing import Any

import pytest

from patchorch.domain.fleet import Host
from patchorch.domain.policy import Policy
from patchorch.domain.risk import assess, check_overrides
from patchorch.domain.vulnerability import Decision, HostVulnerability
from patchorch.errors import PlanError


def _policy(*rules: dict[str, Any]) -> Policy:
    return Policy.model_validate(
        {
            "classes": {name: {"sla": "1d", "concurrency": 1} for name in ("critical", "high", "low")},
            "wave_order": ["critical", "high", "low"],
            "rules": list(rules),
            "default_class": "low",
        }
    )


def _vuln(**fields: Any) -> HostVulnerability:
    return HostVulnerability(host="mx1", **fields)


MX1 = Host(name="mx1", criticality="high", exposure="internet", services=("smtp",))


def test_the_first_matching_rule_wins() -> None:
    """Rules are tried in order; a later match does not count."""
    policy = _policy({"class": "high", "exposure": "internet"}, {"class": "critical", "criticality": "high"})
    assert assess(MX1, policy).risk_class == "high"


def test_every_condition_of_a_rule_must_match() -> None:
    """Conditions combine with and."""
    policy = _policy({"class": "critical", "exposure": "internet", "criticality": "critical"})
    assert assess(MX1, policy).risk_class == "low"


def test_a_list_condition_means_any_of() -> None:
    """`criticality: [critical, high]` matches a high host."""
    assert assess(MX1, _policy({"class": "high", "criticality": ["critical", "high"]})).risk_class == "high"


def test_services_match_when_any_is_shared() -> None:
    """A rule on services matches a host running any of them."""
    assert assess(MX1, _policy({"class": "high", "services": ["imap", "smtp"]})).risk_class == "high"


def test_no_match_gives_the_default_class() -> None:
    """A host no rule matches gets the default class, and says so."""
    assessment = assess(Host(name="db1"), _policy({"class": "high", "exposure": "internet"}))
    assert assessment == ("low", False, "no rule matched (default class)")


def test_the_reason_names_the_matched_values_and_rule() -> None:
    """The reason says which of the host's values matched and which rule decided."""
    policy = _policy({"class": "high", "name": "exposed", "exposure": "internet", "criticality": ["high"]})
    assert assess(MX1, policy).reason == "criticality high, exposure internet (rule 'exposed')"


def test_an_unnamed_rule_is_numbered_from_one() -> None:
    """Rules without a name are referred to by position."""
    policy = _policy({"class": "critical", "criticality": "critical"}, {"class": "high", "exposure": "internet"})
    assert assess(MX1, policy).reason == "exposure internet (rule 2)"


def test_a_cvss_threshold_matches_at_or_above() -> None:
    """`min_cvss: 9.0` matches a host whose worst score is 9.0 or more."""
    policy = _policy({"class": "critical", "min_cvss": 9.0})
    assert assess(MX1, policy, _vuln(max_cvss=9.0)).risk_class == "critical"
    assert assess(MX1, policy, _vuln(max_cvss=8.9)).risk_class == "low"


def test_a_cvss_rule_never_matches_a_host_without_a_record() -> None:
    """No vulnerability record means no score to compare."""
    assert assess(MX1, _policy({"class": "critical", "min_cvss": 0})).risk_class == "low"


def test_known_exploited_matches_the_flag() -> None:
    """`known_exploited: true` matches KEV-listed hosts only, and says so."""
    policy = _policy({"class": "critical", "known_exploited": True})
    assessment = assess(MX1, policy, _vuln(known_exploited=True))
    assert assessment.risk_class == "critical"
    assert assessment.reason.startswith("known exploited")
    assert assess(MX1, policy, _vuln(known_exploited=False)).risk_class == "low"


def test_known_exploited_false_matches_hosts_without_a_record() -> None:
    """`known_exploited: false` also matches a host nobody reported on."""
    assert assess(MX1, _policy({"class": "high", "known_exploited": False})).risk_class == "high"


def test_a_decision_rule_matches_the_listed_decisions() -> None:
    """`decision: [immediate, out-of-cycle]` matches either."""
    policy = _policy({"class": "critical", "decision": ["immediate", "out-of-cycle"]})
    assert assess(MX1, policy, _vuln(decision=Decision.OUT_OF_CYCLE)).risk_class == "critical"
    assert assess(MX1, policy, _vuln(decision=Decision.SCHEDULED)).risk_class == "low"


def test_an_inventory_override_wins_and_says_so() -> None:
    """`patchorch_risk_class` beats every rule and is reported as an override."""
    host = MX1.model_copy(update={"risk_class": "low"})
    assessment = assess(host, _policy({"class": "critical", "exposure": "internet"}))
    assert assessment == ("low", True, "override in inventory (patchorch_risk_class)")


def test_an_override_naming_an_unknown_class_names_the_host() -> None:
    """An override the policy does not define is an error naming the host and the allowed classes."""
    host = MX1.model_copy(update={"risk_class": "urgent"})
    with pytest.raises(PlanError, match=r"host mx1: patchorch_risk_class 'urgent' .*allowed: critical, high, low"):
        check_overrides([Host(name="a"), host], _policy())
