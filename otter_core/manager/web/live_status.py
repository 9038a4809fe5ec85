"""What the pages show of running channels, read from mgr-ops's runtime (``app.state.runtime``)."""
from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session


def runtime(request: Request) -> Any:
    return getattr(request.app.state, "runtime", None)


def channel_states(request: Request, db: Session) -> dict[str, str]:
    """Channel name -> RUNNING, PAUSED, STOPPED or DEAD, for the channels that were ever started."""
    found = runtime(request)
    if found is None:
        return {}
    return {status["channel"]: status["state"] for status in found.status()}


def channel_status(request: Request, channel_name: str) -> dict[str, Any]:
    """The runtime's status of one channel (``state`` None when it was never started)."""
    found = runtime(request)
    if found is None or channel_name not in found.channels():
        return {"channel": channel_name, "state": None, "pipelines": []}
    return found.channel_status(channel_name)


def pipeline_figures(status: dict[str, Any], pipeline_name: str) -> dict[str, Any] | None:
    """The figures one pipeline's process published (delay, rows, positions...), None when there are none."""
    return next((p for p in status.get("pipelines", []) if p.get("pipeline") == pipeline_name), None)


def channel_summary(channel: Any, status: dict[str, Any]) -> dict[str, Any]:
    """One dashboard row: the worst delay and the summed throughput of the channel's pipelines."""
    figures = [p for p in status.get("pipelines", [])]
    live = status.get("state") in ("RUNNING", "PAUSED")
    return {"id": channel.id, "name": channel.name, "state": status.get("state"),
            "pipelines": [p.name for p in channel.pipelines],
            "delay": max((p.get("lag_s", 0.0) for p in figures), default=None) if live else None,
            "rows_per_s": sum(p.get("rows_per_s", 0.0) for p in figures) if live else None,
            "rows": sum(p.get("rows", 0) for p in figures) if figures else None,
            "error": next((p["error"] for p in figures if p.get("error")), None)}
