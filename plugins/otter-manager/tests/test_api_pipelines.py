"""Config API: pipelines and pairs, their checks (same rules as the YAML) and the audit log."""

from __future__ import annotations

import pytest


@pytest.fixture
def shop(admin):
    """Sources src -> dst and an empty channel ``shop``: their ids."""
    src = admin.post(
        "/api/sources", json={"name": "src", "type": "mysql", "port": 3307, "password": "pw-src-1"}
    )
    dst = admin.post(
        "/api/sources", json={"name": "dst", "type": "mysql", "port": 3308, "password": "pw-dst-1"}
    )
    channel = admin.post("/api/channels", json={"name": "shop"})
    return {"src": src.json()["id"], "dst": dst.json()["id"], "channel": channel.json()["id"]}


def new_pipeline(admin, shop, **extra):
    body = {
        "channel_id": shop["channel"],
        "name": "forward",
        "source_id": shop["src"],
        "target_id": shop["dst"],
        **extra,
    }
    return admin.post("/api/pipelines", json=body)


def test_pipeline_with_pairs_by_name_and_by_media_id(admin, shop):
    created = new_pipeline(
        admin, shop, parameters={"batch_size": 500}, start={"file": "mysql-bin.000001", "pos": 4}
    )
    assert created.status_code == 201, created.text
    pipeline = created.json()
    assert pipeline["source"] == "src" and pipeline["parameters"] == {"batch_size": 500}
    by_name = admin.post(
        "/api/pairs",
        json={
            "pipeline_id": pipeline["id"],
            "source": "shop.orders",
            "target": "archive.orders",
            "push_weight": 3,
        },
    )
    assert by_name.status_code == 201, by_name.text
    assert by_name.json()["target_source"] == "dst" and by_name.json()["push_weight"] == 3
    media = admin.post(
        "/api/media", json={"source_id": shop["src"], "schema": "shop", "name": "items"}
    ).json()
    by_id = admin.post(
        "/api/pairs",
        json={
            "pipeline_id": pipeline["id"],
            "source_media_id": media["id"],
            "columns": {"id": "id", "qty": {"name": "quantity", "type": "int"}},
            "column_groups": [["qty", "price"]],
            "filter": "qty > 0",
        },
    )
    assert by_id.status_code == 201, by_id.text
    assert by_id.json()["target"] == "shop.items"
    assert admin.get(f"/api/pipelines/{pipeline['id']}").json()["pair_ids"] == [
        by_name.json()["id"],
        by_id.json()["id"],
    ]
    assert [p["id"] for p in admin.get("/api/pairs", params={"pipeline_id": pipeline["id"]}).json()] == [
        by_name.json()["id"],
        by_id.json()["id"],
    ]


def test_pipeline_parameters_are_checked_like_the_yaml(admin, shop):
    typo = new_pipeline(admin, shop, parameters={"bach_size": 10})
    assert typo.status_code == 422
    problem = typo.json()["detail"][0]
    assert (
        problem["loc"] == ["body", "parameters.bach_size"] and "did you mean 'batch_size'" in problem["msg"]
    )
    bad_start = new_pipeline(admin, shop, start={"file": "mysql-bin.000001", "pos": 1})
    assert bad_start.status_code == 422 and bad_start.json()["detail"][0]["loc"] == ["body", "start.pos"]
    assert admin.get("/api/pipelines").json() == []


def test_unknown_plugin_names_are_422_listing_the_installed_ones(admin, shop):
    pipe = new_pipeline(admin, shop, pipe="carrier-pigeon")
    assert pipe.status_code == 422
    assert pipe.json()["detail"][0]["loc"] == ["body", "pipe"]
    assert (
        "'carrier-pigeon'" in pipe.json()["detail"][0]["msg"] and "memory" in pipe.json()["detail"][0]["msg"]
    )
    pipeline_id = new_pipeline(admin, shop).json()["id"]
    processor = admin.post(
        "/api/pairs", json={"pipeline_id": pipeline_id, "source": "shop.a", "processors": ["nope"]}
    )
    assert processor.status_code == 422
    assert processor.json()["detail"][0]["loc"] == ["body", "processors[0]"]
    assert "unknown processor plugin 'nope'" in processor.json()["detail"][0]["msg"]
    resolver = admin.post(
        "/api/pairs",
        json={
            "pipeline_id": pipeline_id,
            "source": "shop.a",
            "file_resolver": {"name": "nope", "options": {}},
        },
    )
    assert resolver.status_code == 422 and resolver.json()["detail"][0]["loc"] == ["body", "file_resolver"]


