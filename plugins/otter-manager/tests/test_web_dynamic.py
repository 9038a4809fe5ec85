"""The dynamic hooks pages: an ADMIN pushes a version in a form (a syntax error comes back with its line),
sees its versions and source, activates an older one; an OPERATOR reads but is refused both changes."""

from __future__ import annotations

import re

import pytest
from test_api_dynamic import MARK

NAME = "page-mark"


@pytest.fixture(autouse=True)
def no_store_env(monkeypatch):
    monkeypatch.delenv("OTTER_DYNAMIC_STORE", raising=False)


def token(client, path="/dynamic"):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def push(client, source, **extra):
    form = {
        "name": NAME,
        "kind": "processor",
        "comment": "",
        "source": source,
        "csrf_token": token(client),
        **extra,
    }
    return client.post("/dynamic", data=form, follow_redirects=False)


def test_an_admin_pushes_views_and_activates_versions_in_the_pages(admin):
    first = push(admin, MARK % "v1", comment="first", activate="1")
    assert first.status_code == 303 and first.headers["location"] == f"/dynamic/{NAME}"
    assert push(admin, MARK % "v2", comment="second").status_code == 303
    listing = admin.get("/dynamic")
    assert listing.status_code == 200 and f'href="/dynamic/{NAME}"' in listing.text
    hook = admin.get(f"/dynamic/{NAME}")
    assert re.search(r'data-testid="active-version">1<', hook.text)
    assert "v1" in re.search(r'data-testid="dynamic-source">(.*?)</pre>', hook.text, re.S).group(
        1
    )  # the active one
    assert "v2" in admin.get(f"/dynamic/{NAME}?version=2").text
    activated = admin.post(
        f"/dynamic/{NAME}/activate", data={"version": "2", "csrf_token": token(admin)}, follow_redirects=False
    )
    assert activated.status_code == 303
    assert re.search(r'data-testid="active-version">2<', admin.get(f"/dynamic/{NAME}").text)
    assert admin.get("/api/dynamic/" + NAME).json()["active"] == 2


def test_a_syntax_error_is_shown_beside_the_source_and_nothing_is_stored(admin):
    page = push(admin, "import attrs\n\ndef process(event)\n    return event\n")
    assert page.status_code == 422
    assert re.search(r'role="alert">\s*line 3: syntax error', page.text)
    assert "def process(event)" in page.text  # the text stays in the form to be fixed
    assert admin.get(f"/dynamic/{NAME}").status_code == 404


def test_an_operator_reads_but_cannot_push_or_activate(admin, operator):
    assert push(admin, MARK % "v1", activate="1").status_code == 303
    assert operator.get(f"/dynamic/{NAME}").status_code == 200
    assert 'data-testid="dynamic-form"' not in operator.get("/dynamic").text
    refused = push(operator, MARK % "v2")
    assert refused.status_code == 403 and "only an ADMIN may push or activate dynamic hooks" in refused.text
    refused = operator.post(f"/dynamic/{NAME}/activate", data={"version": "1", "csrf_token": token(operator)})
    assert refused.status_code == 403
    assert [v["version"] for v in admin.get(f"/api/dynamic/{NAME}").json()["versions"]] == [1]


def test_unknown_hooks_and_versions_are_404(admin):
    assert admin.get("/dynamic/nothing-here").status_code == 404
    assert push(admin, MARK % "v1").status_code == 303
    assert admin.get(f"/dynamic/{NAME}?version=9").status_code == 404
    missing = admin.post(f"/dynamic/{NAME}/activate", data={"version": "9", "csrf_token": token(admin)})
    assert missing.status_code == 404


def test_in_the_browser_an_admin_pushes_a_version_and_sees_it_active(browser_page, screenshots):
    from web_steps import log_in

    page = browser_page
    log_in(page)
    page.click("nav >> text=Dynamic hooks")
    page.fill("input[name=name]", "vat")
    page.fill("input[name=comment]", "VAT 7 % on prices")
    page.fill("textarea[name=source]", MARK % "with VAT")
    page.check("input[name=activate]")
    page.click("button:has-text('Push')")
    page.wait_for_url("**/dynamic/vat")
    assert page.inner_text("[data-testid=active-version]") == "1"
    assert "with VAT" in page.inner_text("[data-testid=dynamic-source]")
    screenshots(page, "dynamic")
