"""The reject log: every event a pipeline skipped on purpose, with its position and the reason.

One JSON object per line in ``STATE_DIR/<channel>/<pipeline>.rejects.jsonl``, so nothing that a skip
policy drops is silently lost: an operator can read it and replay the rows by hand.
"""

from __future__ import annotations

import datetime
import decimal
import json
import threading
import time
from pathlib import Path
from typing import Any

from otter_core.model import EventData
from otter_core.state import _safe


def _json_value(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return {"hex": bytes(value).hex()}
    if isinstance(value, (datetime.date, datetime.time, datetime.timedelta, decimal.Decimal)):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


class RejectLog:
    def __init__(self, state_dir: str, channel: str, pipeline: str) -> None:
        self.path = Path(state_dir) / _safe(channel) / f"{_safe(pipeline)}.rejects.jsonl"
        self._lock = threading.Lock()
        self.count = 0

    def write(self, event: EventData, reason: str) -> None:
        record = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "reason": reason,
            "position": event.position.to_dict(),
            "schema": event.schema,
            "table": event.table,
            "type": event.event_type.name,
            "keys": dict(event.keys),
            "columns": dict(event.columns),
            "ddl": event.ddl_sql,
        }
        line = json.dumps(record, default=_json_value, ensure_ascii=False)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as out:
                out.write(line + "\n")
                out.flush()
            self.count += 1

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]
