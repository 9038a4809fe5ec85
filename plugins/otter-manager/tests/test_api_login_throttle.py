"""Failed-login throttling: wrong passwords past the limit answer 429 with Retry-After, on the API and the page."""

from __future__ import annotations

import re

from manager_support import ADMIN_PASSWORD

from otter_manager.login_throttle import LoginThrottle


def wrong(client, username="admin"):
    return client.post("/api/login", json={"username": username, "password": "not-the-password"})


def test_five_wrong_passwords_for_a_user_lock_it_for_this_address(anonymous):
    assert [wrong(anonymous).status_code for _ in range(5)] == [401] * 5
    locked = anonymous.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert locked.status_code == 429  # even the right password waits: no oracle, no guessing on
    assert 0 < int(locked.headers["Retry-After"]) <= 300
    assert "too many failed logins for 'admin'" in locked.json()["detail"]
    other = anonymous.post("/api/login", json={"username": "oper", "password": "wrong"})
    assert other.status_code == 401  # another account is still answered


def test_a_successful_login_clears_the_count(anonymous):
    for _ in range(4):
        assert wrong(anonymous).status_code == 401
    assert (
        anonymous.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD}).status_code
        == 200
    )
    assert [wrong(anonymous).status_code for _ in range(5)] == [401] * 5
    assert wrong(anonymous).status_code == 429


def test_names_sprayed_from_one_address_are_throttled_too(anonymous):
    codes = [wrong(anonymous, f"user{i}").status_code for i in range(21)]
    assert codes == [401] * 20 + [429]


def test_the_login_page_answers_429_with_the_reason(anonymous):
    for _ in range(5):
        wrong(anonymous)
    page = anonymous.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = anonymous.post(
        "/login",
        data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 429
    assert "too many failed logins for" in response.text


def test_the_lock_ends_with_the_window():
    now = [1000.0]
    throttle = LoginThrottle(per_user=2, per_address=10, window=60, clock=lambda: now[0])
    throttle.failed("10.0.0.1", "Admin")
    now[0] += 30
    throttle.failed("10.0.0.1", "admin")  # user names compare case-insensitively
    assert throttle.wait_seconds("10.0.0.1", "admin") == 30  # the first failure leaves the window at 1060
    assert throttle.wait_seconds("10.0.0.2", "admin") == 0  # another address is not affected
    now[0] += 30
    assert throttle.wait_seconds("10.0.0.1", "admin") == 0  # the first failure has left the window
    throttle.failed("10.0.0.1", "admin")
    assert throttle.wait_seconds("10.0.0.1", "admin") == 30  # locked again until the second one leaves


def test_counters_of_addresses_that_never_return_are_forgotten():
    """Guesses from ever new addresses (an IPv6 range) must not grow the throttle without bound."""
    now = [1000.0]
    throttle = LoginThrottle(per_user=5, per_address=20, window=60, clock=lambda: now[0])
    for i in range(500):
        assert throttle.attempt(f"2001:db8::{i:x}", f"user{i}") == 0  # counted as failed
    assert throttle.tracked() == 1000  # (address, user) and address counters
    now[0] += 61
    throttle.failed("10.0.0.1", "admin")  # the next count sweeps what left the window
    assert throttle.tracked() == 2
    now[0] += 55
    for _ in range(5):
        throttle.failed("10.0.0.1", "admin")  # 5 failures within the window: locked
    now[0] += 6  # the next sweep is due: it must keep the counters still in the window
    throttle.failed("10.0.0.9", "other")
    assert throttle.tracked() == 4
    assert throttle.wait_seconds("10.0.0.1", "admin") > 0
