"""Administration of a PostgreSQL target outside a running pipeline (hook ``otter_source_admin``): the
connection check of the manager's "test connection". PostgreSQL is a target only, so it has no binlog
position and needs no system tables beyond those its loader creates on first use."""

from __future__ import annotations

from otter_core.spi import ConfigError, DataMediaSource, Position


class PostgreSQLSourceAdmin:
    """Each call opens one connection as the source's user and closes it."""

    def __init__(self, source: DataMediaSource) -> None:
        self.source = source
        self.database = str((source.options or {}).get("database", "postgres"))
        self.label = f"source {source.name} ({source.host}:{source.port}, database {self.database})"

    def check_connection(self) -> str:
        import psycopg

        source = self.source
        try:
            with psycopg.connect(
                host=source.host,
                port=int(source.port),
                user=source.user,
                password=source.password,
                dbname=self.database,
                connect_timeout=int((source.options or {}).get("connect_timeout", 10)),
            ) as conn:
                row = conn.execute("SHOW server_version").fetchone()
        except psycopg.Error as exc:
            raise ConfigError(
                f"cannot connect to {self.label} as {source.user!r}: {str(exc).strip()}"
            ) from None
        return f"server PostgreSQL {row[0] if row else 'of unknown version'}"

    def init_db(self) -> None:
        return None  # the loader creates retl.retl_fence itself when it first fences

    def position_at(self, when: float) -> Position:
        raise ConfigError(f"{self.label} is a PostgreSQL target: it has no binlog position to start from")
