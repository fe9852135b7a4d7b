"""The session's test fleet (see tests/fleet_fixture.py) for the rendering tests that run what they render."""

from __future__ import annotations

from tests.fleet_fixture import test_fleet  # noqa: F401  # the session fixture, shared by these tests
