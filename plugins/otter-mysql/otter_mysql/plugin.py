"""pluggy hook implementations of otter-mysql: the binlog selector, the MySQL loader, readers, the
administration of a source (init-db, position by time) and the conflict log."""

from __future__ import annotations

from typing import Any

from otter_core.spi import DataMediaSource, Pipeline, hookimpl

NAMES = ("mysql", "mariadb")


@hookimpl
def otter_selector(name: str, source: DataMediaSource, pipeline: Pipeline) -> Any:
    """A ``MySQLSelector`` for sources of type mysql/mariadb."""
    if name not in NAMES:
        return None
    from otter_mysql.selector import MySQLSelector

    return MySQLSelector(source, pipeline)


@hookimpl
def otter_loader(name: str, target: DataMediaSource, pipeline: Pipeline) -> Any:
    """A ``MySQLLoader`` for targets of type mysql/mariadb."""
    if name not in NAMES:
        return None
    from otter_mysql.loader import MySQLLoader

    return MySQLLoader(target, pipeline)


@hookimpl
def otter_row_reader(name: str, source: DataMediaSource, pipeline: Pipeline) -> Any:
    """A ``MySQLRowReader`` (back-query by key) for sources of type mysql/mariadb."""
    if name not in NAMES:
        return None
    from otter_mysql.row_reader import MySQLRowReader

    return MySQLRowReader(source)


@hookimpl
def otter_table_reader(name: str, source: DataMediaSource, pipeline: Pipeline) -> Any:
    """A ``MySQLTableReader`` (snapshot chunks, watermarks, checksums, resync) for mysql/mariadb."""
    if name not in NAMES:
        return None
    from otter_mysql.table_reader import MySQLTableReader

    return MySQLTableReader(source)


@hookimpl
def otter_source_admin(name: str, source: DataMediaSource) -> Any:
    """A ``MySQLSourceAdmin`` (init-db, position by time, connection check) for mysql/mariadb."""
    if name not in NAMES:
        return None
    from otter_mysql.admin import MySQLSourceAdmin

    return MySQLSourceAdmin(source)


@hookimpl
def otter_conflict_store(name: str, target: DataMediaSource) -> Any:
    """The conflict log ``retl.retl_conflict`` of a mysql/mariadb target, opened."""
    if name not in NAMES:
        return None
    from otter_mysql.conflict_store import MySQLConflictStore

    return MySQLConflictStore(target)
