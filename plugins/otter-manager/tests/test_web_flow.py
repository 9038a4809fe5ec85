"""The manager's whole story in headless Chromium, on real MariaDB servers and a real ``otter-run manager``:
an ADMIN logs in, creates two data sources (and tests their connections), a channel, its pipeline and a pair
through the pages, starts the channel, sees rows flow and the delay chart move, pauses it, stops it, resets
the pipeline's position, starts it again (the rows written meanwhile arrive) and logs out.

The screenshots it takes are docs/screenshots/*.png when run with OTTER_SCREENSHOTS_DIR=docs/screenshots.
"""

from __future__ import annotations

import json

import pytest
from web_steps import eventually, flash_text, log_in, log_out, reloaded_text, submit_form

from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER

pytestmark = pytest.mark.usefixtures("clean_databases")

TABLE = "CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(40), qty INT, price DECIMAL(10,2))"


def insert_orders(server, first: int, count: int) -> None:
    values = ", ".join(f"({i}, 'item {i}', {i % 7}, {i}.25)" for i in range(first, first + count))
    server.execute(f"INSERT INTO shop.orders VALUES {values}")


def count_orders(server) -> int:
    return server.execute("SELECT COUNT(*) FROM shop.orders")[0][0]


def card(page, testid: str) -> str:
    return page.locator(f"[data-testid={testid}]").first.inner_text()


def state(page) -> str:
    return page.locator("h1 [data-testid=state]").inner_text()


def click_and_wait(page, button: str) -> None:
    with page.expect_navigation():
        page.click(f"button:has-text('{button}')")


def chart_points(page, testid: str) -> int:
    return int(page.get_attribute(f"[data-testid={testid}]", "data-points") or 0)


def test_admin_builds_runs_pauses_and_resets_a_channel_in_the_pages(
    browser_page, mariadb_source, mariadb_target, screenshots
):
    src, dst = mariadb_source, mariadb_target
    for server in (src, dst):
        server.execute("CREATE DATABASE shop", TABLE)
    page = browser_page
    log_in(page)

    # Sources, with their connections tested
    page.goto("/sources")
    for name, server in (("shop-a", src), ("shop-b", dst)):
        submit_form(
            page,
            "source-form",
            {
                "name": name,
                "type": "mysql",
                "host": "127.0.0.1",
                "port": str(server.port),
                "user": OTTER_USER,
                "password": OTTER_PASSWORD,
            },
        )
        assert f"source {name} created" in flash_text(page)
    test_button = page.locator("tr[data-name=shop-a] button:has-text('Test connection')")
    with page.expect_navigation():
        test_button.click()
    assert "shop-a: connected to mysql" in flash_text(page)
    screenshots(page, "sources")

    # A channel, its pipeline and a pair
    page.goto("/channels")
    submit_form(page, "channel-form", {"name": "shop", "description": "orders from A to B"})
    assert "channel shop created" in flash_text(page)
    file, pos = src.binlog_position()  # start where the source is now: every row written later flows
    submit_form(
        page,
        "pipeline-form",
        {
            "channel_id": "shop",
            "name": "a-to-b",
            "source_id": "shop-a",
            "target_id": "shop-b",
            "start": f"{{file: {file}, pos: {pos}}}",
            "parameters": "batch_timeout_ms: 50\nskip_ddl: true",
        },
    )
    assert "pipeline a-to-b created" in flash_text(page)
    submit_form(
        page,
        "pair-form",
        {
            "source": "shop.orders",
            "target": "shop.orders",
            "column_groups": "[[qty, price]]",
            "push_weight": "3",
        },
    )
    assert "shop.orders" in page.inner_text("[data-testid=pairs]")
    screenshots(page, "pipeline")

    # Start: rows flow, the figures and the delay chart follow
    page.click("a:has-text('Channel status')")
    click_and_wait(page, "Start")
    eventually(lambda: state(page) == "RUNNING", "the channel page shows RUNNING")
    insert_orders(src, 1, 200)
    eventually(lambda: count_orders(dst) == 200, "200 rows on the target")
    eventually(lambda: card(page, "rows").replace(",", "") == "200", "200 rows loaded on the channel page")
    first_points = eventually(lambda: chart_points(page, "delay-chart"), "points on the delay chart")
    insert_orders(src, 201, 100)
    eventually(lambda: chart_points(page, "delay-chart") >= first_points + 2, "the delay chart moving on")
    eventually(lambda: count_orders(dst) == 300, "300 rows on the target")
    assert page.locator("[data-testid=delay-chart] canvas").count() == 1
    assert json.loads(page.get_attribute("[data-testid=delay-chart]", "data-last"))[0] is not None
    assert "shop.orders" in page.inner_text("[data-testid=tables]")
    eventually(
        lambda: (json.loads(page.get_attribute("[data-testid=rows-chart]", "data-max") or "[0]")[0] or 0) > 0,
        "the throughput chart showing the rows that flowed",
    )
    screenshots(page, "channel")
    page.goto("/")
    eventually(lambda: "RUNNING" in page.inner_text("tr[data-name=shop]"), "the dashboard lists the channel")
    screenshots(page, "dashboard")

    # Pause: nothing more arrives
    page.click("tr[data-name=shop] a")
    click_and_wait(page, "Pause")
    eventually(lambda: state(page) == "PAUSED", "the channel page shows PAUSED")
    eventually(
        lambda: card(page, "pipeline-state") == "paused", "the pipeline itself paused (its permit closed)"
    )
    page.wait_for_timeout(1500)  # a batch being filled when the permit closed is loaded: let it finish
    file, pos = src.binlog_position()
    insert_orders(src, 301, 50)
    page.wait_for_timeout(3000)
    assert count_orders(dst) == 300

    # Stop, reset the position to before the paused rows, start: they arrive (and replays are harmless)
    click_and_wait(page, "Stop")
    eventually(lambda: state(page) == "STOPPED", "the channel page shows STOPPED", timeout=120)
    form = page.locator("[data-testid=reset-form]")
    form.locator("[name=kind]").select_option("file")
    form.locator("[name=file]").fill(file)
    form.locator("[name=pos]").fill(str(pos))
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert f"position of pipeline a-to-b reset to {file}:{pos}" in flash_text(page)
    assert f"{file}:{pos}" in page.inner_text("[data-testid=acked-position]")
    click_and_wait(page, "Start")
    eventually(
        lambda: count_orders(dst) == 350, "the rows written while paused on the target after the reset"
    )
    assert dst.execute("SELECT SUM(qty), SUM(price) FROM shop.orders") == src.execute(
        "SELECT SUM(qty), SUM(price) FROM shop.orders"
    )

    # A DDL on the source is not applied (skip_ddl): the reject log page lists it
    src.execute("ALTER TABLE shop.orders ADD COLUMN note VARCHAR(20)")
    page.goto("/rejects")
    rejected = eventually(
        lambda: "skip_ddl" in reloaded_text(page) and page.inner_text("[data-testid=rejects]"),
        "the skipped DDL in the reject log",
        every=2,
    )
    assert "shop.orders" in rejected and "mysql-bin" in rejected
    page.goto("/channels/1")
    click_and_wait(page, "Stop")
    eventually(lambda: state(page) == "STOPPED", "the channel stopped at the end", timeout=120)
    log_out(page)
