"""``GET /metrics``: the channels' figures in Prometheus text format, read from the runtime at scrape time.

A scraper authenticates with ``Authorization: Bearer <token>``, the token being the content of
``<state_dir>/metrics.token`` (made with mode 0600 at the manager's first start); a logged-in browser
session works too. An empty token file turns bearer access off: only logged-in users may read it.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import CollectorRegistry

from otter_manager.security import same_secret
from otter_manager.settings import make_private

log = logging.getLogger(__name__)
router = APIRouter(tags=["ops"])
TOKEN_FILE = "metrics.token"
STATES = ("RUNNING", "PAUSED", "STOPPED", "DEAD", "WAITING")
# a pipeline's own state (engine/stats.py): retrying and stalled say a pipeline is not moving
PIPELINE_STATES = ("starting", "running", "retrying", "stalled", "paused", "failed", "stopped")


def metrics_token(state_dir: Path) -> str:
    """The scrape token of ``state_dir``, generated (0600) on first use."""
    path = Path(state_dir) / TOKEN_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        make_private(path, 0o600)
        token = path.read_text().strip()
        if not token:
            log.warning("%s is empty: /metrics answers only logged-in users (put a token in it)", path)
        return token
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    return token


class RuntimeCollector:
    """A prometheus_client collector over ``runtime.status()`` (one read per scrape)."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Any]:
        statuses = self.runtime.status()
        up = GaugeMetricFamily(
            "otter_channel_state", "1 for the channel's current state", labels=["channel", "state"]
        )
        delay = GaugeMetricFamily(
            "otter_pipeline_delay_seconds",
            "seconds the target is behind the source",
            labels=["channel", "pipeline"],
        )
        rows_s = GaugeMetricFamily(
            "otter_pipeline_rows_per_second",
            "rows loaded per second (last 5 s)",
            labels=["channel", "pipeline"],
        )
        bytes_s = GaugeMetricFamily(
            "otter_pipeline_bytes_per_second",
            "bytes loaded per second (last 5 s)",
            labels=["channel", "pipeline"],
        )
        pipeline_up = GaugeMetricFamily(
            "otter_pipeline_state",
            "1 for the pipeline's current state (retrying, stalled: not moving)",
            labels=["channel", "pipeline", "state"],
        )
        attempt = GaugeMetricFamily(
            "otter_pipeline_retry_attempt",
            "failed attempts in a row while the pipeline retries (0: not retrying)",
            labels=["channel", "pipeline"],
        )
        rows = CounterMetricFamily(
            "otter_pipeline_rows", "rows loaded since the process started", labels=["channel", "pipeline"]
        )
        size = CounterMetricFamily(
            "otter_pipeline_bytes",
            "bytes of the batches loaded since the process started",
            labels=["channel", "pipeline"],
        )
        restarts = CounterMetricFamily(
            "otter_pipeline_restarts",
            "rollbacks and retries since the process started",
            labels=["channel", "pipeline"],
        )
        events = CounterMetricFamily(
            "otter_table_events",
            "source row events loaded, by table and type (I/U/D)",
            labels=["channel", "pipeline", "table", "type"],
        )
        stage = CounterMetricFamily(
            "otter_stage_milliseconds",
            "milliseconds spent per stage",
            labels=["channel", "pipeline", "stage"],
        )
        for channel in statuses:
            name = channel["channel"]
            for state in STATES:
                up.add_metric([name, state], 1.0 if channel["state"] == state else 0.0)
            for row in channel.get("pipelines", []):
                labels = [name, row["pipeline"]]
                for state in PIPELINE_STATES:
                    pipeline_up.add_metric([*labels, state], 1.0 if row.get("state") == state else 0.0)
                attempt.add_metric(labels, float(row.get("attempt") or 0))
                delay.add_metric(labels, float(row.get("lag_s") or 0.0))
                rows_s.add_metric(labels, float(row.get("rows_per_s") or 0.0))
                bytes_s.add_metric(labels, float(row.get("bytes_per_s") or 0.0))
                rows.add_metric(labels, float(row.get("rows") or 0))
                size.add_metric(labels, float(row.get("bytes") or 0))
                restarts.add_metric(labels, float(row.get("restarts") or 0))
                for table, kinds in (row.get("tables") or {}).items():
                    for kind, n in kinds.items():
                        events.add_metric([*labels, table, kind], float(n))
                for stage_name, ms in (row.get("stage_ms_total") or {}).items():
                    stage.add_metric([*labels, stage_name], float(ms))
        yield from (up, pipeline_up, attempt, delay, rows_s, bytes_s, rows, size, restarts, events, stage)


def _allowed(request: Request) -> bool:
    """A bearer token equal to a non-empty ``metrics.token``, or a logged-in session. An empty token file
    turns bearer access off (else ``Bearer`` with nothing after it would match)."""
    given = request.headers.get("authorization", "")
    expected = request.app.state.metrics_token
    if given.lower().startswith("bearer "):
        return bool(expected) and same_secret(expected, given[7:].strip())
    return isinstance(request.session.get("user_id"), int)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        401: {"description": "no bearer token (metrics.token) and not logged in"},
    },
)
def metrics(request: Request) -> Response:
    """Delay, rows/s, bytes/s, rows, bytes, restarts, I/U/D per table, stage milliseconds, channel states."""
    if not _allowed(request):
        raise HTTPException(
            401,
            "send Authorization: Bearer <the content of STATE_DIR/metrics.token>, or log in",
            headers={"WWW-Authenticate": "Bearer"},
        )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RuntimeCollector(request.app.state.runtime))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
