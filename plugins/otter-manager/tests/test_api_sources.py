"""Config API: data sources and data media, including bad input and password masking."""

from __future__ import annotations

SOURCE = {
    "name": "src",
    "type": "mysql",
    "host": "127.0.0.1",
    "port": 3307,
    "user": "otter",
    "password": "s3cret-pw",
}


def test_create_source_returns_it_without_the_password(admin):
    response = admin.post("/api/sources", json=SOURCE)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "src" and body["port"] == 3307 and body["password_set"] is True
    assert "s3cret-pw" not in response.text and "password" not in body
    listed = admin.get("/api/sources")
    assert [s["name"] for s in listed.json()] == ["src"] and "s3cret-pw" not in listed.text
    assert "s3cret-pw" not in admin.get(f"/api/sources/{body['id']}").text


def test_update_keeps_the_password_unless_one_is_sent(admin, manager_app):
    source_id = admin.post("/api/sources", json=SOURCE).json()["id"]
    assert admin.patch(f"/api/sources/{source_id}", json={"port": 3310}).json()["password_set"] is True
    from otter_manager.store import DataSource

    with manager_app.state.db.session_scope() as session:
        assert session.get(DataSource, source_id).password == "s3cret-pw"
    cleared = admin.patch(f"/api/sources/{source_id}", json={"password": ""}).json()
    assert cleared["password_set"] is False and cleared["port"] == 3310


def test_unknown_source_type_is_422_naming_it_and_the_installed_ones(admin):
    response = admin.post("/api/sources", json={**SOURCE, "type": "mongo"})
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert problem["loc"] == ["body", "type"]
    assert "'mongo'" in problem["msg"] and "mysql" in problem["msg"]


def test_missing_field_and_wrong_type_are_422_naming_the_field(admin):
    missing = admin.post("/api/sources", json={"type": "mysql"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "name"]
    port = admin.post("/api/sources", json={**SOURCE, "port": "three"})
    assert port.status_code == 422 and port.json()["detail"][0]["loc"] == ["body", "port"]
    out_of_range = admin.post("/api/sources", json={**SOURCE, "port": 70000})
    assert out_of_range.status_code == 422 and "1-65535" in out_of_range.json()["detail"][0]["msg"]
    unknown = admin.post("/api/sources", json={**SOURCE, "hots": "x"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "hots"]


def test_malformed_json_is_400_saying_where(admin):
    response = admin.post(
        "/api/sources", content=b'{"name": "src", ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("malformed JSON body")


def test_unknown_source_id_is_404_naming_the_id(admin):
    for response in (
        admin.get("/api/sources/999"),
        admin.patch("/api/sources/999", json={"port": 1}),
        admin.delete("/api/sources/999"),
        admin.post("/api/sources/999/test"),
    ):
        assert response.status_code == 404
        assert response.json()["detail"] == "source 999 does not exist"
    assert admin.get("/api/sources/abc").status_code == 422


def test_duplicate_source_name_is_409(admin):
    admin.post("/api/sources", json=SOURCE)
    response = admin.post("/api/sources", json=SOURCE)
    assert response.status_code == 409 and "'src'" in response.json()["detail"]


def test_connection_test_reports_the_error_without_the_password(admin):
    source_id = admin.post("/api/sources", json={**SOURCE, "port": 1}).json()["id"]
    body = admin.post(f"/api/sources/{source_id}/test").json()
    assert body["ok"] is False and "127.0.0.1:1" in body["message"]
    assert "s3cret-pw" not in str(body)


def test_media_belong_to_a_source_and_refuse_bad_references(admin):
    source_id = admin.post("/api/sources", json=SOURCE).json()["id"]
    created = admin.post("/api/media", json={"source_id": source_id, "schema": "shop", "name": "orders"})
    assert created.status_code == 201 and created.json()["full_name"] == "shop.orders"
    assert admin.get("/api/media", params={"source_id": source_id}).json()[0]["source"] == "src"
    bad_ref = admin.post("/api/media", json={"source_id": 77, "schema": "shop", "name": "x"})
    assert bad_ref.status_code == 422
    assert bad_ref.json()["detail"][0] == {
        "loc": ["body", "source_id"],
        "msg": "no source with id 77",
        "type": "value_error",
    }
    bad_regex = admin.post("/api/media", json={"source_id": source_id, "schema": "shop", "name": "/(/"})
    assert bad_regex.status_code == 422 and "regular expression" in bad_regex.json()["detail"][0]["msg"]
    assert admin.get("/api/media/555").status_code == 404


def test_deleting_an_unused_source_deletes_its_media(admin):
    source_id = admin.post("/api/sources", json=SOURCE).json()["id"]
    admin.post("/api/media", json={"source_id": source_id, "schema": "shop", "name": "orders"})
    assert admin.delete(f"/api/sources/{source_id}").status_code == 204
    assert admin.get("/api/media").json() == []


def test_media_update_and_delete(admin):
    source_id = admin.post("/api/sources", json=SOURCE).json()["id"]
    media_id = admin.post("/api/media", json={"source_id": source_id, "schema": "shop", "name": "a"}).json()[
        "id"
    ]
    renamed = admin.patch(f"/api/media/{media_id}", json={"name": "offer[1-32]"})
    assert renamed.status_code == 200 and renamed.json()["full_name"] == "shop.offer[1-32]"
    assert admin.patch(f"/api/media/{media_id}", json={"name": ""}).status_code == 422
    assert admin.delete(f"/api/media/{media_id}").status_code == 204
    assert admin.delete(f"/api/media/{media_id}").status_code == 404


def test_channel_get_rename_and_delete(admin):
    channel_id = admin.post(
        "/api/channels", json={"name": "shop", "description": "orders to the archive"}
    ).json()["id"]
    assert admin.get(f"/api/channels/{channel_id}").json()["description"] == "orders to the archive"
    renamed = admin.patch(f"/api/channels/{channel_id}", json={"name": "shop-eu"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "shop-eu"
    bad = admin.patch(f"/api/channels/{channel_id}", json={"name": "../etc"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "name"]
    assert admin.delete(f"/api/channels/{channel_id}").status_code == 204
    assert admin.get(f"/api/channels/{channel_id}").status_code == 404


def test_connection_test_of_a_postgresql_target_goes_through_its_plugin(admin, postgresql_server):
    config = {**postgresql_server.source_config(), "name": "pg"}
    good = admin.post("/api/sources", json=config).json()
    result = admin.post(f"/api/sources/{good['id']}/test").json()
    assert result["ok"] is True and "server PostgreSQL 15" in result["message"], result
    bad = admin.post(
        "/api/sources", json={**config, "name": "pg-wrong", "password": "not-the-password"}
    ).json()
    failed = admin.post(f"/api/sources/{bad['id']}/test").json()
    assert failed["ok"] is False and "password authentication failed" in failed["message"], failed
    assert "not-the-password" not in str(failed)
