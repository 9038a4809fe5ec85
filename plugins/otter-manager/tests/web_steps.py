"""Steps a person takes in the manager's pages, for the browser tests (Playwright, sync API)."""

from __future__ import annotations

import time
from collections.abc import Callable

from web_harness import WEB_ADMIN, WEB_ADMIN_PASSWORD


def log_in(page, username: str = WEB_ADMIN, password: str = WEB_ADMIN_PASSWORD) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button:has-text('Log in')")
    page.wait_for_selector("[data-testid=current-user]")
    assert page.inner_text("[data-testid=current-user]") == username


def log_out(page) -> None:
    page.click("button:has-text('Log out')")
    page.wait_for_url("**/login")
    assert "logged out" in page.inner_text("main, body")


def submit_form(page, form: str, fields: dict[str, str], button: str | None = None) -> None:
    """Fill the fields of the form ``form`` (a data-testid) by name and submit it; selects take the option
    whose label is the value."""
    root = page.locator(f"[data-testid={form}]")
    for name, value in fields.items():
        control = root.locator(f"[name={name}]")
        tag = control.evaluate("el => el.tagName.toLowerCase() + (el.type ? ':' + el.type : '')")
        if tag.startswith("select"):
            control.select_option(label=value)
        elif tag == "input:checkbox":
            control.set_checked(bool(value))
        else:
            control.fill(str(value))
    with page.expect_navigation():
        root.locator("button[type=submit]" if button is None else f"button:has-text('{button}')").click()


def flash_text(page) -> str:
    return " | ".join(page.locator(".flash").all_inner_texts())


def eventually(check: Callable[[], object], what: str, timeout: float = 90.0, every: float = 0.5):
    """``check()``'s first truthy result within ``timeout`` seconds; else fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what}: not seen within {timeout:.0f}s (last: {last!r})")


def reloaded_text(page, selector: str = "main") -> str:
    """The text of ``selector`` after reloading the page ("" when it is not on the page)."""
    page.reload()
    return page.inner_text(selector) if page.locator(selector).count() else ""
