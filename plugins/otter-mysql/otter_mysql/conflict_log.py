"""The conflict log ``retl.retl_conflict`` on a target: rows, images as JSON, parked keys, resolution.

Every conflict a loader detects is one row, written in the load transaction (see ``otter_mysql.conflicts``).
A ``manual`` conflict stays ``parked`` (with the later changes of its key parked behind it) until
``resolve`` writes the operator's choice in one transaction with the conflict rows. That transaction has
no loopback mark, so the reverse pipeline of a two-way channel carries it to the other side; its selector
recognises it by the ``retl_conflict`` rows turning ``resolved`` (``retl.LoopbackTracker``).
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from otter_core.spi import ConfigError, EventData, EventType, LoadError
from otter_mysql.dialect import literal, literal_row, quote_ident, quote_table

SCHEMA = "retl"
TABLE = "retl_conflict"
FULL = f"`{SCHEMA}`.`{TABLE}`"
CREATE_SQL = (
    f"CREATE TABLE IF NOT EXISTS {FULL} (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
    "channel VARCHAR(64) NOT NULL, pipeline VARCHAR(128) NOT NULL, schema_name VARCHAR(64) NOT NULL, "
    "table_name VARCHAR(64) NOT NULL, pk LONGTEXT NOT NULL, pk_hash CHAR(40) NOT NULL, "
    "kind VARCHAR(24) NOT NULL, event_type VARCHAR(8) NOT NULL, policy VARCHAR(96) NOT NULL, "
    "outcome VARCHAR(24) NOT NULL, status VARCHAR(12) NOT NULL, parent_id BIGINT NULL, "
    "source_image LONGTEXT NULL, source_before LONGTEXT NULL, target_image LONGTEXT NULL, "
    "written LONGTEXT NULL, position VARCHAR(255) NOT NULL DEFAULT '', source_time DOUBLE NOT NULL DEFAULT 0, "
    "detected_at DATETIME(6) NOT NULL, resolved_at DATETIME(6) NULL, resolved_by VARCHAR(128) NULL, "
    "resolution LONGTEXT NULL, KEY parked (status, channel, pipeline, schema_name, table_name, pk_hash))"
)
COLUMNS = (
    "channel",
    "pipeline",
    "schema_name",
    "table_name",
    "pk",
    "pk_hash",
    "kind",
    "event_type",
    "policy",
    "outcome",
    "status",
    "parent_id",
    "source_image",
    "source_before",
    "target_image",
    "written",
    "position",
    "source_time",
)
INSERT_HEAD = f"INSERT INTO {FULL} ({', '.join(COLUMNS)}, detected_at) VALUES "
OUTCOMES = (
    "applied",
    "kept-target",
    "parked",
    "resolved-source",
    "resolved-target",
    "resolved-image",
    "superseded",
)
ACTIONS = {"source": "resolved-source", "target": "resolved-target", "image": "resolved-image"}


# ------------------------------------------------------------------------------------------- JSON images


def plain(value: Any) -> Any:
    """A row value as it goes into JSON: bytes as ``{"hex": …}``, times/decimals as text (UTC, naive)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"hex": bytes(value).hex()}
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return value.isoformat(" ")
    if isinstance(value, (datetime.date, datetime.time, datetime.timedelta, decimal.Decimal)):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return ",".join(sorted(str(v) for v in value))
    return value


def to_json(values: Mapping[str, Any] | None) -> str | None:
    if values is None:
        return None
    return json.dumps({k: plain(v) for k, v in values.items()}, ensure_ascii=False, default=str)


def from_json(text: str | None) -> dict[str, Any] | None:
    """An image back to values the loader can write (``{"hex": …}`` becomes bytes again)."""
    if text is None:
        return None
    return {k: _value(v) for k, v in json.loads(text).items()}


def _value(v: Any) -> Any:
    if isinstance(v, dict) and set(v) == {"hex"}:
        return bytes.fromhex(v["hex"])
    return v


def key_hash(keys: Mapping[str, Any]) -> str:
    return hashlib.sha1(
        json.dumps([[k, plain(v)] for k, v in keys.items()], default=str, ensure_ascii=False).encode()
    ).hexdigest()


