"""PostgreSQL store URLs: a connect timeout unless they set their own, so a server that never answers is one clear
line within seconds, not after the operating system's TCP timeout; `postgresql://` and `postgres://` use psycopg 3."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from patchorch.errors import ConfigError
from patchorch.store.runs import create_store_engine
from tests.postgres import PostgresServer


@pytest.fixture
def driver_params() -> Iterator[list[dict[str, Any]]]:
    """The keyword arguments each new store connection hands the database driver, as SQLAlchemy passes them."""
    seen: list[dict[str, Any]] = []

    def record(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        seen.append(dict(cparams))

    event.listen(Engine, "do_connect", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "do_connect", record)


@pytest.fixture
def refused_port() -> int:
    """A port of 127.0.0.1 where nothing listens (bound, then closed): a connection is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port of 127.0.0.1 that accepts connections (the kernel's backlog) and never answers a byte."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        yield int(listener.getsockname()[1])


def test_postgresql_url_without_a_connect_timeout_gets_ten_seconds(
    refused_port: int, driver_params: list[dict[str, Any]]
) -> None:
    """A PostgreSQL URL that sets no connect timeout reaches the driver with patchorch's default of 10 seconds."""
    with pytest.raises(ConfigError):
        create_store_engine(f"postgresql+psycopg://ops@127.0.0.1:{refused_port}/patchorch")
    assert [params["connect_timeout"] for params in driver_params] == [10]


def test_the_urls_own_connect_timeout_wins(refused_port: int, driver_params: list[dict[str, Any]]) -> None:
    """`?connect_timeout=N` in the URL is what the driver gets, not the default."""
    with pytest.raises(ConfigError):
        create_store_engine(f"postgresql+psycopg://ops@127.0.0.1:{refused_port}/patchorch?connect_timeout=3")
    assert [params["connect_timeout"] for params in driver_params] == ["3"]


def test_server_that_never_answers_is_unreachable_after_the_timeout(silent_port: int) -> None:
    """A listener that accepts and never answers is "cannot reach the store" once the timeout expires, password
    masked."""
    url = f"postgresql+psycopg://ops:s3cret-pw@127.0.0.1:{silent_port}/patchorch?connect_timeout=2"
    with pytest.raises(ConfigError) as caught:
        create_store_engine(url)
    masked = url.replace("s3cret-pw", "***")
    assert str(caught.value).startswith(f"store_url: cannot reach the store at {masked}: connection timeout expired; ")
    assert "s3cret-pw" not in str(caught.value)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_url_without_a_driver_opens_the_store_with_psycopg_3(scheme: str, postgres_server: PostgresServer) -> None:
    """`postgresql://` and `postgres://` reach a real server through psycopg 3, what patchorch[postgres] installs."""
    url = postgres_server.database()
    try:
        engine = create_store_engine(url.replace("postgresql+psycopg://", f"{scheme}://"))
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
        engine.dispose()
        assert engine.dialect.driver == "psycopg"
    finally:
        postgres_server.drop(url)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_unreachable_url_without_a_driver_names_it_as_written_with_the_password_masked(
    scheme: str, refused_port: int
) -> None:
    """A `postgresql://` or `postgres://` store nothing answers for is named as the user wrote it, password masked."""
    with pytest.raises(ConfigError) as caught:
        create_store_engine(f"{scheme}://ops:s3cret-pw@127.0.0.1:{refused_port}/patchorch")
    masked = f"{scheme}://ops:***@127.0.0.1:{refused_port}/patchorch"
    assert str(caught.value).startswith(f"store_url: cannot reach the store at {masked}: Connection refused; check ")
    assert "s3cret-pw" not in str(caught.value)
