"""Pinning a pipeline's start: ``start:`` is resolved once, to a concrete position saved by the arbitrator
before anything is read.

Why: ``start: current`` resolved again on each retry or restart skips every change committed between the
first start and the first ack (a Ctrl-C, a target that was down, a ``kill -9``). Once a position is saved
(pinned or acked), ``start:`` no longer applies; ``otter-run position set|reset`` changes the saved one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from otter_core.contracts import Arbitrator, StartPinning
from otter_core.errors import PluginNotFound
from otter_core.model import DataMediaSource, Pipeline, Position

log = logging.getLogger("otter.pipeline")
START_KINDS = ("current", "position", "gtid")


def start_origin(pipeline: Pipeline) -> dict[str, Any]:
    """The pipeline's ``start:`` as plain JSON (kept with the pinned position)."""
    start = dict(pipeline.start or {})
    kind = start.get("kind") or "current"
    origin: dict[str, Any] = {"kind": str(getattr(kind, "value", kind)).lower()}
    for key in ("file", "pos", "gtid"):
        if key in start:
            origin[key] = start[key]
    return origin


def describe_origin(origin: Mapping[str, Any] | None) -> str:
    """``origin`` as the user wrote it, for log lines and ``otter-run position show``."""
    if not origin:
        return "an earlier run (origin not recorded)"
    kind = origin.get("kind")
    if kind == "current":
        return "start: current"
    if kind == "position":
        return f"start: {{file: {origin.get('file')}, pos: {origin.get('pos')}}}"
    if kind == "gtid":
        return f"start: {{gtid: '{origin.get('gtid')}'}}"
    if kind == "set":
        return f"otter-run position set {origin.get('request', '')}".rstrip()
    return str(dict(origin))


def configured_position(origin: Mapping[str, Any], current: Callable[[], Position | None]) -> Position | None:
    """The concrete position ``origin`` names; ``current()`` reads the source's end of log."""
    if origin["kind"] == "position":
        return Position(str(origin["file"]), int(origin.get("pos") or 4))
    if origin["kind"] == "gtid":
        return Position(gtid=str(origin["gtid"]).replace(" ", ""))
    return current()


def source_log_position(plugins: Any, source: DataMediaSource) -> Position | None:
    """The source's current end of log through its plugin's table reader (None: the plugin has none)."""
    try:
        reader = plugins.table_reader(source)
    except PluginNotFound:
        return None
    try:
        return reader.log_position()
    finally:
        reader.close()


class StartPin:
    """Pins one pipeline's start on its first run; lives as long as its PipelineRunner."""

    def __init__(
        self,
        name: str,
        pipeline: Pipeline,
        arbitrator: Arbitrator,
        current: Callable[[], Position | None],
    ) -> None:
        self.name = name
        self.pipeline = pipeline
        self.arbitrator = arbitrator
        self.current = current
        self._reported = False

    def ensure(self) -> Position | None:
        """The position to start from, pinned first if none is saved (None: left to the selector)."""
        saved = self.arbitrator.acked_position()
        if saved is not None:
            if not self._reported:
                self._report(saved)
            return saved
        if not isinstance(self.arbitrator, StartPinning):
            return None
        origin = start_origin(self.pipeline)
        position = configured_position(origin, self.current)
        if position is None:
            log.warning(
                "[%s] the source's plugin cannot tell its current position: start: is resolved by the "
                "selector on every start (not pinned)",
                self.name,
            )
            return None
        self.arbitrator.pin_start(position, origin)
        self._reported = True
        log.info(
            "[%s] %s pinned at %s: retries and restarts resume from there "
            "(`otter-run position show|set|reset` to see or change it)",
            self.name,
            describe_origin(origin),
            position,
        )
        return position

    def _report(self, saved: Position) -> None:
        self._reported = True
        origin = self.arbitrator.saved_start() if isinstance(self.arbitrator, StartPinning) else None
        configured = start_origin(self.pipeline)
        if origin and origin.get("kind") in START_KINDS and dict(origin) != configured:
            log.warning(
                "[%s] the config says %s, but the saved position %s descends from %s: resuming from "
                "the saved position; `otter-run position set` or `reset` applies a new start",
                self.name,
                describe_origin(configured),
                saved,
                describe_origin(origin),
            )
        else:
            log.info("[%s] resuming from the saved position %s", self.name, saved)
