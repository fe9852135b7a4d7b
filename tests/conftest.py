"""Root test configuration: the real test fleet (`test_fleet`) and the store URLs (`store_url`: SQLite and a private
PostgreSQL server) are available to every test package; `engines_opened` counts the database engines a test opens."""

from collections.abc import Iterator

import pytest
from sqlalchemy import event
from sqlalchemy.pool import Pool

pytest_plugins = ["tests.fleet_fixture", "tests.postgres"]


@pytest.fixture
def engines_opened() -> Iterator[list[object]]:
    """One entry (its first DBAPI connection) per engine whose pool first connects during the test."""
    first_connections: list[object] = []

    def record(dbapi_connection: object, _record: object) -> None:
        first_connections.append(dbapi_connection)

    event.listen(Pool, "first_connect", record)
    try:
        yield first_connections
    finally:
        event.remove(Pool, "first_connect", record)
