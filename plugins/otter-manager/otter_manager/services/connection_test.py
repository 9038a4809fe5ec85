"""The "test connection" of a data source: connect, ask the server's version, disconnect."""

from __future__ import annotations

import os

from otter_manager.store import DataSource


def _password(source: DataSource) -> str:
    if source.password_env:
        return os.environ.get(source.password_env, "")
    return source.password or ""


def try_connect(source: DataSource, timeout: float = 5.0) -> tuple[bool, str]:
    """``(ok, message)``; the message names the server and the error, never the password."""
    where = f"{source.type} {source.host}:{source.port} as {source.user!r}"
    if source.type in ("mysql", "mariadb"):
        return _try_mysql(source, where, timeout)
    if source.type in ("postgresql", "postgres"):
        return _try_postgresql(source, where, timeout)
    return False, f"no connection test for type {source.type!r} (mysql, mariadb and postgresql have one)"


def _try_mysql(source: DataSource, where: str, timeout: float) -> tuple[bool, str]:
    import pymysql

    from otter_core import mysql_connect

    try:
        conn = mysql_connect.connect(
            host=source.host,
            port=int(source.port),
            user=source.user,
            password=_password(source),
            connect_timeout=max(1, int(timeout)),
            read_timeout=max(1, int(timeout)),
            charset="utf8mb4",
        )
    except pymysql.Error as exc:
        return False, f"cannot connect to {where}: {exc.args[-1] if exc.args else exc}"
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT VERSION()")
            row = cursor.fetchone()
            version = row[0] if row else "of unknown version"
    finally:
        conn.close()
    return True, f"connected to {where}: server {version}"


def _try_postgresql(source: DataSource, where: str, timeout: float) -> tuple[bool, str]:
    try:
        import psycopg
    except ImportError:
        return False, "the postgresql test needs psycopg (pip install otter-postgresql)"
    try:
        with psycopg.connect(
            host=source.host,
            port=int(source.port),
            user=source.user,
            password=_password(source),
            dbname=str((source.options or {}).get("database", "postgres")),
            connect_timeout=max(1, int(timeout)),
        ) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            version = row[0] if row else "of unknown version"
    except psycopg.Error as exc:
        return False, f"cannot connect to {where}: {str(exc).strip()}"
    return True, f"connected to {where}: server PostgreSQL {version}"