# ------------------------------------------------------------------------------------------- writing


def record_row(
    channel: str,
    pipeline: str,
    event: EventData,
    kind: str,
    policy: str,
    outcome: str,
    target: Mapping[str, Any] | None,
    written: Sequence[str],
    parent_id: int | None = None,
) -> str:
    """One ``(…)`` literal of a conflict row for ``INSERT_HEAD``."""
    source = None if event.event_type is EventType.DELETE else {**event.keys, **event.columns}
    before = (
        event.old_columns
        if event.event_type is not EventType.DELETE
        else (event.old_columns or event.columns)
    )
    values = (
        channel,
        pipeline[:128],
        event.schema,
        event.table,
        to_json(event.keys),
        key_hash(event.keys),
        kind,
        event.event_type.value,
        policy,
        outcome,
        "parked" if outcome == "parked" else "done",
        parent_id,
        to_json(source),
        to_json({**event.keys, **before}) if before is not None else None,
        to_json(target),
        json.dumps(list(written)),
        str(event.position)[:255],
        float(event.execute_time),
    )
    return literal_row(values)[:-1] + ",NOW(6))"


def parked_keys(
    cur: Any, channel: str, pipeline: str, schema: str, table: str, hashes: Iterable[str]
) -> dict[str, int]:
    """pk_hash -> id of the first parked conflict of that key (rows locked until the load commits)."""
    hashes = list(dict.fromkeys(hashes))
    if not hashes:
        return {}
    cur.execute(
        f"SELECT pk_hash, id FROM {FULL} WHERE status = 'parked' AND channel = %s AND pipeline = %s "
        f"AND schema_name = %s AND table_name = %s AND pk_hash IN ({', '.join(['%s'] * len(hashes))}) "
        "ORDER BY id FOR UPDATE",
        (channel, pipeline[:128], schema, table, *hashes),
    )
    found: dict[str, int] = {}
    for digest, ident in cur.fetchall():
        found.setdefault(digest, ident)
    return found


def supersede(cur: Any, channel: str, pipeline: str, schema: str, table: str, hashes: Iterable[str]) -> int:
    """Close the parked conflicts of keys an operator's resolution on the other side settled."""
    hashes = list(dict.fromkeys(hashes))
    if not hashes:
        return 0
    cur.execute(
        f"UPDATE {FULL} SET status = 'resolved', outcome = 'superseded', resolved_at = NOW(6), "
        "resolved_by = 'resolution on the other side' WHERE status = 'parked' AND channel = %s AND "
        f"pipeline = %s AND schema_name = %s AND table_name = %s AND pk_hash IN "
        f"({', '.join(['%s'] * len(hashes))})",
        (channel, pipeline[:128], schema, table, *hashes),
    )
    return cur.rowcount


# ------------------------------------------------------------------------------------------- resolving


def final_image(
    action: str,
    chain: Sequence[dict],
    target: dict | None,
    image: Mapping[str, Any] | None,
    keys: Mapping[str, Any],
) -> dict | None:
    """The row the key must end as: the parked changes applied in order over the target row (``source``),
    the target row (``target``) or the operator's image (``image``; None deletes)."""
    if action == "target":
        return target
    if action == "image":
        return None if image is None else {**keys, **image}
    state = dict(target) if target is not None else None
    for rec in chain:
        source = from_json(rec["source_image"])
        if rec["event_type"] == EventType.DELETE.value:
            state = None
        elif state is None or rec["event_type"] == EventType.INSERT.value:
            state = source
        elif source is None:
            raise ValueError(f"parked {rec['event_type']} of {dict(keys)} has no source image to apply")
        else:
            state.update({c: source[c] for c in json.loads(rec["written"] or "[]") if c in source})
    return state


