"""Browser tests (headless Chromium) of logging in and out and of roles: an OPERATOR may look at the config
but is denied every change of it, by the pages and by the server behind them."""

from __future__ import annotations

import re

from web_steps import flash_text, log_in, log_out, submit_form

OPERATOR = ("oper", "oper-Pass-456")


def test_pages_need_a_login_and_come_back_after_it(browser_page, screenshots):
    page = browser_page
    page.goto("/sources")
    assert re.search(r"/login\?next=/sources$", page.url)
    screenshots(page, "login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "wrong password")
    page.click("button:has-text('Log in')")
    assert "wrong user name or password" in flash_text(page)
    assert page.locator("[data-testid=current-user]").count() == 0
    log_in(page)  # from /login: lands on the dashboard
    page.goto("/login?next=/sources")
    page.wait_for_url("**/sources")  # already logged in: straight on
    log_out(page)
    page.goto("/")
    assert "/login" in page.url


def test_an_admin_creates_an_operator_who_is_denied_config_changes(browser_page, screenshots):
    page = browser_page
    log_in(page)
    page.goto("/users")
    submit_form(page, "user-form", {"username": OPERATOR[0], "password": "short", "role": "OPERATOR"})
    assert "at least 8 characters" in page.inner_text("[data-testid=user-form]")
    submit_form(page, "user-form", {"username": OPERATOR[0], "password": OPERATOR[1], "role": "OPERATOR"})
    assert f"user {OPERATOR[0]} created" in flash_text(page)
    assert "OPERATOR" in page.inner_text(f"tr[data-name={OPERATOR[0]}]")
    screenshots(page, "users")
    log_out(page)

    log_in(page, *OPERATOR)
    assert page.locator("nav a:has-text('Users')").count() == 0
    page.goto("/sources")
    assert "OPERATOR: config changes need an ADMIN" in page.inner_text("main")
    with page.expect_response(lambda r: r.url.endswith("/sources") and r.request.method == "POST") as answer:
        submit_form(page, "source-form", {"name": "sneaky", "host": "127.0.0.1", "port": "3306"})
    assert answer.value.status == 403
    assert "only an ADMIN may change the config" in page.inner_text("[data-testid=error]")
    # The server refuses too when the page is bypassed (same session, valid CSRF token).
    page.goto("/sources")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    forged = page.request.post(
        "/media", form={"csrf_token": token, "source_id": "1", "schema": "x", "name": "y"}
    )
    assert forged.status == 403
    users = page.request.get("/users")
    assert users.status == 403
    page.goto("/sources")
    assert "sneaky" not in page.inner_text("main")
    page.goto("/audit")
    assert "sneaky" not in page.inner_text("main")
    log_out(page)


def test_a_form_without_the_sessions_csrf_token_is_refused(browser_page):
    page = browser_page
    log_in(page)
    refused = page.request.post(
        "/sources", form={"csrf_token": "not-the-token", "name": "forged", "type": "mysql"}
    )
    assert refused.status == 403
    assert "CSRF" in refused.text()
    page.goto("/sources")
    assert "forged" not in page.inner_text("main")
