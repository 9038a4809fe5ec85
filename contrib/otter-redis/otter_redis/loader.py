"""The Redis cache loader: each merged row event deletes or rewrites its cache key, in one MULTI/EXEC.

Used two ways:
- **Redis as the only target** of a pipeline (``target: cache``).
- **A side effect of a database load**: the same source table is paired twice, once to the database and
  once to the cache (``target_source: cache``) with a higher ``push_weight``. Load applies weights in
  ascending order and a batch is acked only after every phase, so the cache is touched only after the
  database part of that batch committed, and a failed cache refresh rolls the batch back and replays it
  (both writes are idempotent). The loader refuses a pipeline where the cache pair does not weigh more
  than a database pair of the same source table.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from otter_core.spi import (
    ConfigError,
    DataError,
    DataMediaPair,
    DataMediaSource,
    EventData,
    EventType,
    LoadError,
    Pipeline,
)
from otter_redis.rules import CacheRule, parse_rules

log = logging.getLogger("otter.load.redis")


class RedisCacheLoader:
    """``otter_core.contracts.Loader`` that refreshes Redis keys from row changes."""

    ignores_ddl = True  # a cache has no schema: Load skips DDL for this target (even on a renamed pair)

    def __init__(self, target: DataMediaSource, pipeline: Pipeline) -> None:
        self.target = target
        self.pipeline = pipeline
        options = dict(target.options or {})
        self.rules = parse_rules(target.name, options.get("tables"))
        self.db = int(options.get("db", 0))
        self.dry_run = pipeline.parameters.dry_run
        check_weights(pipeline, target.name)
        self._client: Any = None

    def _redis(self) -> Any:
        if self._client is None:
            import redis

            options = self.target.options or {}
            self._client = redis.Redis(
                host=self.target.host,
                port=self.target.port,
                db=self.db,
                username=self.target.user if options.get("acl_user") else None,
                password=self.target.password or None,
                ssl=bool(options.get("ssl", False)),
                socket_timeout=float(options.get("socket_timeout", 10)),
                socket_connect_timeout=float(options.get("connect_timeout", 10)),
            )
        return self._client

    def rule(self, event: EventData) -> CacheRule:
        rule = self.rules.get((event.schema, event.table))
        if rule is None:
            raise LoadError(
                f"Redis target {self.target.name} has no cache rule for {event.full_name}: add "
                f"sources.{self.target.name}.options.tables.{event.full_name}: {{key: ..., value: json}}",
                retryable=False,
            )
        return rule

    def commands(self, events: Sequence[EventData]) -> list[tuple]:
        """The Redis commands for ``events``, in order (also what dry-run logs)."""
        out: list[tuple] = []
        for ev in events:
            if ev.event_type is EventType.DDL:
                continue
            rule = self.rule(ev)
            key = rule.key_for(ev)
            if ev.event_type is EventType.DELETE or rule.value == "delete":
                out.append(("DEL", key))
            elif rule.value == "json":
                out.append(("SET", key, rule.json_text(ev), rule.ttl_seconds))
            else:
                out.append(("DEL", key))
                fields = rule.hash_fields(ev)
                if fields:
                    out.append(("HSET", key, fields))
                    if rule.ttl_seconds:
                        out.append(("EXPIRE", key, rule.ttl_seconds))
        return out

    def load(self, events: Sequence[EventData], slot: int) -> int:
        """Apply the cache commands of ``events`` atomically (MULTI/EXEC); return the rows handled."""
        if not events:
            return 0
        try:
            commands = self.commands(events)
        except DataError as exc:
            raise LoadError(f"Redis target {self.target.name}: {exc}", retryable=False) from None
        if self.dry_run:
            for command in commands[:20]:
                log.info("dry run: would send %s to %s", command[:2], self.target.name)
            return 0
        import redis

        pipe = self._redis().pipeline(transaction=True)
        for command in commands:
            if command[0] == "DEL":
                pipe.delete(command[1])
            elif command[0] == "SET":
                pipe.set(command[1], command[2], ex=command[3])
            elif command[0] == "HSET":
                pipe.hset(command[1], mapping=command[2])
            else:
                pipe.expire(command[1], command[2])
        try:
            pipe.execute()
        except redis.ConnectionError as exc:
            self.close()
            raise LoadError(
                f"Redis target {self.target.name} ({self.target.host}:{self.target.port}) unreachable: "
                f"{exc}; the batch will be retried"
            ) from None
        except redis.RedisError as exc:
            first = events[0].describe()
            raise LoadError(
                f"Redis target {self.target.name} refused the cache refresh of a chunk starting at "
                f"{first}: {exc}",
                retryable=False,
            ) from None
        return sum(1 for ev in events if ev.event_type is not EventType.DDL)

    def apply_ddl(self, event: EventData) -> None:
        """A cache has no schema: DDL is noted and ignored."""
        log.info(
            "Redis target %s: DDL on %s ignored (a cache has no schema)", self.target.name, event.full_name
        )

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except Exception:
                log.debug("closing the Redis client failed", exc_info=True)
            self._client = None


def _targets(pipeline: Pipeline, pair: DataMediaPair) -> str:
    return pair.target_source or pipeline.target


def check_weights(pipeline: Pipeline, cache: str) -> None:
    """A cache pair must load after every database pair of the same source table (higher push_weight)."""
    for pair in pipeline.pairs:
        if _targets(pipeline, pair) != cache:
            continue
        for other in pipeline.pairs:
            if other is pair or _targets(pipeline, other) == cache or other.source != pair.source:
                continue
            if other.push_weight >= pair.push_weight:
                raise ConfigError(
                    f"pipeline {pipeline.name!r}: the cache pair {pair.source} -> {cache} has push_weight "
                    f"{pair.push_weight}, not more than the pair to {_targets(pipeline, other)} "
                    f"({other.push_weight}): give the cache pair a higher push_weight so the cache is refreshed "
                    "only after the database load of each batch"
                )
