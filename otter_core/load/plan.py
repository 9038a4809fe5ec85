"""Order and split merged events for loading: weight buckets, deletes first, contiguous partitions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

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
    return [list(events[size * i // count : size * (i + 1) // count]) for i in range(count)]


def plan_load(
    items: Iterable[tuple[str, int, EventData]], pool_size: int, min_partition_rows: int = MIN_PARTITION_ROWS
) -> list[list[LoadStep]]:
    """Group (target, weight, event) items into phases: ascending weight, deletes before upserts.

    Each inner list holds the steps that may run at the same time (one per target for that phase). A
    step's events are split into up to ``pool_size`` partitions of at least ``min_partition_rows`` rows.
    """
    return plan_groups(group_by_target(items), pool_size, min_partition_rows)


def group_by_target(items: Iterable[tuple[str, int, EventData]]) -> dict[tuple[str, int], list[EventData]]:
    """The events of (target, weight) items per (target, weight), in first-seen order."""
    groups: dict[tuple[str, int], list[EventData]] = {}
    last_target = last_weight = append = None  # a batch's items mostly share one target and weight
    for target, weight, event in items:
        if target is not last_target or weight != last_weight:
            last_target, last_weight = target, weight
            append = groups.setdefault((target, weight), []).append
        append(event)  # type: ignore[misc]  # bound on the first item (last_target starts as None)
    return groups


def plan_groups(
    groups: Mapping[tuple[str, int], Sequence[EventData]],
    pool_size: int,
    min_partition_rows: int = MIN_PARTITION_ROWS,
) -> list[list[LoadStep]]:
    """``plan_load`` of events already grouped per (target, weight) (``group_by_target``)."""
    buckets: dict[tuple[int, bool], dict[str, list[EventData]]] = defaultdict(dict)
    delete = EventType.DELETE
    for (target, weight), events in groups.items():
        deletes: list[EventData] = []
        upserts: list[EventData] = []
        for event in events:
            (deletes if event.event_type is delete else upserts).append(event)
        for is_upsert, part in ((False, deletes), (True, upserts)):
            if part:
                buckets[(weight, is_upsert)].setdefault(target, []).extend(part)
    phases = []
    for weight, is_upsert in sorted(buckets):
        steps = []
        for target, events in buckets[(weight, is_upsert)].items():
            count = min(pool_size, -(-len(events) // max(1, min_partition_rows)))
            parts = tuple(tuple(p) for p in contiguous_runs(events, count) if p)
            steps.append(LoadStep(target, weight, not is_upsert, parts))
        phases.append(steps)
    return phases
