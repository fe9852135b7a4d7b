"""Policy files: strict YAML with file, line and field in every error; the built-in and example policies."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchorch.domain.policy import Policy
from patchorch.errors import PolicyError
from patchorch.sources.policy import load_policy, parse_policy_text

EXAMPLE = Path(__file__).resolve().parents[2] / "inventories" / "example-mail" / "policy.yml"

GOOD = """\
classes:
  high:
    sla: 24h
    concurrency: 2
  low:
    sla: 7d
    concurrency: 10
wave_order: [high, low]
rules:
  - class: high
    exposure: internet
default_class: low
"""


def _error(text: str) -> str:
    with pytest.raises(PolicyError) as caught:
        parse_policy_text(text, source="site.yml")
    return str(caught.value)


def test_a_good_policy_file_parses() -> None:
    """A valid file gives a Policy."""
    assert parse_policy_text(GOOD, source="site.yml").wave_order == ("high", "low")


def test_an_unknown_key_names_file_line_and_field() -> None:
    """A misspelt key points at its own line."""
    text = GOOD.replace("    concurrency: 10", "    concurrency: 10\n    sak: 1h")
    assert "site.yml:8, classes.low.sak: unknown key" in _error(text)


def test_a_bad_value_names_the_line_of_its_key() -> None:
    """A percentage outside (0, 100] points at the line that holds it."""
    text = GOOD.replace("    concurrency: 2", "    concurrency: 2\n    failure_budget: 150%")
    assert "site.yml:5, classes.high.failure_budget: a percentage must lie in (0, 100]" in _error(text)


def test_a_list_item_names_its_line() -> None:
    """A wrong item of a list points at the item."""
    text = GOOD.replace("wave_order: [high, low]", "wave_order:\n  - high\n  - low\n  - urgent")
    assert "site.yml:11, wave_order[2]: class 'urgent' is in the wave order but not defined" in _error(text)


def test_a_missing_key_points_at_its_mapping() -> None:
    """A required key that is absent points at the mapping that lacks it."""
    text = GOOD.replace("    sla: 7d\n", "")
    assert "site.yml:5, classes.low.sla: required but missing" in _error(text)


def test_a_rule_class_error_points_at_the_rule() -> None:
    """A rule naming an undefined class points at the `class` key of that rule."""
    assert "site.yml:10, rules[0].class: rule assigns undefined class 'mid'" in _error(
        GOOD.replace("  - class: high", "  - class: mid")
    )


def test_duplicate_keys_are_refused() -> None:
    """A key given twice is an error naming both lines, not a silent last-wins."""
    text = GOOD.replace("    concurrency: 2", "    concurrency: 2\n    concurrency: 20")
    assert "site.yml:5, classes.high.concurrency: duplicate key 'concurrency' (first on line 4)" in _error(text)


def test_tags_are_refused() -> None:
    """Explicit YAML tags (including python ones) are refused before anything is constructed."""
    assert "site.yml:12: YAML tags" in _error(GOOD.replace("default_class: low", "default_class: !!str low"))
    assert "YAML tags" in _error("x: !!python/object/apply:os.system ['true']\n")


def test_anchors_are_refused() -> None:
    """Anchors are refused: a reader should not have to resolve references."""
    assert "site.yml:2: anchors (&hi) are not allowed" in _error(GOOD.replace("  high:\n", "  high: &hi\n"))


def test_aliases_are_refused() -> None:
    """Aliases are refused even without an anchor error first."""
    assert "site.yml:1: aliases (*a) are not allowed" in _error("x: *a\n")


def test_merge_keys_are_refused() -> None:
    """`<<` merge keys are refused."""
    assert "site.yml:1: merge keys (<<) are not allowed" in _error("<<: {version: 1}\n")


def test_yaml_syntax_errors_name_the_line() -> None:
    """A file that is not YAML names the line where parsing failed."""
    assert "site.yml:2: not valid YAML" in _error("classes: [\nwave_order: }\n")


def test_an_empty_file_is_refused() -> None:
    """An empty policy is an error, not an empty policy."""
    assert "site.yml:1: the policy is empty" in _error("# nothing\n")


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    """A policy path that does not exist is a PolicyError naming it."""
    with pytest.raises(PolicyError, match="no such policy file"):
        load_policy(tmp_path / "absent.yml")


def test_a_file_is_read_from_disk(tmp_path: Path) -> None:
    """load_policy reads a file and names it in errors."""
    path = tmp_path / "policy.yml"
    path.write_text(GOOD.replace("default_class: low", "default_class: none"), encoding="utf-8")
    with pytest.raises(PolicyError, match=f"{path}:12, default_class"):
        load_policy(path)


def test_the_built_in_policy_loads() -> None:
    """The package ships a valid default policy with the four standard classes."""
    policy = load_policy(None)
    assert isinstance(policy, Policy)
    assert policy.wave_order == ("critical", "high", "medium", "low")


def test_the_example_policy_loads() -> None:
    """The annotated example policy of the mail estate is valid."""
    assert load_policy(EXAMPLE).classes["critical"].approval is True
