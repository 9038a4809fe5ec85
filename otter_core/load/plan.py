"""Order and split merged events for loading: weight buckets, deletes first, contiguous partitions."""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Sequence

from attrs import frozen

from otter_core.model import EventData, EventType

# A partition is worth its own connection (one more statement, commit and thread hand-off) only from
# this many rows on: a small batch loads in one transaction, which is what keeps latency low under a
# trickle of small transactions; a big one still spreads over the whole pool.
MIN_PARTITION_ROWS = 256


@frozen
class LoadStep:
    """Events for one target, one weight, one phase (deletes or upserts), split into partitions."""

    target: str
    weight: int
    is_delete: bool
    partitions: tuple[tuple[EventData, ...], ...]


def contiguous_runs(events: Sequence[EventData], count: int) -> list[list[EventData]]:
    """Split into ``count`` contiguous runs of nearly equal size.

    Merged events hold one event per table+key, so any split keeps each key on one connection. Contiguous
    runs keep neighbouring keys (rows inserted in key order arrive in key order) on the same connection,
    so the connections write different index pages instead of interleaving on the same ones."""
    if count <= 1:
        return [list(events)]
    size = len(events)
    return [list(events[size * i // count:size * (i + 1) // count]) for i in range(count)]


def plan_load(items: Iterable[tuple[str, int, EventData]], pool_size: int,
              min_partition_rows: int = MIN_PARTITION_ROWS) -> list[list[LoadStep]]:
    """Group (target, weight, event) items into phases: ascending weight, deletes before upserts.

    Each inner list holds the steps that may run at the same time (one per target for that phase). A
    step's events are split into up to ``pool_size`` partitions of at least ``min_partition_rows`` rows.
    """
    buckets: dict[tuple[int, bool], dict[str, list[EventData]]] = defaultdict(lambda: defaultdict(list))
    delete = EventType.DELETE
    last: tuple | None = None  # (target, weight, is_upsert) of the bucket ``append`` fills
    append = None
    for target, weight, event in items:
        is_upsert = event.event_type is not delete
        if last is None or target is not last[0] or weight != last[1] or is_upsert is not last[2]:
            last = (target, weight, is_upsert)
            append = buckets[(weight, is_upsert)][target].append
        append(event)  # type: ignore[misc]
    phases = []
    for (weight, is_upsert) in sorted(buckets):
        steps = []
        for target, events in buckets[(weight, is_upsert)].items():
            count = min(pool_size, -(-len(events) // max(1, min_partition_rows)))
            parts = tuple(tuple(p) for p in contiguous_runs(events, count) if p)
            steps.append(LoadStep(target, weight, not is_upsert, parts))
        phases.append(steps)
    return phases
