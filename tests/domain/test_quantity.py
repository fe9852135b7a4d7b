"""Budget: counts and percentages of a group, parsed from YAML and applied to group sizes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from patchorch.domain.quantity import Budget

counts = st.integers(min_value=0, max_value=10_000)
percents = st.integers(min_value=1, max_value=100).map(lambda p: f"{p}%")
budgets = st.one_of(counts, percents).map(Budget.model_validate)
totals = st.integers(min_value=0, max_value=10_000)


@given(budgets, totals, st.integers(min_value=0, max_value=1))
def test_of_stays_within_the_group(budget: Budget, total: int, minimum: int) -> None:
    """A budget of a non-empty group allows between `minimum` and the whole group; of an empty group, none."""
    allowed = budget.of(total, minimum=minimum)
    if total == 0:
        assert allowed == 0
    else:
        assert minimum <= allowed <= total


@given(percents, totals, totals)
def test_percentage_grows_with_the_group(text: str, a: int, b: int) -> None:
    """A percentage of a bigger group is never smaller."""
    budget = Budget.model_validate(text)
    small, large = sorted((a, b))
    assert budget.of(small) <= budget.of(large)


@given(st.integers(min_value=1, max_value=100), totals)
def test_percentage_rounds_down_and_up(percent: int, total: int) -> None:
    """`of` rounds a percentage down and `of_rounding_up` up, never further than one host apart."""
    budget = Budget.model_validate(f"{percent}%")
    exact = total * percent / 100
    assert budget.of(total) <= exact + 1e-6
    assert budget.of_rounding_up(total) >= exact - 1e-6
    assert budget.of_rounding_up(total) - budget.of(total) <= 1


@given(st.one_of(counts, percents))
def test_round_trip(value: int | str) -> None:
    """A budget serialises back to what was written."""
    assert Budget.model_validate(value).model_dump() == value


def test_thirds_do_not_lose_a_host() -> None:
    """33.333...% of 3 is 1, not 0.99999 rounded down to 0."""
    assert Budget.model_validate("33.3333333333%").of(3) == 1


@pytest.mark.parametrize("value", ["0%", "150%", "lots", -1, True, 2.5])
def test_bad_budgets(value: object) -> None:
    """Percentages outside (0, 100], negative counts, words, booleans and fractions are refused."""
    with pytest.raises(ValidationError):
        Budget.model_validate(value)
