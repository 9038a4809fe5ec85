"""Browser tests (headless Chromium) of the hardening: the pages work under their Content-Security-Policy
(no violation, confirmations still asked), a saved session cookie dies at logout, and the manager refuses
to be framed."""

from __future__ import annotations

from web_steps import flash_text, log_in, log_out, submit_form

PAGES = (
    "/",
    "/nodes",
    "/channels",
    "/pipelines",
    "/pairs",
    "/sources",
    "/media",
    "/yaml",
    "/conflicts",
    "/rejects",
    "/alarms",
    "/dynamic",
    "/users",
    "/audit",
)


def test_every_page_loads_under_its_csp_without_a_violation(browser_page):
    page = browser_page
    violations: list[str] = []
    page.on(
        "console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None
    )
    log_in(page)
    for path in PAGES:
        response = page.goto(path)
        assert response.status == 200, path
        headers = response.headers
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff", path
        assert "script-src 'self'" in headers["content-security-policy"], path
    assert violations == []


def test_a_delete_still_asks_for_confirmation_without_inline_script(browser_page):
    page = browser_page
    log_in(page)
    page.goto("/channels")
    submit_form(page, "channel-form", {"name": "confirm-me"})
    page.goto("/channels")
    row = "tr[data-name=confirm-me]"
    asked: list[str] = []

    def answer(dialog, accept: bool) -> None:
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, False))
    page.locator(row).locator("button:has-text('Delete')").click()
    page.wait_for_timeout(300)  # a dismissed dialog sends nothing: give a wrong submit time to land
    page.goto("/channels")
    assert page.locator(row).count() == 1
    page.once("dialog", lambda d: answer(d, True))
    with page.expect_navigation():
        page.locator(row).locator("button:has-text('Delete')").click()
    page.goto("/channels")
    assert page.locator(row).count() == 0
    assert len(asked) == 2 and "confirm-me" in asked[0]


def test_a_copied_session_cookie_is_dead_after_logout(browser_page, chromium_browser, manager_server):
    page = browser_page
    log_in(page)
    cookies = page.context.cookies()
    assert [c["name"] for c in cookies] == ["otter_manager"] and cookies[0]["httpOnly"]
    log_out(page)
    thief = chromium_browser.new_context(base_url=manager_server.url)
    try:
        thief.add_cookies(cookies)
        stolen = thief.new_page()
        stolen.goto("/sources")
        assert "/login" in stolen.url  # the saved cookie names no session any more
    finally:
        thief.close()
    assert "logged out" in flash_text(page) or "/login" in page.url
