"""Session fixtures for the extra targets: a real PostgreSQL 15 and a real redis-server (issue 7)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from otter_core.testing.postgresql import PostgreSQLServer
from otter_core.testing.redis_server import RedisServer


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[PostgreSQLServer]:
    """A PostgreSQL 15 server (database ``otter``, user/password ``otter``) for the whole session."""
    server = PostgreSQLServer()  # under /tmp: the postgres OS user must reach it when tests run as root
    server.start()
    yield server
    server.destroy()


@pytest.fixture
def clean_postgresql(postgresql_server: PostgreSQLServer) -> Iterator[PostgreSQLServer]:
    """The session's PostgreSQL with every user schema dropped (public kept)."""
    postgresql_server.drop_user_schemas()
    yield postgresql_server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.destroy()


@pytest.fixture
def clean_redis(redis_server: RedisServer) -> Iterator[RedisServer]:
    """The session's redis-server, flushed."""
    client = redis_server.client()
    client.flushall()
    client.close()
    yield redis_server
