"""The config store on a real MariaDB (``--db mysql+pymysql://…``) and the connection test of a source
against a real server."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from manager_support import ADMIN_PASSWORD, login
from test_api_yaml import TWO_WAY, export, import_yaml

from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER
from otter_manager.app import create_app
from otter_manager.security import set_user
from otter_manager.settings import load_settings
from otter_manager.store import Base

STORE = "otter_manager_store_test"


@pytest.fixture
def mariadb_app(mariadb_target, tmp_path):
    mariadb_target.execute(f"DROP DATABASE IF EXISTS `{STORE}`", f"CREATE DATABASE `{STORE}`")
    url = f"mysql+pymysql://{OTTER_USER}:{OTTER_PASSWORD}@127.0.0.1:{mariadb_target.port}/{STORE}?charset=utf8mb4"
    app = create_app(load_settings(tmp_path / "state", db_url=url))
    with app.state.db.session_scope() as session:
        set_user(session, "admin", ADMIN_PASSWORD, "ADMIN")
    yield app
    app.state.db.dispose()
    mariadb_target.execute(f"DROP DATABASE IF EXISTS `{STORE}`")


def test_migrations_build_the_models_tables_on_mariadb(mariadb_app):
    with mariadb_app.state.db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == [], f"models and migrations differ on MariaDB: {differences}"


def test_config_round_trip_through_a_mariadb_store(mariadb_app):
    with TestClient(mariadb_app) as client:
        admin = login(client, "admin", ADMIN_PASSWORD)
        assert import_yaml(admin, TWO_WAY).status_code == 200
        first = export(admin)
        assert import_yaml(admin, first).status_code == 200
        assert export(admin) == first
        assert admin.post("/api/sources", json={"name": "east", "type": "mysql"}).status_code == 409


def test_connection_test_reaches_a_real_server_and_reports_a_wrong_password(admin, mariadb_source):
    good = admin.post("/api/sources", json={**mariadb_source.source_config("x"), "name": "real"}).json()
    result = admin.post(f"/api/sources/{good['id']}/test").json()
    assert result["ok"] is True and "MariaDB" in result["message"], result
    bad = admin.post(
        "/api/sources",
        json={**mariadb_source.source_config("x"), "name": "wrong", "password": "not-the-password"},
    ).json()
    failed = admin.post(f"/api/sources/{bad['id']}/test").json()
    assert failed["ok"] is False and "Access denied" in failed["message"]
    assert "not-the-password" not in failed["message"]
