"""Alembic environment of the manager's config store.

Run by ``otter_manager.migrate.upgrade`` (the app does so at start); the connection comes from
``config.attributes["connection"]`` or is made from ``sqlalchemy.url``. SQLite needs batch mode for ALTERs.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

import otter_manager.store.models  # noqa: F401  -- imported to register the tables
from otter_manager.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as connection:
        _run(connection)


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
