"""The CLI's error boundary maps `HostFailures` (a `PatchorchError`) to exit 1 and one line naming the hosts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from patchorch.cli._app import app, main
from patchorch.cli._commands import register
from patchorch.domain.outcomes import BatchOutcome, HostFailures, HostOutcome, HostStatus
from patchorch.errors import PatchorchError


@pytest.fixture
def failing_command() -> Iterator[str]:
    """A command registered for one test that raises HostFailures the way `raise_for_failure()` does."""

    def fail() -> None:
        outcomes = (
            HostOutcome(host="mx1", status=HostStatus.FAILED),
            HostOutcome(host="mx2", status=HostStatus.PATCHED),
        )
        BatchOutcome(stage="canary", batch=1, outcomes=outcomes).raise_for_failure()

    # Every command registered first: running an unknown name registers them all, and restoring a list taken before
    # that would drop them for the rest of the session.
    register()
    before = list(app.registered_commands)
    app.command("fail-hosts", hidden=True)(fail)
    try:
        yield "fail-hosts"
    finally:
        app.registered_commands[:] = before


def test_host_failures_is_a_patchorch_error() -> None:
    """HostFailures sits under PatchorchError, so one `except PatchorchError` catches everything patchorch raises."""
    assert issubclass(HostFailures, PatchorchError)


def test_host_failures_exit_1_naming_the_failed_hosts(failing_command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """HostFailures reaching the CLI exits 1 (host failures), not 4 (internal error), with one line naming mx1."""
    status = main([failing_command])
    err = capsys.readouterr().err
    assert status == 1
    assert err.strip().splitlines() == ["error: 1 host(s) failed: mx1"]
