"""Where a reset sends a pipeline: the manager's names for ``otter_core.position_request``, which turns
``{file, pos}``, ``{gtid}`` or ``{time}`` into a Position (a time through the source plugin's
``otter_source_admin`` hook, so the manager reads no binlog itself)."""

from __future__ import annotations

from otter_core.position_request import InvalidPosition, parse_time, requested_position

InvalidReset = InvalidPosition  # a reset request that names no valid position; ``field`` is at fault

__all__ = ["InvalidReset", "parse_time", "requested_position"]