def test_pair_refuses_media_of_another_source_and_bad_values(admin, shop):
    pipeline_id = new_pipeline(admin, shop).json()["id"]
    foreign = admin.post("/api/media", json={"source_id": shop["dst"], "schema": "shop", "name": "x"}).json()
    wrong_side = admin.post("/api/pairs", json={"pipeline_id": pipeline_id, "source_media_id": foreign["id"]})
    assert wrong_side.status_code == 422
    assert "is on source 'dst'" in wrong_side.json()["detail"][0]["msg"]
    conflict = admin.post(
        "/api/pairs", json={"pipeline_id": pipeline_id, "source": "shop.a", "conflict": "coin"}
    )
    assert conflict.status_code == 422 and conflict.json()["detail"][0]["loc"] == ["body", "conflict"]
    no_source = admin.post("/api/pairs", json={"pipeline_id": pipeline_id})
    assert no_source.status_code == 422 and no_source.json()["detail"][0]["loc"] == [
        "body",
        "source_media_id",
    ]
    missing_pipeline = admin.post("/api/pairs", json={"pipeline_id": 4040, "source": "shop.a"})
    assert missing_pipeline.json()["detail"][0]["msg"] == "no pipeline with id 4040"
    assert admin.get("/api/pairs").json() == []


def test_a_complete_channel_is_checked_as_a_whole(admin, shop):
    pipeline_id = new_pipeline(admin, shop, home=True).json()["id"]
    response = admin.post("/api/pairs", json={"pipeline_id": pipeline_id, "source": "shop.a"})
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert (
        problem["loc"] == ["body", "channel"] and "home: true goes on exactly one pipeline" in problem["msg"]
    )
    assert admin.get("/api/pairs").json() == [] and admin.get("/api/media").json() == []


def test_a_channel_has_at_most_two_pipelines_with_distinct_names(admin, shop):
    assert new_pipeline(admin, shop).status_code == 201
    assert new_pipeline(admin, shop).status_code == 409
    assert (
        new_pipeline(admin, shop, name="back", source_id=shop["dst"], target_id=shop["src"]).status_code
        == 201
    )
    third = new_pipeline(admin, shop, name="third")
    assert third.status_code == 422 and "two pipelines already" in third.json()["detail"][0]["msg"]


def test_update_and_delete_pairs_and_pipelines(admin, shop):
    pipeline_id = new_pipeline(admin, shop).json()["id"]
    pair_id = admin.post("/api/pairs", json={"pipeline_id": pipeline_id, "source": "shop.a"}).json()["id"]
    updated = admin.patch(f"/api/pairs/{pair_id}", json={"target": "copy.a", "push_weight": 9})
    assert updated.status_code == 200, updated.text
    assert updated.json()["target"] == "copy.a" and updated.json()["push_weight"] == 9
    assert admin.patch(f"/api/pairs/{pair_id}", json={"push_weight": "heavy"}).status_code == 422
    renamed = admin.patch(f"/api/pipelines/{pipeline_id}", json={"name": "renamed", "pipe": "memory"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "renamed"
    assert admin.delete(f"/api/sources/{shop['src']}").status_code == 409
    assert admin.delete(f"/api/pairs/{pair_id}").status_code == 204
    assert admin.get(f"/api/pairs/{pair_id}").status_code == 404
    assert admin.delete(f"/api/pipelines/{pipeline_id}").status_code == 204
    assert admin.get(f"/api/pipelines/{pipeline_id}").json() == {
        "detail": f"pipeline {pipeline_id} does not exist"
    }


def test_operator_may_not_change_pipelines_or_pairs(admin, operator, shop):
    pipeline_id = new_pipeline(admin, shop).json()["id"]
    assert operator.get(f"/api/pipelines/{pipeline_id}").status_code == 200
    assert operator.patch(f"/api/pipelines/{pipeline_id}", json={"name": "x"}).status_code == 403
    assert (
        operator.post("/api/pairs", json={"pipeline_id": pipeline_id, "source": "shop.a"}).status_code == 403
    )
    assert operator.post("/api/sources", json={"name": "s", "type": "mysql"}).status_code == 403
    assert (
        operator.post("/api/media", json={"source_id": shop["src"], "schema": "a", "name": "b"}).status_code
        == 403
    )
    assert admin.get(f"/api/pipelines/{pipeline_id}").json()["name"] == "forward"


def test_every_change_is_audited_with_secrets_masked(admin, shop):
    new_pipeline(admin, shop)
    admin.patch(f"/api/sources/{shop['src']}", json={"password": "new-secret-9"})
    entries = admin.get("/api/audit").json()
    assert [(e["action"], e["object"]) for e in entries[:3]] == [
        ("update", "source src"),
        ("create", "pipeline shop/forward"),
        ("create", "channel shop"),
    ]
    assert entries[0]["username"] == "admin" and entries[0]["detail"] == {"password": "****"}
    text = admin.get("/api/audit", params={"limit": 1000}).text
    assert "new-secret-9" not in text and "pw-src-1" not in text
    assert len(admin.get("/api/audit", params={"object": "source"}).json()) == 3
