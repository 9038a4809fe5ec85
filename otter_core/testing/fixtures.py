"""pytest fixtures with real servers, shared by the core's and every plugin's tests.

``mariadb_source`` and ``mariadb_target`` are started once per test session; ``clean_databases`` drops
the test schemas between tests so each test starts from empty servers.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from otter_core.testing.mariadb import MariaDBServer

if TYPE_CHECKING:
    from otter_core.testing.zookeeper import ZooKeeperServer

_server_ids = itertools.count(101)


@pytest.fixture(scope="session")
def mariadb_source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDBServer]:
    server = MariaDBServer(tmp_path_factory.mktemp("mariadb-source"), server_id=next(_server_ids))
    server.start()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def mariadb_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDBServer]:
    server = MariaDBServer(tmp_path_factory.mktemp("mariadb-target"), server_id=next(_server_ids))
    server.start()
    yield server
    server.destroy()


def drop_user_schemas(server: MariaDBServer) -> None:
    system = {"mysql", "information_schema", "performance_schema", "sys"}
    for (name,) in server.execute("SHOW DATABASES"):
        if name not in system:
            server.execute(f"DROP DATABASE `{name}`")


@pytest.fixture
def clean_databases(mariadb_source: MariaDBServer, mariadb_target: MariaDBServer) -> Iterator[None]:
    drop_user_schemas(mariadb_source)
    drop_user_schemas(mariadb_target)
    yield


@pytest.fixture(scope="session")
def zookeeper_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZooKeeperServer]:
    """A real standalone ZooKeeper on a free loopback port for the whole session (``.hosts``)."""
    from otter_core.testing.zookeeper import ZooKeeperServer

    server = ZooKeeperServer(tmp_path_factory.mktemp("zookeeper")).start()
    yield server
    server.destroy()


# PostgreSQL and Redis target servers (issue 7): postgresql_server, clean_postgresql, redis_server, clean_redis
from otter_core.testing.target_fixtures import (  # noqa: E402,F401  -- fixtures re-exported to pytest, kept beside their issue's note
    clean_postgresql,
    clean_redis,
    postgresql_server,
    redis_server,
)