def write_image(
    cur: Any, schema: str, table: str, keys: Mapping[str, Any], state: dict | None, known: dict | None
) -> None:
    """Delete the key's row and insert ``state``: always a logged change (a no-change UPDATE is not), so
    the reverse pipeline sees it. Deleting a row that is not there is not logged either: then a ``known``
    image of the key is inserted first."""
    where = " AND ".join(f"{quote_ident(k)} <=> {literal(v)}" for k, v in keys.items())
    name = quote_table(schema, table)
    cur.execute(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
        "AND (EXTRA LIKE '%%GENERATED%%' OR EXTRA LIKE 'ROW %%')",
        (schema, table),
    )
    generated = {r[0].lower() for r in cur.fetchall()}  # cannot be written: the server computes them
    if generated:
        state = None if state is None else {k: v for k, v in state.items() if k.lower() not in generated}
        known = None if known is None else {k: v for k, v in known.items() if k.lower() not in generated}
    cur.execute(f"SELECT COUNT(*) FROM {name} WHERE {where}")
    present = cur.fetchone()[0] > 0
    if not present and state is None and known is not None:
        _insert(cur, name, {**known, **keys})
        present = True
    if present:
        cur.execute(f"DELETE FROM {name} WHERE {where}")
    if state is not None:
        _insert(cur, name, state)


def _insert(cur: Any, name: str, row: Mapping[str, Any]) -> None:
    cur.execute(f"INSERT INTO {name} ({', '.join(map(quote_ident, row))}) VALUES {literal_row(row.values())}")


def fetch(
    cur: Any, where: str, args: Sequence[Any], lock: bool = False, limit: int | None = None
) -> list[dict]:
    sql = (
        f"SELECT * FROM {FULL} WHERE {where} ORDER BY id DESC"
        if not lock
        else f"SELECT * FROM {FULL} WHERE {where} ORDER BY id FOR UPDATE"
    )
    if limit:
        sql += f" LIMIT {int(limit)}"
    cur.execute(sql, args)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def resolve(conn: Any, ident: int, action: str, image: Mapping[str, Any] | None, by: str) -> list[dict]:
    """Apply an operator's decision for parked conflict ``ident`` (and the changes parked behind it) in
    one transaction; return the conflict rows as they are now."""
    if action not in ACTIONS:
        raise ConfigError(f"unknown resolution {action!r}: expected source, target or image")
    try:
        with conn.cursor() as cur:
            found = fetch(cur, "id = %s", (ident,), lock=True)
            if not found:
                raise ConfigError(f"no conflict {ident} in {FULL}")
            rec = found[0]
            if rec["status"] != "parked":
                raise ConfigError(
                    f"conflict {ident} is {rec['status']} ({rec['outcome']}), not parked: nothing to resolve"
                )
            chain = fetch(
                cur,
                "status = 'parked' AND channel = %s AND pipeline = %s AND schema_name = %s AND "
                "table_name = %s AND pk_hash = %s",
                (rec["channel"], rec["pipeline"], rec["schema_name"], rec["table_name"], rec["pk_hash"]),
                lock=True,
            )
            keys = from_json(rec["pk"]) or {}
            name = quote_table(rec["schema_name"], rec["table_name"])
            where = " AND ".join(f"{quote_ident(k)} <=> {literal(v)}" for k, v in keys.items())
            cur.execute(f"SELECT * FROM {name} WHERE {where} FOR UPDATE")
            row = cur.fetchone()
            target = dict(zip([d[0] for d in cur.description], row)) if row else None
            state = final_image(action, chain, target, image, keys)
            known = next(
                (
                    from_json(r[c])
                    for r in chain
                    for c in ("source_image", "target_image", "source_before")
                    if r[c]
                ),
                None,
            )
            write_image(cur, rec["schema_name"], rec["table_name"], keys, state, known)
            ids = [r["id"] for r in chain]
            cur.execute(
                f"UPDATE {FULL} SET status = 'resolved', outcome = %s, resolved_at = NOW(6), "
                f"resolved_by = %s, resolution = %s WHERE id IN ({', '.join(['%s'] * len(ids))})",
                (ACTIONS[action], by[:128], to_json(state) or "null", *ids),
            )
            result = fetch(cur, f"id IN ({', '.join(['%s'] * len(ids))})", ids)
        conn.commit()
        return result
    except ConfigError:
        conn.rollback()
        raise
    except Exception as exc:
        conn.rollback()
        raise LoadError(f"resolving conflict {ident} failed: {exc}") from None
