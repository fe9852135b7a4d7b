"""The report's fleet tests use the integration tests' fleet fixtures (a reset session fleet, a state directory)."""

from tests.integration.conftest import fresh, state_dir

__all__ = ["fresh", "state_dir"]
