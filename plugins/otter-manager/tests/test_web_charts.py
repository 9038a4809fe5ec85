"""The vendored uPlot and charts.js draw the history API's samples in headless Chromium, and redraw as new
samples arrive. The page and its static files are served to the browser from the package directory (no
server needed); the history samples come from a route handler that answers like the history API does."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

STATIC = Path(__file__).parents[1] / "otter_manager" / "web" / "static"

PAGE = """<!doctype html><html><head>
<link rel="stylesheet" href="/static/uplot/uPlot.min.css"><link rel="stylesheet" href="/static/otter.css">
</head><body data-refresh-ms="300">
<div class="charts">
  <div class="chart" id="delay" data-history-url="/api/pipelines/7/history" data-keys="delay_s"
       data-labels="delay (s)"></div>
  <div class="chart" id="rows" data-history-url="/api/pipelines/7/history" data-keys="rows_per_s,bytes_per_s"
       data-labels="rows/s,bytes/s"></div>
</div>
<script src="/static/uplot/uPlot.iife.min.js"></script><script src="/static/charts.js"></script>
</body></html>"""


@pytest.fixture
def chart_page(chromium_browser):
    context = chromium_browser.new_context(base_url="http://otter.test")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    samples: list[dict] = []
    history_status = {"code": 200}

    def serve(route):
        path = route.request.url.split("http://otter.test", 1)[1].split("?")[0]
        if path == "/":
            return route.fulfill(body=PAGE, content_type="text/html")
        if path == "/api/pipelines/7/history":
            if history_status["code"] != 200:
                return route.fulfill(status=history_status["code"], body="boom")
            return route.fulfill(body=json.dumps({"samples": samples}), content_type="application/json")
        if path.startswith("/static/"):
            file = STATIC / path[len("/static/") :]
            kind = "text/css" if file.suffix == ".css" else "application/javascript"
            return route.fulfill(body=file.read_bytes(), content_type=kind)
        return route.fulfill(status=404, body="not found")

    page.route("**/*", serve)
    page.history_status = history_status  # the tests set ["code"] to make the history API fail
    yield page, samples, errors
    context.close()


def wait_for(page, selector: str, attribute: str, wanted: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while page.get_attribute(selector, attribute) != wanted:
        assert time.monotonic() < deadline, (
            f"{selector} {attribute}={page.get_attribute(selector, attribute)!r}, wanted {wanted!r}"
        )
        page.wait_for_timeout(100)


def test_uplot_draws_history_samples_and_follows_new_ones(chart_page):
    page, samples, errors = chart_page
    now = time.time()
    samples.extend(
        {"ts": now - 10 + i, "delay_s": 5 - i, "rows_per_s": 100 * i, "bytes_per_s": 9000 * i}
        for i in range(5)
    )
    page.goto("/")
    wait_for(page, "#delay", "data-points", "5")
    assert page.locator("#delay canvas").count() == 1, "uPlot drew no canvas"
    assert json.loads(page.get_attribute("#rows", "data-last")) == [400, 36000]
    assert json.loads(page.get_attribute("#delay", "data-max")) == [5]
    samples.append({"ts": now, "delay_s": 0.5, "rows_per_s": 700, "bytes_per_s": 1})
    wait_for(page, "#delay", "data-points", "6")
    assert json.loads(page.get_attribute("#delay", "data-last")) == [0.5]
    assert "delay (s)" in page.text_content("#delay")  # the legend names the series
    assert errors == []


def test_iso_timestamps_are_accepted_and_a_failing_api_is_marked(chart_page):
    page, samples, errors = chart_page
    samples.append({"ts": "2026-11-26T10:00:00+00:00", "delay_s": 3})
    page.goto("/")
    wait_for(page, "#delay", "data-points", "1")
    page.history_status["code"] = 500
    deadline = time.monotonic() + 20
    while not page.get_attribute("#delay", "data-error"):
        assert time.monotonic() < deadline, "a failing history API was not marked on the chart"
        page.wait_for_timeout(100)
    assert "500" in page.get_attribute("#delay", "data-error")
    assert errors == []
