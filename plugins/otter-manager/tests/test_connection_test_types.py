"""The connection test of a source whose type no installed plugin can administer: a stored source
outlives an uninstalled plugin (the API refuses unknown types only when a source is created)."""

from __future__ import annotations

from otter_manager.services.connection_test import try_connect
from otter_manager.store import DataSource


def _source(type_: str) -> DataSource:
    return DataSource(
        name="orphan", type=type_, host="127.0.0.1", port=1, user="app", password="s3cret-pw", options={}
    )


def test_a_type_without_plugin_names_the_type_and_hides_the_password() -> None:
    ok, message = try_connect(_source("nosuchdb"))
    assert ok is False
    assert message.startswith("no connection test for type 'nosuchdb'")
    assert "s3cret-pw" not in message


def test_a_loader_only_plugin_without_administration_says_so() -> None:
    ok, message = try_connect(_source("oracle"))
    assert ok is False
    assert message == ("no connection test for type 'oracle': its plugin offers no source administration")
