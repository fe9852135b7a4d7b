"""CLI tests on the test fleet use the integration tests' fixtures (a reset session fleet, a state directory)."""

from tests.integration.conftest import fresh, state_dir

__all__ = ["fresh", "state_dir"]
