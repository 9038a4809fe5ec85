"""The config store's migrations: one head, and upgrade creates every model's table exactly."""

from __future__ import annotations

import pytest

pytest.importorskip("alembic")

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from otter_manager import migrate
from otter_manager.store import Base, make_engine


def test_migrations_have_a_single_head():
    assert len(migrate.heads()) == 1, f"two migration branches: {migrate.heads()}; chain them (down_revision)"


def test_upgrade_on_empty_sqlite_creates_every_table_as_the_models_say(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate.upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == [], f"models and migrations differ: add a migration for {differences}"
    migrate.upgrade(engine)  # a second upgrade is a no-op
    engine.dispose()
