"""A load held on an event instead of a slow target, for tests of what runs while a batch loads."""

from __future__ import annotations

import threading
from typing import Any

from otter_core.engine import load as load_module


class HeldFirstLoad:
    """Holds the load of the batch with key ``id`` 1 until the batch with key ``id`` 2 has been merged
    (at most ``hold_seconds``), and records which threads merged that second batch.

    ``held`` is ``[True]`` when the second batch was merged while the first one's load was held: the merge
    ran ahead on another thread. Patches ``merge_events`` of the load stage and ``loader_class.load``
    through pytest's ``monkeypatch``, so they are undone after the test."""

    def __init__(self, monkeypatch: Any, loader_class: Any, hold_seconds: float) -> None:
        self.first_loading = threading.Event()
        self.second_merged = threading.Event()
        self.second_merges: list[str] = []  # the threads that merged the second batch
        self.held: list[bool] = []
        merge_events = load_module.merge_events
        load = loader_class.load

        def recording_merge(events: Any) -> Any:
            events = list(events)
            if any(event.keys.get("id") == 2 for event in events):
                self.second_merges.append(threading.current_thread().name)
                self.second_merged.set()
            return merge_events(events)

        def held_load(loader: Any, events: Any, slot: int) -> int:
            if not self.held and any(event.keys.get("id") == 1 for event in events):
                self.first_loading.set()
                self.held.append(self.second_merged.wait(hold_seconds))
            return load(loader, events, slot)

        monkeypatch.setattr(load_module, "merge_events", recording_merge)
        monkeypatch.setattr(loader_class, "load", held_load)
