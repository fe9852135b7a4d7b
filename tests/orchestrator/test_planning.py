"""Planning as a library call: from inventory sources, or from a fleet the caller already loaded from them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from patchorch.orchestrator.planning import plan_rollout
from patchorch.sources.inventory import load_fleet

EXAMPLE = Path(__file__).resolve().parents[2] / "inventories" / "example-mail"
NOW = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)


def test_a_loaded_fleet_plans_as_its_sources_do() -> None:
    """Handing over a loaded fleet (with its limit) gives the plan the sources and that limit give."""
    loaded = load_fleet([EXAMPLE], limit="mx")
    from_load = plan_rollout(loaded, emergency=True, now=NOW)
    from_sources = plan_rollout([EXAMPLE], emergency=True, limit="mx", now=NOW)
    assert from_load.content_hash == from_sources.content_hash
    assert from_load.limit == "mx"


def test_a_limit_other_than_the_loaded_one_is_refused() -> None:
    """A loaded fleet carries its limit: asking for another one is a mistake, not a silent re-read."""
    loaded = load_fleet([EXAMPLE], limit="mx")
    with pytest.raises(ValueError, match="loaded with limit 'mx', not 'imap'"):
        plan_rollout(loaded, limit="imap", now=NOW)
