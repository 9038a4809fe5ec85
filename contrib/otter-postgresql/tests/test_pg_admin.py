"""otter-postgresql's ``otter_source_admin`` on a real PostgreSQL 15: the connection check the manager's
"test connection" uses, and a clear error for a wrong password or a position by time."""

import pytest

from otter_core.plugins import AdminPlugins
from otter_core.spi import ConfigError, DataMediaSource


def target(server, **changes) -> DataMediaSource:
    return DataMediaSource(name="pg", **{**server.source_config(), **changes})


def test_the_connection_check_names_the_server(postgresql_server):
    admin = AdminPlugins().source_admin(target(postgresql_server))
    assert admin is not None and admin.init_db() is None
    assert admin.check_connection().startswith("server PostgreSQL 15")


def test_a_wrong_password_names_the_source_and_never_the_password(postgresql_server):
    admin = AdminPlugins().source_admin(target(postgresql_server, password="not-the-password"))
    with pytest.raises(
        ConfigError, match=r"cannot connect to source pg \(127\.0\.0\.1:\d+, database \w+\)"
    ) as exc:
        admin.check_connection()
    assert "not-the-password" not in str(exc.value)
    with pytest.raises(ConfigError, match="no binlog position"):
        admin.position_at(0.0)
