"""Pages of running channels: the dashboard and a channel's status, control and position reset, on
mgr-ops's runtime."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from otter_core.manager.security import Actor
from otter_core.manager.services import config_service as config
from otter_core.manager.store import get_db
from otter_core.manager.web import live_status
from otter_core.manager.web.render import page_actor, render

router = APIRouter(include_in_schema=False)
REFRESH_MS = 2000


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, actor: Actor = Depends(page_actor), db: Session = Depends(get_db)):
    rows = [live_status.channel_summary(c, live_status.channel_status(request, c.name))
            for c in config.list_channels(db)]
    delays = [r["delay"] for r in rows if r["delay"] is not None]
    return render(request, "dashboard.html", {
        "active": "dashboard", "title": "Dashboard", "channels": rows, "refresh_ms": REFRESH_MS,
        "worst_delay": max(delays) if delays else None,
        "total_rows_per_s": sum(r["rows_per_s"] or 0 for r in rows) if rows else None,
    }, actor)
