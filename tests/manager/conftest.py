"""Fixtures of the manager tests."""
# The browser tests' fixtures (real manager process, headless Chromium): see web_harness.py.
from tests.manager.web_harness import (  # noqa: F401
    browser_page, chromium_browser, manager_server, screenshots,
)
