"""Where a position change sends a pipeline: ``{file, pos}``, ``{gtid}`` or ``{time}`` turned into a Position.

A time (Unix seconds or ISO 8601, e.g. ``2026-11-26T10:00:00+00:00``) is mapped to the first transaction
committed at or after it by the source's plugin (hook ``otter_source_admin``, ``position_at``), so the core
reads no binlog itself. ``otter-run position set`` and the manager's position reset use it.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Any

from otter_core.errors import ConfigError
from otter_core.model import DataMediaSource, Position

_GTID = re.compile(r"^\d+-\d+-\d+(,\d+-\d+-\d+)*$")
_BINLOG_FILE = re.compile(r"^[A-Za-z0-9_.-]+\.\d+$")


class InvalidPosition(ConfigError):
    """A request that names no valid position; ``field`` is the request field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.detail = message


def parse_time(value: Any) -> float:
    """Unix seconds from a number or an ISO 8601 text (a text without zone is UTC)."""
    if isinstance(value, bool):
        raise InvalidPosition("time", "give Unix seconds or an ISO 8601 time like 2026-11-26T10:00:00Z")
    if isinstance(value, (int, float)):
        return float(value)
    try:
        moment = datetime.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidPosition(
            "time", f"{value!r} is not a time: give Unix seconds or ISO 8601 like 2026-11-26T10:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def requested_position(request: Mapping[str, Any], source: DataMediaSource | None) -> Position:
    """The Position a request names; exactly one of file+pos, gtid or time must be given."""
    kinds = [k for k in ("file", "gtid", "time") if request.get(k) not in (None, "")]
    if len(kinds) != 1:
        raise InvalidPosition("position", "give exactly one of {file, pos}, {gtid} or {time}")
    if kinds == ["file"]:
        file, pos = str(request["file"]), request.get("pos", 4)
        if not _BINLOG_FILE.match(file):
            raise InvalidPosition("file", f"{file!r} is not a binlog file name like mysql-bin.000003")
        if isinstance(pos, bool) or not isinstance(pos, int) or pos < 4:
            raise InvalidPosition("pos", f"{pos!r} is not a binlog position (an integer >= 4)")
        return Position(file, pos)
    if kinds == ["gtid"]:
        gtid = str(request["gtid"]).replace(" ", "")
        if not _GTID.match(gtid):
            raise InvalidPosition("gtid", f"{gtid!r} is not a MariaDB GTID position like 0-1-100")
        return Position(gtid=gtid)
    when = parse_time(request["time"])
    if source is None:
        raise InvalidPosition("time", "a position by time needs the pipeline's source")
    from otter_core.plugins import AdminPlugins

    admin = AdminPlugins().source_admin(source)
    if admin is None:
        raise InvalidPosition(
            "time",
            f"source {source.name!r} ({source.type}): its plugin cannot map a time to a position; "
            f"give --file/--pos or --gtid",
        )
    return admin.position_at(when)
