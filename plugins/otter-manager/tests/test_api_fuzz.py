"""Generated requests (schemathesis, from the app's own OpenAPI document) against the real manager app
in-process: no input may get a 5xx, and every answer must fit the documented schema.

Bounded: a fixed seed (hypothesis ``derandomize``) and ``FUZZ_EXAMPLES`` examples per operation, so the
run is the same each time and takes a few minutes at most. Requests go in as a logged-in ADMIN (with the
CSRF token) so they reach the handlers, not only the login check; a request that ends the session (a
password or role change of the admin, logout) is followed by a fresh login.
"""

from __future__ import annotations

import os

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="pip install schemathesis (otter-core[test])")

from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from manager_support import ADMIN_PASSWORD  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
)

from otter_manager.app import create_app  # noqa: E402
from otter_manager.login_throttle import LoginThrottle  # noqa: E402
from otter_manager.security import set_user  # noqa: E402
from otter_manager.settings import load_settings  # noqa: E402

FUZZ_EXAMPLES = int(os.environ.get("OTTER_FUZZ_EXAMPLES", "60"))
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
# Starting a channel spawns an otter-run process per request: the control routes are covered by their
# own tests; here they would only fill the machine with children.
SKIPPED = {("POST", "/api/channels/{channel_id}/start"), ("POST", "/api/channels/{channel_id}/restart")}


class AdminSession:
    """The ADMIN's cookie and CSRF token, renewed when a generated request ended the session."""

    def __init__(self, app) -> None:
        self.app = app
        self.client = TestClient(app)
        self.renew()

    def renew(self) -> None:
        with self.app.state.db.session_scope() as db:
            set_user(db, "admin", ADMIN_PASSWORD, "ADMIN")  # a generated PATCH may have changed it
        self.app.state.login_throttle = LoginThrottle()  # generated logins may have locked the admin out
        self.client.cookies.clear()
        answer = self.client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert answer.status_code == 200, answer.text
        self.csrf = answer.json()["csrf_token"]

    def alive(self) -> bool:
        return self.client.get("/api/whoami").status_code == 200


@pytest.fixture
def fuzz_app(tmp_path):
    app = create_app(load_settings(tmp_path / "state"))
    with TestClient(app):  # the lifespan (runtime, collector) runs as in production
        yield app
    app.state.db.dispose()


def test_generated_requests_get_no_server_error_and_fit_the_schema(fuzz_app, capsys):
    admin = AdminSession(fuzz_app)
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    counts = {"requests": 0, "server_errors": 0, "operations": 0}
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        counts["operations"] += 1

        @settings(
            max_examples=FUZZ_EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case) -> None:
            headers = {"X-CSRF-Token": admin.csrf, **(case.headers or {})}
            cookies = {"otter_manager": admin.client.cookies.get("otter_manager")}
            response = case.call(headers=headers, cookies=cookies)
            counts["requests"] += 1
            counts["server_errors"] += response.status_code >= 500
            case.validate_response(response, checks=CHECKS, headers=headers)
            if response.status_code == 401 or not admin.alive():
                admin.renew()

        check()
    with capsys.disabled():
        print(
            f"\nfuzz: {counts['requests']} requests over {counts['operations']} operations, "
            f"{counts['server_errors']} server errors"
        )
    assert counts["server_errors"] == 0
    assert counts["requests"] >= counts["operations"] >= 50, counts  # the run did cover the API
