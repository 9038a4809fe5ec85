"""Conflict detection inside the load transaction (pairs with ``conflict:``; docs/configuration.md).

For each table of a load call: one ``SELECT … WHERE key IN (…) FOR UPDATE`` reads (and locks) the target
rows, so nothing changes them between the check and the write. Each change is compared with the row the
source saw (its before image, or "no row" for an INSERT): equal, or already equal to the change's after
image, means no conflict. Python's ``==`` is stricter than the server's comparison, so a row that looks
different is confirmed by the server with ``<=>`` on each column (its own type and collation) before it
counts as a conflict; only those rows cost a second query. The policy then applies, keeps or parks the
change, and every conflict is written to ``retl.retl_conflict`` in the same transaction.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import attrs

from otter_core.spi import (
    ConflictPolicy,
    EventData,
    EventType,
    Hint,
    LoadError,
    Pipeline,
    SyncMode,
    parse_policy,
)
from otter_mysql import conflict_log
from otter_mysql.dialect import literal, literal_row, quote_ident, quote_table

log = logging.getLogger("otter.load")
CHUNK = 500
INSERT_ONLY = (
    Hint.INSERT_ONLY
)  # found absent: written by a plain INSERT, so a row inserted since fails the load
_POLICY = Hint.CONFLICT_POLICY.value
_ABSENT = ("absent", None)


def _norm(value: Any) -> Any:
    """What the target gives back for a value the binlog decoder produced (TIMESTAMP: naive UTC)."""
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        return value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value


def before_state(event: EventData) -> tuple[str, dict | None] | None:
    """("absent", None), ("present", before image) or None when unknown (no check)."""
    if Hint.ABSENT_BEFORE in event.hints:
        return _ABSENT
    if event.event_type is EventType.INSERT:
        return _ABSENT if event.old_columns is None else ("present", dict(event.old_columns))
    if event.event_type is EventType.DELETE:
        return ("present", dict(event.old_columns if event.old_columns is not None else event.columns))
    return None if event.old_columns is None else ("present", dict(event.old_columns))


def _known_before_state(event: EventData) -> tuple[str, dict | None]:
    """``before_state`` of an event the screen checks: only events with a known one are checked."""
    found = before_state(event)
    if found is None:
        raise ValueError(f"{event.schema}.{event.table}: a {event.event_type.value} without a before image")
    return found


class ConflictScreen:
    """Per loader: decides, inside the load transaction, which events of a batch are written."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.channel = pipeline.channel or pipeline.name
        self.field_mode = pipeline.parameters.sync_mode == SyncMode.FIELD
        self.home_is_source = pipeline.home  # this pipeline loads the far side
        self.home_is_target = pipeline.two_way and not pipeline.home
        self.manual = any(p.conflict is not None and p.conflict.kind == "manual" for p in pipeline.pairs)
        self._policies: dict[frozenset, ConflictPolicy | None] = {}
        self.detected = 0

    def policy_of(self, event: EventData) -> ConflictPolicy | None:
        if event.hints not in self._policies:
            hint = next((h for h in event.hints if h.startswith(_POLICY)), None)
            self._policies[event.hints] = parse_policy(hint[len(_POLICY) :]) if hint else None
        return self._policies[event.hints]

    def screen(self, cur: Any, events: Sequence[EventData]) -> list[EventData]:
        """The events to write; conflicts are logged (and parked) through ``cur``."""
        out: list[EventData] = []
        checked: dict[tuple[str, str], list[tuple[EventData, ConflictPolicy]]] = defaultdict(list)
        settled: dict[tuple[str, str], list[str]] = defaultdict(list)
        for event in events:
            policy = self.policy_of(event)
            if policy is None:
                out.append(event)
            elif Hint.CONFLICT_RESOLUTION in event.hints:  # an operator settled this key on the other side
                out.append(event)
                settled[(event.schema, event.table)].append(conflict_log.key_hash(event.keys))
            elif Hint.REREAD in event.hints or before_state(event) is None:
                out.append(event)
            else:  # compared and written as a whole row: a partial write would leave the sides mixed
                if (
                    self.field_mode
                    and event.event_type is EventType.UPDATE
                    and len(event.updated) != len(event.columns)
                ):
                    event = attrs.evolve(event, updated=frozenset(event.columns))
                checked[(event.schema, event.table)].append((event, policy))
        for (schema, table), hashes in settled.items():
            conflict_log.supersede(cur, self.channel, self.pipeline.name, schema, table, hashes)
        records: list[str] = []
        for (schema, table), items in checked.items():
            out.extend(self._screen_table(cur, schema, table, items, records))
        if records:
            self.detected += len(records)
            for start in range(0, len(records), CHUNK):
                cur.execute(conflict_log.INSERT_HEAD + ",".join(records[start : start + CHUNK]))
        return out

    # ------------------------------------------------------------------------------------------ one table

    def _screen_table(
        self, cur: Any, schema: str, table: str, items: list, records: list[str]
    ) -> list[EventData]:
        parked = (
            conflict_log.parked_keys(
                cur,
                self.channel,
                self.pipeline.name,
                schema,
                table,
                (conflict_log.key_hash(e.keys) for e, _ in items),
            )
            if self.manual
            else {}
        )
        pending = []
        for event, policy in items:
            parent = parked.get(conflict_log.key_hash(event.keys)) if parked else None
            if parent is not None:  # an earlier change of this key waits for an operator: keep the order
                records.append(self._record(event, "behind", policy, "parked", None, parent))
            else:
                pending.append((event, policy))
        if not pending:
            return []
        rows = self._target_rows(cur, schema, table, [e for e, _ in pending])
        suspects = []
        out = []
        for event, policy in pending:
            target = rows.get(tuple(_norm(v) for v in event.keys.values()))
            kind = self._first_look(event, target)
            if kind is None:
                out.append(
                    _insert_only(event)
                    if target is None and event.event_type is not EventType.DELETE
                    else event
                )
            elif target is None:
                self._decide(cur, event, policy, kind, None, 0, out, records)
            else:
                suspects.append((event, policy, kind, target))
        for (event, policy, kind, target), (same, newer) in zip(
            suspects, self._confirm(cur, schema, table, suspects)
        ):
            if same:
                out.append(event)
            else:
                self._decide(cur, event, policy, kind, target, newer, out, records)
        return out

    def _target_rows(self, cur: Any, schema: str, table: str, events: list[EventData]) -> dict[tuple, dict]:
        names = list(events[0].keys)
        head = (
            f"SELECT * FROM {quote_table(schema, table)} WHERE "
            + (quote_ident(names[0]) if len(names) == 1 else "(" + ",".join(map(quote_ident, names)) + ")")
            + " IN ("
        )
        rows: dict[tuple, dict] = {}
        for start in range(0, len(events), CHUNK):
            chunk = events[start : start + CHUNK]
            lits = [
                literal(next(iter(e.keys.values()))) if len(names) == 1 else literal_row(e.keys.values())
                for e in chunk
            ]
            cur.execute(head + ",".join(lits) + ") FOR UPDATE")
            columns = [d[0] for d in cur.description]
            for values in cur.fetchall():
                row = dict(zip(columns, values))
                rows[tuple(_norm(row.get(k)) for k in names)] = row
        return rows

    def _written(self, event: EventData) -> list[str]:
        if event.event_type is EventType.UPDATE and self.field_mode:
            return [c for c in event.columns if c in event.updated]
        return list(event.columns)

    def _compared_before(self, event: EventData, before: dict) -> list[str]:
        if event.event_type is EventType.UPDATE and self.field_mode:
            return [c for c in before if c in event.updated]
        return list(before)

    def _first_look(self, event: EventData, target: dict | None) -> str | None:
        """None when the change meets the row it expects (or its own result); else the conflict kind."""
        state, before = _known_before_state(event)
        delete = event.event_type is EventType.DELETE
        if target is None:
            if state == "absent" or Hint.ABSENT_OK in event.hints:  # the source's row was gone in between
                return None
            return "delete-missing" if delete else "update-missing"
        if not delete and all(
            _same(target.get(c), v) for c, v in event.columns.items() if c in self._written(event)
        ):
            return None
        if (
            state == "present"
            and before is not None
            and all(_same(target.get(c), before[c]) for c in self._compared_before(event, before))
        ):
            return None
        if state == "absent":
            return "delete-changed" if delete else "insert-existing"
        return "delete-changed" if delete else "update-changed"

    def _confirm(self, cur: Any, schema: str, table: str, suspects: list) -> list[tuple[bool, int]]:
        """(equal as the server compares, newer) per suspect; newer: 1 source newer, -1 target, 0 tie."""
        results: list[tuple[bool, int]] = []
        name = quote_table(schema, table)
        for start in range(0, len(suspects), CHUNK):
            parts = []
            for n, (event, policy, _kind, _) in enumerate(suspects[start : start + CHUNK]):
                state, before = _known_before_state(event)
                after = (
                    "0"
                    if event.event_type is EventType.DELETE
                    else _all_equal({c: event.columns[c] for c in self._written(event)})
                )
                prior = (
                    _all_equal({c: before[c] for c in self._compared_before(event, before)})
                    if state == "present" and before is not None
                    else "0"
                )
                newer = self._newer_sql(event, policy)
                where = " AND ".join(f"{quote_ident(k)} <=> {literal(v)}" for k, v in event.keys.items())
                parts.append(f"(SELECT {n}, ({after}) OR ({prior}), {newer} FROM {name} WHERE {where})")
            cur.execute(" UNION ALL ".join(parts))
            found = {int(n): (bool(same), int(newer or 0)) for n, same, newer in cur.fetchall()}
            results.extend(found.get(n, (False, 0)) for n in range(len(suspects[start : start + CHUNK])))
        return results

    def _newer_sql(self, event: EventData, policy: ConflictPolicy) -> str:
        if policy.kind != "newer_wins":
            return "0"
        column = policy.column or ""
        # a DELETE's version is the row it removed (its logged image), not the state a merged chain expected
        # before its first change: after U(v1->v2)+D(v2) the source deleted v2, and a target holding v2 is no
        # newer (that image is the one home writes back when it keeps a row's absence)
        image = event.columns
        if image is None or column not in image:
            raise LoadError(
                f"{event.describe()}: conflict policy {policy} names column {column!r}, which the "
                f"change does not carry: map the column in the pair or choose another column",
                retryable=False,
            )
        col, value = quote_ident(column), literal(image[column])
        return (
            f"CASE WHEN {col} <=> {value} THEN 0 WHEN {col} IS NULL THEN 1 WHEN {value} IS NULL THEN -1 "
            f"WHEN {col} < {value} THEN 1 ELSE -1 END"
        )

    # ------------------------------------------------------------------------------------------ deciding

    def _decide(
        self,
        cur: Any,
        event: EventData,
        policy: ConflictPolicy,
        kind: str,
        target: dict | None,
        newer: int,
        out: list[EventData],
        records: list[str],
    ) -> None:
        if kind == "delete-missing":
            apply = True  # both sides agree the row is gone: nothing to do, whatever the policy
        elif policy.kind == "manual":
            records.append(self._record(event, kind, policy, "parked", target))
            return
        elif policy.kind == "source_wins":
            apply = True
        elif policy.kind == "home_wins":
            apply = not self.home_is_target
        elif kind == "update-missing":
            apply = not self.home_is_target  # newer_wins: a deleted row has no version left: home decides
        else:
            apply = newer > 0 or (newer == 0 and not self.home_is_target)
        records.append(self._record(event, kind, policy, "applied" if apply else "kept-target", target))
        log.info(
            "conflict %s on %s: %s (%s)",
            kind,
            event.describe(),
            "applied" if apply else "kept target",
            policy,
        )
        if apply:  # the source's row wins whole: in field mode only its changed columns would mix the rows
            out.append(
                attrs.evolve(event, updated=frozenset(event.columns))
                if event.event_type is EventType.UPDATE
                else event
            )
        elif (
            self.home_is_target
        ):  # home keeps its row: write it again, so the remedy carries it to the far side
            image = (
                event.columns
                if event.event_type is not EventType.DELETE
                else (event.old_columns or event.columns)
            )
            conflict_log.write_image(
                cur,
                event.schema,
                event.table,
                event.keys,
                dict(target) if target is not None else None,
                {**event.keys, **image},
            )

    def _record(
        self,
        event: EventData,
        kind: str,
        policy: ConflictPolicy,
        outcome: str,
        target: dict | None,
        parent: int | None = None,
    ) -> str:
        return conflict_log.record_row(
            self.channel,
            self.pipeline.name,
            event,
            kind,
            str(policy),
            outcome,
            target,
            self._written(event),
            parent,
        )


def _insert_only(event: EventData) -> EventData:
    return attrs.evolve(event, hints=event.hints | {INSERT_ONLY})


def _same(a: Any, b: Any) -> bool:
    return a == b or _norm(a) == _norm(b)


def _all_equal(values: dict) -> str:
    return " AND ".join(f"{quote_ident(c)} <=> {literal(v)}" for c, v in values.items()) or "1"
