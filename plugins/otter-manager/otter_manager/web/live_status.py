"""What the pages show of running channels: mgr-ops's ``control.status`` over the app's runtime
(``app.state.runtime``), arranged for the dashboard and the channel page."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from otter_manager.ops import control

LIVE_STATES = ("RUNNING", "PAUSED")


def runtime(request: Request) -> Any:
    return request.app.state.runtime


def statuses(request: Request, db: Session) -> dict[int, dict[str, Any]]:
    """Channel id -> its status (``state`` None when never started; ``pipelines``: the published figures)."""
    return {row["channel_id"]: row for row in control.status(db, runtime(request))}


def channel_states(request: Request, db: Session) -> dict[str, str | None]:
    """Channel name -> RUNNING, PAUSED, STOPPED, DEAD or None (never started)."""
    return {row["channel"]: row["state"] for row in statuses(request, db).values()}


def pipeline_figures(status: dict[str, Any], pipeline_name: str) -> dict[str, Any] | None:
    """The figures one pipeline's process published (delay, rows, positions...), None when there are none."""
    return next((p for p in status.get("pipelines", []) if p.get("pipeline") == pipeline_name), None)


def acked_position(request: Request, channel: str, pipeline: str) -> str | None:
    """Where the pipeline resumes (its stored acked position), as text; None when unknown."""
    reader = getattr(runtime(request), "position", None)
    position = reader(channel, pipeline) if reader is not None else None
    return str(position) if position is not None else None


def channel_summary(channel: Any, status: dict[str, Any]) -> dict[str, Any]:
    """One dashboard row: the worst delay and the summed throughput of the channel's pipelines."""
    figures = status.get("pipelines", [])
    live = status.get("state") in LIVE_STATES
    return {
        "id": channel.id,
        "name": channel.name,
        "state": status.get("state"),
        "pipelines": [p.name for p in channel.pipelines],
        "delay": max((p.get("lag_s") or 0.0 for p in figures), default=None) if live else None,
        "rows_per_s": sum(p.get("rows_per_s") or 0.0 for p in figures) if live else None,
        "rows": sum(p.get("rows") or 0 for p in figures) if figures else None,
        "error": next((p["error"] for p in figures if p.get("error")), None),
    }
