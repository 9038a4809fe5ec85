"""What the app mounts: the manager's own routers, then every module a plugin contributes through the
``otter.manager_routes`` entry-point group (docs/plugins.md, "Manager routes and pages").

A contributed module has ``router`` (a FastAPI ``APIRouter``) and may have ``NAV`` (navigation links:
``(group, key, href, label)`` tuples) and ``async def start(app)`` / ``async def stop(app)`` (background
work, run after the manager's own at start and before them at stop). One that fails to load is named in a
warning and left out: a broken plugin never keeps the manager from starting.

The manager's optional features (otter-dynamic's pushed processors) are registered the same way, in
otter-manager's own setup.cfg; they import their plugin only when used and otherwise say what to install.
"""

from __future__ import annotations

import importlib
import logging
from functools import cache
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

log = logging.getLogger("otter.manager")

ROUTE_GROUP = "otter.manager_routes"

ROUTER_MODULES = [
    "otter_manager.api.session_api",
    "otter_manager.api.users_api",
    "otter_manager.api.config_api",
    "otter_manager.api.pipeline_api",
    "otter_manager.api.config_io_api",
    # runtime control, monitoring, alarms, conflicts and rejects, /metrics
    "otter_manager.api.ops_api",
    "otter_manager.api.alarms_api",
    "otter_manager.api.repair_api",
    "otter_manager.ops.metrics",
    # the web pages
    "otter_manager.web.pages_auth",
    "otter_manager.web.pages_runtime",
    "otter_manager.web.pages_sources",
    "otter_manager.web.pages_admin",
    "otter_manager.web.pages_channels",
    "otter_manager.web.pages_pairs",
    "otter_manager.web.pages_yaml",
    "otter_manager.web.pages_repair",
    "otter_manager.web.pages_alarms",
]

# Modules with ``async def start(app)`` and ``async def stop(app)``, run in list order at start and in
# reverse at stop.
LIFESPAN_MODULES: list[str] = [
    "otter_manager.ops.lifespan",  # app.state.runtime, the collector
]


def contributions() -> tuple[list[ModuleType], list[str]]:
    """The modules of every ``otter.manager_routes`` entry point (by name), and the ones that failed to
    load, each named with its entry point and error. Read again at every call (each ``create_app``)."""
    modules: list[ModuleType] = []
    failures: list[str] = []
    found = {ep.name: ep for ep in entry_points(group=ROUTE_GROUP)}
    for name in sorted(found):
        point = found[name]
        try:
            module = point.load()
        except Exception as exc:
            failures.append(f"{ROUTE_GROUP} {name} = {point.value} failed to load: {exc!r}")
            continue
        if not isinstance(module, ModuleType) or not hasattr(module, "router"):
            failures.append(f"{ROUTE_GROUP} {name} = {point.value} is not a module with a `router`")
            continue
        modules.append(module)
    return modules, failures


@cache
def _own(name: str) -> ModuleType:
    return importlib.import_module(name)


def routers(contributed: list[ModuleType]) -> list[Any]:
    return [_own(name).router for name in ROUTER_MODULES] + [module.router for module in contributed]


def lifespan_modules(contributed: list[ModuleType]) -> list[Any]:
    extra = [
        m for m in contributed if callable(getattr(m, "start", None)) and callable(getattr(m, "stop", None))
    ]
    return [_own(name) for name in LIFESPAN_MODULES] + extra


def navigation(contributed: list[ModuleType]) -> dict[str, list[tuple[str, str, str]]]:
    """Contributed links by navigation group: ``{group: [(key, href, label), ...]}``."""
    nav: dict[str, list[tuple[str, str, str]]] = {}
    for module in contributed:
        for group, key, href, label in getattr(module, "NAV", ()):
            nav.setdefault(str(group), []).append((str(key), str(href), str(label)))
    return nav


def load(app: Any) -> list[Any]:
    """Mount nothing yet: find the contributions for ``app`` (kept on ``app.state``), warn about the ones
    that failed, and return every router to include."""
    contributed, failures = contributions()
    for failure in failures:
        log.warning("otter-run manager: a plugin's routes are missing: %s", failure)
    app.state.contributed_routes = contributed
    app.state.route_failures = failures
    return routers(contributed)
