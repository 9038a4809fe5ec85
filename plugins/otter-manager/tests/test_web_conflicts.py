"""Browser test (headless Chromium, real MariaDB servers, a real ``otter-run manager``): a two-way channel with
the manual conflict policy is imported on the YAML page and started on its channel page; both sides change
the same row while it is paused; the conflicts page shows the parked conflicts and an OPERATOR's job is done
there: writing the agreed row settles them, and both sides converge."""

from __future__ import annotations

import pytest
from ops_steps import manual_twoway_channel
from web_steps import eventually, flash_text, log_in, log_out, reloaded_text, submit_form

from otter_core.testing.twoway import SELECT_ROWS

pytestmark = pytest.mark.usefixtures("clean_databases")


def click_and_wait(page, button: str) -> None:
    with page.expect_navigation():
        page.click(f"button:has-text('{button}')")


def pipeline_states(page) -> list[str]:
    return page.locator("[data-testid=pipeline-state]").all_inner_texts()


def test_parked_conflicts_are_listed_and_resolved_in_the_page(
    browser_page, mariadb_source, mariadb_target, tmp_path, screenshots
):
    a, b = mariadb_source, mariadb_target
    text = manual_twoway_channel(a, b, tmp_path)

    page = browser_page
    log_in(page)
    page.goto("/yaml")
    submit_form(page, "yaml-form", {"yaml": text})
    assert "YAML imported" in flash_text(page)
    page.goto("/channels")
    page.click("tr[data-name=ab] a:has-text('ab')")
    click_and_wait(page, "Start")
    a.execute("INSERT INTO shop.c VALUES (1, 'from-a', 1, 1)")
    eventually(lambda: b.execute(SELECT_ROWS) == a.execute(SELECT_ROWS) != [], "the row on both sides")

    click_and_wait(page, "Pause")
    eventually(lambda: pipeline_states(page) == ["paused", "paused"], "both pipelines paused")
    page.wait_for_timeout(1500)
    a.execute("UPDATE shop.c SET status = 'a-wrote' WHERE id = 1")
    b.execute("UPDATE shop.c SET status = 'b-wrote' WHERE id = 1")
    click_and_wait(page, "Start")

    page.goto("/conflicts")
    listed = eventually(
        lambda: (
            reloaded_text(page, "[data-testid=conflicts]")
            and page.locator("[data-testid=conflicts] details").count() == 2
            and page.inner_text("[data-testid=conflicts]")
        ),
        "a parked conflict on each side",
        timeout=120,
        every=2,
    )
    assert "update-changed" in listed and "shop.c" in listed and "manual" in listed
    page.locator("[data-testid=conflicts] details").first.click()
    screenshots(page, "conflicts")
    first = page.locator("[data-testid=conflicts] tr", has=page.locator("details")).first
    first.locator("textarea[name=image]").fill('{"id": 1, "status": "agreed", "amount": 1, "v": 1}')
    with page.expect_navigation():
        first.locator("button:has-text('Write this row')").click()
    assert "resolved (image)" in flash_text(page)
    eventually(
        lambda: a.execute(SELECT_ROWS) == b.execute(SELECT_ROWS) == [(1, "agreed", 1, 1)],
        "both sides converged on the written row",
    )
    eventually(
        lambda: "No conflicts with status parked" in reloaded_text(page),
        "no conflict parked any more",
        timeout=60,
        every=2,
    )

    page.goto("/channels")
    page.click("tr[data-name=ab] a:has-text('ab')")
    click_and_wait(page, "Stop")
    eventually(
        lambda: page.locator("h1 [data-testid=state]").inner_text() == "STOPPED",
        "the channel stopped",
        timeout=120,
    )
    log_out(page)
