"""The browser tests' harness: a real ``otter-run manager`` process (uvicorn) on a free loopback port
in a temporary state directory, and headless Chromium driven by Playwright.

Chromium is Debian's (/usr/bin/chromium, ``OTTER_CHROMIUM`` overrides); Playwright never downloads a
browser of its own. Set ``OTTER_SCREENSHOTS_DIR`` to keep the screenshots the browser tests take (the ones
in docs/screenshots/ are made that way, see docs/manager.md).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from otter_core.testing.mariadb import free_port
from otter_core.testing.processes import stop_process

CHROMIUM = os.environ.get("OTTER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WEB_ADMIN = "admin"
WEB_ADMIN_PASSWORD = "admin-Pass-123"


class ManagerProcess:
    """``otter-run manager`` as a child process; ``url`` is its base address once ``start()`` returned."""

    def __init__(self, state_dir: Path, port: int | None = None, extra_args: tuple[str, ...] = ()) -> None:
        self.state_dir = state_dir
        self.port = port or free_port()
        self.extra_args = extra_args
        self.log_path = state_dir / "manager.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _otter_run(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "otter_core.cli", "manager", "--state-dir", str(self.state_dir), *args]

    def init_admin(self, name: str = WEB_ADMIN, password: str = WEB_ADMIN_PASSWORD) -> None:
        env = dict(os.environ, OTTER_MANAGER_PASSWORD=password)
        done = subprocess.run(
            self._otter_run("--init-admin", name),
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, f"otter-run manager --init-admin failed:\n{done.stdout}\n{done.stderr}"
        assert password not in done.stdout + done.stderr, "the admin password was printed"

    def start(self, timeout: float = 90.0) -> ManagerProcess:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        env = dict(os.environ)
        env.setdefault(
            "OTTER_MANAGER_SAMPLE_SECONDS", "1"
        )  # history samples often enough to watch charts move
        self.process = subprocess.Popen(
            self._otter_run("--host", "127.0.0.1", "--port", str(self.port), *self.extra_args),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/login", timeout=5) as response:
                    if response.status == 200:
                        return self
            except urllib.error.HTTPError as exc:  # up, but without a login page: no use waiting
                self.stop()
                raise RuntimeError(
                    f"otter-run manager on {self.url} answers GET /login with {exc.code}:\n{self.log_tail()}"
                ) from None
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"otter-run manager did not come up on {self.url}:\n{self.log_tail()}")
            time.sleep(0.2)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def channel_processes(self) -> list[int]:
        """Process ids of the channels this manager started (``<state>/runs/<channel>/process.json``)."""
        pids = []
        for info in self.state_dir.glob("runs/*/process.json"):
            try:
                pids.append(int(json.loads(info.read_text())["pid"]))
            except (ValueError, KeyError, OSError):
                continue
        return pids

    def channel_logs(self, chars: int = 3000) -> str:
        """The tail of each channel's ``run.log`` and its last status file, for a failing test's report."""
        parts = []
        for folder in sorted(self.state_dir.glob("runs/*")):
            for name in ("run.log", "status.json"):
                path = folder / name
                if path.exists():
                    parts.append(f"--- {path}\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        """Stop the manager, then the channel processes it left running (they outlive it by design)."""
        stop_process(self.process, timeout=30)
        for pid in self.channel_processes():
            _end_process(pid)


def _end_process(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` s, to a channel process a test's manager started."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def manager_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagerProcess]:
    """A fresh manager per test module with one ADMIN (``WEB_ADMIN`` / ``WEB_ADMIN_PASSWORD``)."""
    manager = ManagerProcess(tmp_path_factory.mktemp("manager-state"))
    manager.init_admin()
    manager.start()
    yield manager
    manager.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing browser test's report carries the manager's log and its channels' logs."""
    outcome = yield
    report = outcome.get_result()
    manager = item.funcargs.get("manager_server") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(manager, ManagerProcess):
        report.sections.append(("otter-run manager log", manager.log_tail()))
        report.sections.append(("channel processes", manager.channel_logs()))


@pytest.fixture(scope="session")
def chromium_browser():
    """Headless Debian Chromium through Playwright, one per test session."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium (or set OTTER_CHROMIUM)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium_browser, manager_server):
    """A page in a fresh browser context (no cookies) whose relative URLs go to ``manager_server``."""
    context = chromium_browser.new_context(
        base_url=manager_server.url, viewport={"width": 1280, "height": 860}
    )
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshots(tmp_path: Path):
    """``screenshots(page, name)`` saves a full-page PNG to ``OTTER_SCREENSHOTS_DIR`` (or a temp dir)."""
    target = Path(os.environ.get("OTTER_SCREENSHOTS_DIR") or tmp_path / "screenshots")
    target.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = target / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 0
        return path

    return take
