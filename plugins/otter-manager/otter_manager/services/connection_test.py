"""The "test connection" of a data source: its plugin connects, asks the server's version and disconnects
(hook ``otter_source_admin``, ``check_connection``), so the manager holds no database driver of its own."""

from __future__ import annotations

import os

from otter_core.plugins import AdminPlugins
from otter_core.spi import DataMediaSource, OtterError, PluginNotFound
from otter_manager.store import DataSource


def _password(source: DataSource) -> str:
    if source.password_env:
        return os.environ.get(source.password_env, "")
    return source.password or ""


def try_connect(source: DataSource) -> tuple[bool, str]:
    """``(ok, message)``; the message names the server and the error, never the password."""
    where = f"{source.type} {source.host}:{source.port} as {source.user!r}"
    media = DataMediaSource(
        name=source.name,
        type=source.type,
        host=source.host,
        port=int(source.port),
        user=source.user,
        password=_password(source),
        options=dict(source.options or {}),
    )
    try:
        admin = AdminPlugins().source_admin(media)
    except PluginNotFound as exc:
        return False, f"no connection test for type {source.type!r}: {exc}"
    if admin is None:
        return (
            False,
            f"no connection test for type {source.type!r}: its plugin offers no source administration",
        )
    try:
        return True, f"connected to {where}: {admin.check_connection()}"
    except OtterError as exc:
        return False, str(exc)
