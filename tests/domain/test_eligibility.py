"""Host eligibility: one rule for which hosts a rollout may patch, and the reason in words for those it may not."""

from __future__ import annotations

from typing import Any

import pytest

from patchorch.domain.eligibility import exclusion_detail, exclusion_reason, left_alone
from patchorch.domain.fleet import Host
from patchorch.domain.plan import ExclusionReason


def _host(**fields: Any) -> Host:
    return Host.model_validate({"name": "mx1", **fields})


def test_an_active_host_is_eligible() -> None:
    """A plain active host with no limit and no targets has no reason to be left out."""
    assert exclusion_reason(_host()) is None


@pytest.mark.parametrize(
    ("fields", "in_limit", "targets", "reason"),
    [
        ({"lifecycle": "decommissioned", "exclude": True}, {"other"}, {"other"}, ExclusionReason.DECOMMISSIONED),
        ({"exclude": True, "unavailable": True}, {"other"}, {"other"}, ExclusionReason.EXCLUDED),
        ({"unavailable": True}, {"other"}, {"other"}, ExclusionReason.OUTSIDE_LIMIT),
        ({"unavailable": True}, {"mx1"}, {"other"}, ExclusionReason.NOT_AFFECTED),
        ({"unavailable": True}, {"mx1"}, {"mx1"}, ExclusionReason.UNAVAILABLE),
    ],
)
def test_the_first_reason_in_order_is_given(
    fields: dict[str, Any], in_limit: set[str], targets: set[str], reason: ExclusionReason
) -> None:
    """Decommissioned, excluded, outside the limit, not affected, unavailable: the first that applies is the reason."""
    assert exclusion_reason(_host(**fields), in_limit=in_limit, targets=targets) is reason


def test_only_the_inventorys_standing_word_leaves_a_host_alone() -> None:
    """Decommissioned and excluded hosts are left alone; an unavailable host is only passing through."""
    assert left_alone(_host(lifecycle="decommissioned")) is ExclusionReason.DECOMMISSIONED
    assert left_alone(_host(exclude=True)) is ExclusionReason.EXCLUDED
    assert left_alone(_host(unavailable=True)) is None


def test_the_detail_uses_the_inventorys_reason() -> None:
    """An excluded or unavailable host's detail is the reason the inventory gives, else a default naming the state."""
    assert exclusion_detail(_host(exclude=True, exclude_reason="legacy"), ExclusionReason.EXCLUDED) == "legacy"
    assert exclusion_detail(_host(unavailable=True), ExclusionReason.UNAVAILABLE) == "marked unavailable"
    assert exclusion_detail(_host(), ExclusionReason.OUTSIDE_LIMIT, limit="mx*") == "outside --limit mx*"
    assert exclusion_detail(_host(), ExclusionReason.NOT_AFFECTED, advisory="DSA-1") == "not affected by DSA-1"


def test_a_plan_level_reason_has_no_host_detail() -> None:
    """The cluster budget is the planner's to explain: asking the host alone for it is a programming error."""
    with pytest.raises(ValueError, match="cluster-budget"):
        exclusion_detail(_host(), ExclusionReason.CLUSTER_BUDGET)
