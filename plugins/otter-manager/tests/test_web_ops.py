"""Browser tests (headless Chromium, a real ``otter-run manager``) of the operations pages: alarm rules made
in the page fire on a real failing channel and their events show up; nodes, conflicts and the reject log."""

from __future__ import annotations

from web_steps import eventually, flash_text, log_in, reloaded_text, submit_form

from otter_core.testing.mariadb import free_port


def test_an_exception_alarm_made_in_the_page_fires_on_a_failing_channel(browser_page, screenshots):
    page = browser_page
    log_in(page)
    page.goto("/alarms")
    submit_form(
        page,
        "alarm-form",
        {"name": "cannot-connect", "kind": "exception", "pattern": "(unclosed", "notifiers": "- type: log"},
    )
    assert "pattern" in page.inner_text(
        "[data-testid=alarm-form]"
    )  # a bad regular expression, beside its field
    submit_form(
        page,
        "alarm-form",
        {
            "name": "cannot-connect",
            "kind": "exception",
            "pattern": "cannot connect|Connection refused",
            "threshold": "0",
            "notifiers": "- type: log",
        },
    )
    assert "alarm rule cannot-connect created" in flash_text(page)
    assert "enabled" in page.inner_text("tr[data-name=cannot-connect]")

    # A channel whose source nobody listens on: its pipeline fails to connect, again and again.
    page.goto("/sources")
    for name in ("nowhere-a", "nowhere-b"):
        submit_form(
            page, "source-form", {"name": name, "port": str(free_port()), "user": "otter", "password": "x"}
        )
    page.goto("/channels")
    submit_form(page, "channel-form", {"name": "broken"})
    submit_form(
        page,
        "pipeline-form",
        {"channel_id": "broken", "name": "a-to-b", "source_id": "nowhere-a", "target_id": "nowhere-b"},
    )
    submit_form(page, "pair-form", {"source": "shop.orders"})
    page.click("a:has-text('Channel status')")
    with page.expect_navigation():
        page.click("button:has-text('Start')")
    eventually(
        lambda: "cannot connect" in reloaded_text(page),
        "the pipeline's last error on the channel page",
        timeout=120,
        every=2,
    )

    page.goto("/alarms")
    events = eventually(
        lambda: reloaded_text(page, "[data-testid=alarm-events]"), "an alarm event", timeout=120, every=2
    )
    assert "cannot-connect" in events and "broken" in events
    screenshots(page, "alarms")
    with page.expect_navigation():
        page.click("tr[data-name=cannot-connect] button:has-text('Disable')")
    assert "disabled" in page.inner_text("tr[data-name=cannot-connect]")

    page.goto("/nodes")
    assert "alive" in page.inner_text("tr[data-name=local]")
    assert "broken" in page.inner_text("tr[data-name=local]")  # what runs where
    screenshots(page, "nodes")
    page.goto("/channels/1")
    with page.expect_navigation():
        page.click("button:has-text('Stop')")
    eventually(
        lambda: page.locator("h1 [data-testid=state]").inner_text() == "STOPPED",
        "the channel stopped",
        timeout=120,
    )


def test_conflicts_and_rejects_pages_list_what_there_is(browser_page):
    page = browser_page
    log_in(page)
    page.goto("/conflicts")
    assert "No conflicts with status parked" in page.inner_text("main")
    page.goto("/rejects")
    assert "Nothing rejected." in page.inner_text("main") or "No pipelines yet." in page.inner_text("main")
    page.goto("/conflicts?status=bogus")
    assert "expected one of parked, done, resolved" in page.inner_text("main")
