"""Where the store lives when no `store_url` is given: a SQLite file inside the state directory."""

from __future__ import annotations

from pathlib import Path

STORE_FILE = "patchorch.db"


def default_store_url(state_dir: Path) -> str:
    """The SQLAlchemy URL of the SQLite store in `state_dir`."""
    return f"sqlite:///{state_dir / STORE_FILE}"
