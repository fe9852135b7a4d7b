"""Risk assessment: which risk class a host belongs to under a policy, and why, in words.

An explicit `patchorch_risk_class` in the inventory wins over the rules and is reported as an override; otherwise
the policy's rules are tried in order and the first that matches decides; a host no rule matches gets the policy's
`default_class`.

    >>> from patchorch.domain.fleet import Host
    >>> assess(Host(name="mx1", exposure="internet"), policy).risk_class   # doctest: +SKIP
    'high'
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from patchorch.domain.fleet import Host
from patchorch.domain.policy import Policy, RiskRule
from patchorch.domain.vulnerability import HostVulnerability
from patchorch.errors import PlanError


class RiskAssessment(NamedTuple):
    """A host's risk class, whether the inventory overrode the rules, and the reason in words."""

    risk_class: str
    overridden: bool
    reason: str


def matched_conditions(rule: RiskRule, host: Host, vulnerability: HostVulnerability | None) -> tuple[str, ...] | None:
    """The rule's conditions described with the host's values if every one matches, else None.

    `("exposure internet", "criticality high")` for a rule on exposure and criticality; `()` for a catch-all rule.
    Vulnerability conditions never match a host without a vulnerability record, except `known_exploited: false`.
    """
    said: list[str] = []
    if rule.criticality is not None:
        if host.criticality not in rule.criticality:
            return None
        said.append(f"criticality {host.criticality}")
    if rule.exposure is not None:
        if host.exposure not in rule.exposure:
            return None
        said.append(f"exposure {host.exposure}")
    if rule.services is not None:
        common = sorted(set(rule.services) & set(host.services))
        if not common:
            return None
        said.append(f"service {', '.join(common)}")
    if rule.min_cvss is not None:
        score = vulnerability.max_cvss if vulnerability is not None else None
        if score is None or score < rule.min_cvss:
            return None
        said.append(f"CVSS {score:g} >= {rule.min_cvss:g}")
    if rule.known_exploited is not None:
        exploited = vulnerability is not None and vulnerability.known_exploited
        if exploited != rule.known_exploited:
            return None
        said.append("known exploited" if exploited else "not known exploited")
    if rule.decision is not None:
        decision = vulnerability.decision if vulnerability is not None else None
        if decision is None or decision not in rule.decision:
            return None
        said.append(f"decision {decision}")
    return tuple(said)


def assess(host: Host, policy: Policy, vulnerability: HostVulnerability | None = None) -> RiskAssessment:
    """The host's risk class under `policy`; raises `PlanError` naming the host if its override is not a class."""
    if host.risk_class is not None:
        if host.risk_class not in policy.classes:
            raise _unknown_override([host], policy)
        return RiskAssessment(host.risk_class, True, "override in inventory (patchorch_risk_class)")
    for index, rule in enumerate(policy.rules):
        said = matched_conditions(rule, host, vulnerability)
        if said is None:
            continue
        what = ", ".join(said) if said else "every host"
        label = f"rule {rule.name!r}" if rule.name else f"rule {index + 1}"
        return RiskAssessment(rule.risk_class, False, f"{what} ({label})")
    return RiskAssessment(policy.default_class, False, "no rule matched (default class)")


def check_overrides(hosts: Iterable[Host], policy: Policy) -> None:
    """Raise `PlanError` naming the first host whose `patchorch_risk_class` is not a class of the policy."""
    bad = [host for host in hosts if host.risk_class is not None and host.risk_class not in policy.classes]
    if bad:
        raise _unknown_override(bad, policy)


def _unknown_override(bad: list[Host], policy: Policy) -> PlanError:
    first = bad[0]
    more = f" (and {len(bad) - 1} more host{'s' if len(bad) > 2 else ''})" if len(bad) > 1 else ""
    return PlanError(
        f"host {first.name}: patchorch_risk_class {first.risk_class!r} is not a risk class of the policy"
        f" (allowed: {', '.join(policy.wave_order)}){more}",
        host=first.name,
        field="patchorch_risk_class",
        value=first.risk_class,
    )
