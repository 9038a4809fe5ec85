"""What the app mounts. Each engineer appends a module here; each module has a ``router`` (APIRouter).

``LIFESPAN_MODULES`` name modules with ``async def start(app)`` and ``async def stop(app)`` (background
tasks such as the monitoring collector), run in list order at start and in reverse at stop.
"""

from __future__ import annotations

import importlib
from typing import Any

ROUTER_MODULES = [
    "otter_manager.api.session_api",
    "otter_manager.api.users_api",
    "otter_manager.api.config_api",
    "otter_manager.api.pipeline_api",
    "otter_manager.api.config_io_api",
    # runtime control, monitoring, alarms, conflicts and rejects, /metrics (mgr-ops)
    "otter_manager.api.ops_api",
    "otter_manager.api.alarms_api",
    "otter_manager.api.repair_api",
    "otter_manager.ops.metrics",
    "otter_manager.api.dynamic_api",  # dynamic processors/resolvers (otter-dynamic), ADMIN pushes
    # the web pages (mgr-ui)
    "otter_manager.web.pages_auth",
    "otter_manager.web.pages_runtime",
    "otter_manager.web.pages_sources",
    "otter_manager.web.pages_admin",
    "otter_manager.web.pages_channels",
    "otter_manager.web.pages_pairs",
    "otter_manager.web.pages_yaml",
    "otter_manager.web.pages_repair",
    "otter_manager.web.pages_alarms",
    "otter_manager.web.pages_dynamic",
]

LIFESPAN_MODULES: list[str] = [
    "otter_manager.ops.lifespan",  # app.state.runtime, the collector (mgr-ops)
]


def routers() -> list[Any]:
    return [importlib.import_module(name).router for name in ROUTER_MODULES]


def lifespan_modules() -> list[Any]:
    return [importlib.import_module(name) for name in LIFESPAN_MODULES]
