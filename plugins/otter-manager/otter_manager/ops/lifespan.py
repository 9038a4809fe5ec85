"""Starts the manager's runtime and collector with the app (``routers.LIFESPAN_MODULES``).

``app.state.runtime``: a ZooKeeperRuntime when the manager was given ``--zk``, else a LocalRuntime under
``<state_dir>/runs``. ``app.state.collector`` samples status and evaluates alarms every
``$OTTER_MANAGER_SAMPLE_SECONDS`` seconds (default 5).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from otter_manager.ops.collector import DEFAULT_INTERVAL, Collector
from otter_manager.ops.metrics import metrics_token
from otter_manager.ops.runtime import LocalRuntime

INTERVAL_ENV = "OTTER_MANAGER_SAMPLE_SECONDS"


def make_runtime(settings: Any) -> Any:
    if settings.zk_hosts:
        from otter_manager.ops.zk_runtime import ZooKeeperRuntime

        return ZooKeeperRuntime(settings.zk_hosts)
    return LocalRuntime(settings.state_dir / "runs")


def restarter(app: Any):
    """What auto-recovery calls: run the channel again with its stored config."""
    from otter_manager.ops.control import channel_yaml
    from otter_manager.services.channel_service import find_channel

    def restart(channel_name: str) -> str:
        runtime = app.state.runtime
        with app.state.db.session_scope() as session:
            channel = find_channel(session, channel_name)
            if channel is None:
                raise LookupError(f"channel {channel_name!r} is no longer in the config store")
            yaml_text = channel_yaml(session, channel)
        if runtime.channel_status(channel_name)["state"] in ("RUNNING", "PAUSED"):
            runtime.stop(channel_name)
        runtime.start(channel_name, yaml_text)
        return "restarted the channel"

    return restart


async def start(app: Any) -> None:
    """Start the runtime and collector once per app (tests enter one app's lifespan from several clients)."""
    app.state.ops_starts = getattr(app.state, "ops_starts", 0) + 1
    if app.state.ops_starts > 1:
        return
    settings = app.state.settings
    app.state.runtime = make_runtime(settings)
    app.state.metrics_token = metrics_token(settings.state_dir)
    interval = float(os.environ.get(INTERVAL_ENV) or DEFAULT_INTERVAL)
    app.state.collector = Collector(app.state.runtime, app.state.db, restarter(app), interval).start()


async def stop(app: Any) -> None:
    app.state.ops_starts -= 1
    if app.state.ops_starts > 0:
        return
    await asyncio.to_thread(app.state.collector.stop)
    close = getattr(app.state.runtime, "close", None)
    if close is not None:
        close()
