"""Inputs that used to answer 500: each now gets a 4xx that says what was wrong."""

from __future__ import annotations

import pytest

BIG = 2**63


@pytest.mark.parametrize(
    "path",
    [
        f"/api/channels/{BIG}",
        f"/api/sources/{BIG}",
        f"/api/pipelines/{BIG}",
        f"/api/alarms/{BIG}",
        f"/api/audit?before_id={BIG}",
        f"/api/alarm-events?before_id={BIG}",
        f"/api/channels/{-BIG - 1}",
    ],
)
def test_an_id_beyond_64_bits_is_not_found_or_refused(admin, path):
    response = admin.get(path)
    assert response.status_code in (200, 404, 422), (path, response.status_code, response.text[:200])


def test_deleting_an_id_beyond_64_bits_is_404(admin):
    response = admin.delete(f"/api/users/{BIG}")
    assert response.status_code == 404
    assert str(BIG) in response.json()["detail"]


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", "42\n"])
def test_a_yaml_import_whose_top_level_is_not_a_mapping_is_422(admin, text):
    response = admin.post("/api/config/import", content=text, headers={"content-type": "application/yaml"})
    assert response.status_code == 422, response.text
    assert "mapping" in str(response.json()["detail"])


def test_a_non_ascii_csrf_token_is_403(admin):
    admin.headers.pop("X-CSRF-Token")
    token = "jeton-\u00e9t\u00e9".encode()  # as a client would send UTF-8
    response = admin.post("/api/channels", json={"name": "shop"}, headers={"X-CSRF-Token": token})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_a_non_ascii_bearer_token_for_metrics_is_401(anonymous):
    response = anonymous.get("/metrics", headers={"Authorization": "Bearer m\u00e9trique".encode()})
    assert response.status_code == 401


def test_an_empty_metrics_token_does_not_open_metrics_to_anyone(tmp_path):
    from fastapi.testclient import TestClient

    from otter_manager.app import create_app
    from otter_manager.settings import load_settings

    state = tmp_path / "state"
    state.mkdir()
    (state / "metrics.token").write_text("\n")
    app = create_app(load_settings(state))
    with TestClient(app) as client:
        for header in ("Bearer ", "Bearer", "bearer  "):
            response = client.get("/metrics", headers={"Authorization": header})
            assert response.status_code == 401, header
    app.state.db.dispose()
