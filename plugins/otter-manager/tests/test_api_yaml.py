"""YAML import and export through the API: the same file ``otter-run run`` reads, round trips, errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from otter_core.config import load_config_text
from otter_manager.services.config_service import to_otter_config

DOCS = Path(__file__).parents[3] / "docs"
EXAMPLES = [
    (doc, i, block)
    for doc in ("configuration.md", "../README.md")
    for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", (DOCS / doc).read_text(), re.S))
]
TWO_WAY = """\
sources:
  east: {type: mysql, host: 10.0.0.1, user: otter, password: east-pw-1}
  west: {type: mysql, host: 10.0.0.2, port: 3307, user: otter, password: west-pw-1, options: {ssl: false}}
  cache: {type: redis, port: 6379}
channels:
  - name: orders
    pipelines:
      - name: east-to-west
        source: east
        target: west
        home: true
        start: {gtid: "0-1-100"}
        exclude: [shop.tmp_*]
        parameters: {batch_size: 1000, sync_mode: row}
        pairs:
          - shop.orders
          - {source: "shop.order_[1-4]", target: "shop.order_[1-4]", push_weight: 2, conflict: "newer_wins(updated_at)"}
          - {source: shop.items, target: shop.items, columns: {id: id, qty: {name: quantity, type: int}},
             column_groups: [[qty, price]], filter: "qty > 0", processors: [mask],
             processor_options: {mask: {columns: [email]}}}
      - name: west-to-east
        source: west
        target: east
        snapshot: {chunk_rows: 500, tables: [shop.orders]}
        pairs:
          - {source: shop.orders, target: shop.orders, conflict: home_wins}
          - {source: shop.items, target: "cache.items", target_source: cache}
"""


def import_yaml(client, text, filename="test.yaml"):
    return client.post(
        "/api/config/import",
        params={"filename": filename},
        content=text.encode(),
        headers={"content-type": "application/yaml"},
    )


def export(client, **params):
    response = client.get("/api/config/export", params=params)
    assert response.status_code == 200, response.text
    return response.text


@pytest.mark.parametrize("doc,index,block", EXAMPLES, ids=[f"{d}#{i}" for d, i, _ in EXAMPLES])
def test_examples_of_the_docs_import_and_export_to_the_same_config(
    admin, manager_app, monkeypatch, doc, index, block
):
    monkeypatch.setenv("DST_PASSWORD", "example")
    response = import_yaml(admin, block, f"{doc}#{index}")
    assert response.status_code == 200, response.text
    original = load_config_text(block, doc)
    assert response.json()["channels"] == [c.name for c in original.channels]
    with manager_app.state.db.session_scope() as session:
        for channel in original.channels:
            exported = to_otter_config(session, channel.name)
            assert exported.channels == (channel,)
            assert all(exported.sources[name] == original.sources[name] for name in exported.sources)


def test_export_import_export_gives_the_same_text(admin):
    assert import_yaml(admin, TWO_WAY).status_code == 200
    first = export(admin)
    assert import_yaml(admin, first, "export.yaml").status_code == 200
    assert export(admin) == first
    assert export(admin, channel="orders") == first  # the one channel uses all three sources


def test_export_never_shows_passwords_and_reimport_keeps_them(admin, manager_app):
    import_yaml(admin, TWO_WAY)
    text = export(admin)
    assert "east-pw-1" not in text and "west-pw-1" not in text
    assert "password_env: OTTER_PASSWORD_EAST" in text
    assert import_yaml(admin, text).status_code == 200
    with manager_app.state.db.session_scope() as session:
        config = to_otter_config(session, "orders")
    assert config.sources["east"].password == "east-pw-1" and config.sources["west"].password == "west-pw-1"
    assert "east-pw-1" not in admin.get("/api/audit").text


def test_imported_objects_show_in_the_config_api(admin):
    assert import_yaml(admin, TWO_WAY).json() == {
        "sources": ["cache", "east", "west"],
        "channels": ["orders"],
    }
    channel = admin.get("/api/channels").json()[0]
    assert channel["name"] == "orders" and channel["two_way"] is True
    pipelines = admin.get("/api/pipelines", params={"channel_id": channel["id"]}).json()
    assert [p["home"] for p in pipelines] == [True, False]
    pairs = admin.get("/api/pairs", params={"pipeline_id": pipelines[1]["id"]}).json()
    assert pairs[1]["target_source"] == "cache" and pairs[0]["conflict"] == "home_wins"


def test_a_file_run_would_refuse_is_422_with_file_line_and_key(admin):
    bad = TWO_WAY.replace("batch_size: 1000", "bach_size: 1000")
    response = import_yaml(admin, bad, "bad.yaml")
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert problem["loc"] == ["body", "yaml"]
    assert problem["msg"].startswith(
        "bad.yaml:14: channels[0].pipelines[0].parameters.bach_size: unknown key"
    )
    broken = import_yaml(admin, "sources: {a: [\n", "broken.yaml")
    assert broken.status_code == 422 and "broken.yaml" in broken.json()["detail"][0]["msg"]
    assert import_yaml(admin, "").status_code == 422


def test_unknown_plugin_in_a_file_is_422_naming_its_path(admin):
    response = import_yaml(admin, TWO_WAY.replace("mask", "masquerade"))
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert problem["loc"] == ["body", "channels[0].pipelines[0].pairs[2].processors[0]"]
    assert "unknown processor plugin 'masquerade'" in problem["msg"]
    source = import_yaml(admin, TWO_WAY.replace("type: redis", "type: memcache"))
    assert source.json()["detail"][0]["loc"] == ["body", "sources.cache.type"]


def test_import_is_all_or_nothing(admin):
    bad = TWO_WAY.replace("mask", "masquerade")
    import_yaml(admin, bad)
    assert admin.get("/api/sources").json() == [] and admin.get("/api/channels").json() == []


def test_import_replaces_a_channel_of_the_same_name(admin):
    import_yaml(admin, TWO_WAY)
    one_way = (
        TWO_WAY.split("      - name: west-to-east")[0]
        .replace("        home: true\n", "")
        .replace(', conflict: "newer_wins(updated_at)"', "")
    )
    assert import_yaml(admin, one_way).status_code == 200, import_yaml(admin, one_way).text
    channel = admin.get("/api/channels").json()[0]
    assert channel["two_way"] is False and len(admin.get("/api/pipelines").json()) == 1


def test_operator_may_export_but_not_import(admin, operator):
    import_yaml(admin, TWO_WAY)
    assert operator.get("/api/config/export").status_code == 200
    assert import_yaml(operator, TWO_WAY).status_code == 403


def test_export_of_an_unknown_or_incomplete_channel(admin):
    assert admin.get("/api/config/export").status_code == 409  # empty store
    import_yaml(admin, TWO_WAY)
    assert admin.get("/api/config/export", params={"channel": "nope"}).status_code == 404
    admin.post("/api/channels", json={"name": "draft"})
    response = admin.get("/api/config/export", params={"channel": "draft"})
    assert response.status_code == 409 and "no pipeline yet" in response.json()["detail"]
    assert export(admin).startswith("# not exported: channel 'draft' has no pipeline yet\n")
