"""Dynamic hooks through the manager: an ADMIN pushes Python source (validated, versioned, never run by the
manager), an OPERATOR may only read; a running channel swaps to the version activated here between batches."""

from __future__ import annotations

import pytest
import yaml
from ops_steps import PAIRS, fast_collector, insert, stop_channels, wait_for  # noqa: F401  -- pytest fixtures, used by parameter name

from otter_core.testing.harness import pipeline_yaml

NAME = "note-mark"
MARK = """import attrs


def process(event):
    if event.columns.get("note") is not None:
        return attrs.evolve(event, columns={**event.columns, "note": "%s"})
    return event
"""


@pytest.fixture(autouse=True)
def no_store_env(monkeypatch):
    monkeypatch.delenv("OTTER_DYNAMIC_STORE", raising=False)


def test_an_admin_pushes_and_activates_versions_an_operator_reads_them(admin, operator):
    first = admin.post(
        f"/api/dynamic/{NAME}", json={"source": MARK % "v1", "comment": "first", "activate": True}
    )
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1 and first.json()["author"] == "admin" and first.json()["active"]
    second = admin.post(f"/api/dynamic/{NAME}", json={"source": MARK % "v2", "comment": "second"})
    assert second.status_code == 201 and second.json()["version"] == 2 and not second.json()["active"]

    view = operator.get(f"/api/dynamic/{NAME}").json()
    assert view["active"] == 1 and [v["comment"] for v in view["versions"]] == ["first", "second"]
    assert view["kind"] == "processor" and len(view["versions"][1]["sha256"]) == 64
    assert operator.get(f"/api/dynamic/{NAME}/versions/2").text == MARK % "v2"
    assert [h["name"] for h in operator.get("/api/dynamic").json()] == [NAME]

    assert operator.post(f"/api/dynamic/{NAME}", json={"source": MARK % "v3"}).status_code == 403
    assert operator.post(f"/api/dynamic/{NAME}/activate", json={"version": 2}).status_code == 403
    assert admin.post(f"/api/dynamic/{NAME}/activate", json={"version": 2}).json()["active"] == 2
    actions = [(e["action"], e["object"]) for e in admin.get("/api/audit").json()]
    assert ("push dynamic", "dynamic note-mark") in actions and (
        "activate dynamic",
        "dynamic note-mark",
    ) in actions


def test_bad_source_names_and_versions_get_clear_errors(admin, anonymous):
    broken = admin.post(
        "/api/dynamic/broken", json={"source": "import attrs\n\ndef process(event)\n    return event\n"}
    )
    assert broken.status_code == 422
    [problem] = broken.json()["detail"]
    assert problem["loc"] == ["body", "source"] and problem["msg"].startswith("line 3: syntax error")
    no_hook = admin.post("/api/dynamic/broken", json={"source": "x = 1\n"})
    assert no_hook.status_code == 422 and "process" in no_hook.json()["detail"][0]["msg"]
    assert admin.get("/api/dynamic/broken").status_code == 404, "nothing is stored for a text that failed"
    bad_name = admin.post("/api/dynamic/..%2F..", json={"source": MARK % "v1"})
    assert bad_name.status_code in (404, 422)
    bad_name = admin.post("/api/dynamic/-dash", json={"source": MARK % "v1"})
    assert bad_name.status_code == 422 and bad_name.json()["detail"][0]["loc"] == ["body", "name"]
    bad_kind = admin.post("/api/dynamic/k", json={"source": MARK % "v1", "kind": "loader"})
    assert bad_kind.status_code == 422 and bad_kind.json()["detail"][0]["loc"] == ["body", "kind"]
    assert admin.post("/api/dynamic/k", json={"source": ""}).status_code == 422
    admin.post("/api/dynamic/k", json={"source": MARK % "v1"})
    missing = admin.post("/api/dynamic/k/activate", json={"version": 7})
    assert missing.status_code == 404 and "7" in missing.json()["detail"]
    assert admin.post("/api/dynamic/k/activate", json={"version": "one"}).status_code == 422
    assert admin.get("/api/dynamic/k/versions/9").status_code == 404
    assert anonymous.get("/api/dynamic").status_code == 401


@pytest.mark.usefixtures("clean_databases", "fast_collector", "stop_channels")
def test_a_running_channel_swaps_to_the_version_activated_in_the_manager(
    admin, operator, mariadb_source, mariadb_target
):
    store = admin.post(f"/api/dynamic/{NAME}", json={"source": MARK % "v1", "activate": True})
    assert store.status_code == 201
    store_dir = admin.get(f"/api/dynamic/{NAME}").json()["store"]
    for server in (mariadb_source, mariadb_target):
        server.execute(
            "CREATE DATABASE shop", "CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(50))"
        )
    file, pos = mariadb_source.binlog_position()
    pairs = [
        {
            **PAIRS[0],
            "processors": ["dynamic"],
            "processor_options": {"dynamic": {"name": NAME, "store": store_dir}},
        }
    ]
    text = pipeline_yaml(
        mariadb_source, mariadb_target, pairs, start={"file": file, "pos": pos}, channel="shop"
    )
    assert (
        admin.post("/api/config/import", content=text, headers={"Content-Type": "text/plain"}).status_code
        == 200
    )
    channel_id = next(c["id"] for c in admin.get("/api/channels").json() if c["name"] == "shop")
    assert operator.post(f"/api/channels/{channel_id}/start").status_code == 200

    def notes():
        return dict(mariadb_target.execute("SELECT id, note FROM shop.orders"))

    insert(mariadb_source, range(1, 6))
    wait_for(lambda: len(notes()) == 5, "the first rows")
    assert set(notes().values()) == {"v1"}
    assert (
        admin.post(f"/api/dynamic/{NAME}", json={"source": MARK % "v2", "activate": True}).json()["version"]
        == 2
    )
    insert(mariadb_source, range(6, 11))
    wait_for(lambda: len(notes()) == 10, "the rows after the swap")
    after = notes()
    assert {after[i] for i in range(1, 6)} == {"v1"} and {after[i] for i in range(6, 11)} == {"v2"}
    loaded = wait_for(lambda: admin.get(f"/api/dynamic/{NAME}").json()["loaded"], "the pipeline's report")
    assert loaded["version"] == 2 and loaded["error"] is None
    assert yaml.safe_load(admin.get("/api/config/export").text)["channels"][0]["pipelines"][0]["pairs"][0][
        "processors"
    ] == ["dynamic"]
