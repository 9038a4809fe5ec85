"""Login throttling that holds under concurrency and behind a proxy: check and count in one step, and the
client address from X-Forwarded-For only when the peer is a trusted proxy (``--forwarded-allow-ips``)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from manager_support import ADMIN_PASSWORD, OPERATOR_PASSWORD

from otter_manager.app import create_app
from otter_manager.security import set_user
from otter_manager.settings import load_settings


def test_twelve_concurrent_wrong_passwords_meet_the_limit_of_five(manager_app, anonymous):
    start = threading.Barrier(12)
    codes: list[int] = []

    def guess(n: int) -> None:
        client = TestClient(manager_app)
        start.wait()
        response = client.post("/api/login", json={"username": "admin", "password": f"guess-{n}"})
        codes.append(response.status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(codes) == {401: 5, 429: 7}


@pytest.fixture
def behind_proxy(tmp_path):
    """The manager with the test client's peer ("testclient") as its trusted proxy."""
    app = create_app(load_settings(tmp_path / "state", forwarded_allow_ips=("testclient",)))
    with app.state.db.session_scope() as session:
        set_user(session, "admin", ADMIN_PASSWORD, "ADMIN")
        set_user(session, "oper", OPERATOR_PASSWORD, "OPERATOR")
    with TestClient(app) as client:
        yield client
    app.state.db.dispose()


def login_from(client: TestClient, address: str, username: str, password: str, claimed: str = "") -> int:
    """A login through the proxy from ``address``; ``claimed``: an X-Forwarded-For the client made up
    itself (the proxy appends the real address after it)."""
    forwarded = f"{claimed}, {address}" if claimed else address
    response = client.post(
        "/api/login",
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": forwarded},
    )
    return response.status_code


def test_twenty_failures_from_one_client_do_not_lock_out_the_others(behind_proxy):
    codes = [
        login_from(behind_proxy, "203.0.113.5", f"user{i}", "wrong-pw", claimed=f"192.0.2.{i}")
        for i in range(21)
    ]
    assert codes == [401] * 20 + [429]
    assert login_from(behind_proxy, "198.51.100.7", "admin", ADMIN_PASSWORD) == 200
    assert login_from(behind_proxy, "198.51.100.8", "oper", OPERATOR_PASSWORD) == 200
    assert login_from(behind_proxy, "203.0.113.5", "admin", ADMIN_PASSWORD) == 429  # the guesser waits


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(anonymous):
    """Without --forwarded-allow-ips a client cannot pick a new address per guess."""
    codes = [login_from(anonymous, f"192.0.2.{i}", "admin", "wrong-pw") for i in range(6)]
    assert codes == [401] * 5 + [429]


def test_the_session_cookie_is_secure_behind_a_trusted_https_proxy(behind_proxy, anonymous):
    body = {"username": "admin", "password": ADMIN_PASSWORD}
    https = behind_proxy.post("/api/login", json=body, headers={"X-Forwarded-Proto": "https"})
    assert https.status_code == 200 and "; secure" in https.headers["set-cookie"].lower()
    plain = behind_proxy.post("/api/login", json=body)
    assert "secure" not in plain.headers["set-cookie"].lower()
    spoofed = anonymous.post("/api/login", json=body, headers={"X-Forwarded-Proto": "https"})
    assert "secure" not in spoofed.headers["set-cookie"].lower()  # an untrusted peer's claim


def test_the_session_cookie_is_secure_when_served_over_https(manager_app):
    with TestClient(manager_app, base_url="https://manager.example") as client:
        response = client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert response.status_code == 200 and "; secure" in response.headers["set-cookie"].lower()


def test_forwarded_allow_ips_names_the_bad_entry():
    from otter_manager.http_guard import parse_allow_ips

    assert parse_allow_ips("10.0.0.1, 192.168.0.0/16,*") == ("10.0.0.1", "192.168.0.0/16", "*")
    with pytest.raises(ValueError, match="'proxy.local'"):
        parse_allow_ips("10.0.0.1,proxy.local")
