"""Settings into the library: the CLI's one way to open a Workspace (commands that plan or run) or the stores of
its location (commands that only read or import records). Everything they build loads inside these functions."""

from __future__ import annotations

import getpass
import socket
from datetime import timedelta
from typing import TYPE_CHECKING

from patchorch.cli._common import State, configure_logging
from patchorch.config import Settings

if TYPE_CHECKING:
    from patchorch.clock import Clock
    from patchorch.execution.base import Credentials
    from patchorch.orchestrator.stores import StoreLocation
    from patchorch.orchestrator.workspace import Workspace


def actor() -> str:
    """Who is acting: user@host, recorded with every run, approval and audit record."""
    return f"{getpass.getuser()}@{socket.gethostname()}"


def store_location(settings: Settings) -> StoreLocation:
    """Where the records of these settings live (the state directory, or `store_url`)."""
    from patchorch.orchestrator.stores import StoreLocation

    return StoreLocation(settings.state_dir, settings.store_url)


def open_workspace(
    settings: Settings,
    *,
    max_wait: timedelta | None = None,
    credentials: Credentials | None = None,
    clock: Clock | None = None,
    claim_wait: timedelta | None = None,
) -> Workspace:
    """The Workspace for these settings, with structured logs among the observers (displays are added later)."""
    from patchorch.orchestrator.observers import LogObserver
    from patchorch.orchestrator.workspace import Leases, Workspace

    configure_logging(settings.log_format)
    return Workspace.open(
        settings.state_dir,
        store_url=settings.store_url,
        actor=actor(),
        observers=(LogObserver(),),
        template_dir=settings.template_dir,
        max_wait=max_wait,
        credentials=credentials,
        clock=clock,
        claim_wait=claim_wait,
        leases=Leases(run_lock_lease=settings.run_lock_lease, claim_lease=settings.claim_lease),
    )


def recent_run_ids() -> list[str]:
    """Run ids for shell completion: the newest runs of the configured store (nothing when there is none yet)."""
    try:
        location = store_location(State().settings())
        if not location.exists():
            return []
        return [r.id for r in location.runs(actor=actor()).runs(20)]
    except Exception:  # completion must never break the shell, whatever the store says
        return []
