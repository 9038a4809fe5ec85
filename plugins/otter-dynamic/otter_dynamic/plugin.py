"""pluggy hooks of otter-dynamic: the ``dynamic`` EventProcessor and FileResolver.

YAML (options of the pair's ``dynamic`` processor, or of its ``file_resolver: {name: dynamic, ...}``)::

    processor_options:
      dynamic:
        name: price-fix                # the hook's name in the store
        store: /var/lib/otter/dynamic  # the versioned store (or $OTTER_DYNAMIC_STORE)
        source: |                      # optional: seeds the store (a new text becomes a new active version)
          def process(event):
              return event
        options: {rate: 7.1}           # handed to the code as the global `options`

The engine calls ``for_batch()`` once per batch in Extract; the processor then looks at the store's
active pointer (one ``stat``) and, when an administrator activated another version, compiles it and
uses it from this batch on. A whole batch always runs with one version, and a version that fails to
compile is reported and not swapped in (the running one stays).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from otter_core.spi import FILE_SYNC_OPTIONS, ConfigError, DataMediaPair, hookimpl
from otter_dynamic.source import InvalidSource, compile_hook, describe_failure
from otter_dynamic.store import DynamicStore

log = logging.getLogger("otter.dynamic")
NAME = "dynamic"
OPTION_KEYS = {"name", "store", "source", "options", "version"}
STORE_ENV = "OTTER_DYNAMIC_STORE"


class HookFailed(Exception):
    """User code raised; the message names the dynamic hook, its version and the line."""


class CompiledVersion:
    """One compiled version: what a batch runs (``process`` or ``resolve``, by kind)."""

    def __init__(self, name: str, version: int | str, function: Callable[[Any], Any]) -> None:
        self.name = name
        self.version = version
        self.function = function

    def _call(self, event: Any) -> Any:
        try:
            return self.function(event)
        except Exception as exc:
            raise HookFailed(describe_failure(exc, self.name, self.version)) from exc

    process = _call
    resolve = _call


class DynamicHook:
    """Follows the store's active version of one name; ``for_batch`` returns the version to use."""

    def __init__(self, kind: str, options: Mapping[str, Any], pair: DataMediaPair) -> None:
        unknown = set(options) - OPTION_KEYS - (FILE_SYNC_OPTIONS if kind == "file_resolver" else set())
        if unknown:
            raise ConfigError(
                f"dynamic {kind} of pair {pair.source}: unknown option(s) {', '.join(sorted(unknown))} "
                f"(known: {', '.join(sorted(OPTION_KEYS))})"
            )
        self.kind = kind
        self.user_options = dict(options.get("options") or {})
        self.name = str(options.get("name") or "")
        root = options.get("store") or os.environ.get(STORE_ENV)
        source = options.get("source")
        self._lock = threading.Lock()
        self.store: DynamicStore | None = None
        self.pinned = options.get("version")
        if root is None:
            if source is None:
                raise ConfigError(
                    f"dynamic {kind} of pair {pair.source}: give `source` (the code) or `store` "
                    f"and `name` (or set ${STORE_ENV})"
                )
            self.name = self.name or str(pair.source)
            self.current = CompiledVersion(
                self.name, "yaml", compile_hook(source, kind, self.name, "yaml", self.user_options)
            )
            self._stamp = None
            return
        if not self.name:
            raise ConfigError(f"dynamic {kind} of pair {pair.source}: `name` is required with a store")
        self.store = DynamicStore(root)
        if source is not None and self.store.find(self.name, source) is None:
            version = self.store.push(self.name, kind, source, author="yaml", activate=True)
            log.info("dynamic %r: the YAML's source stored as version %d and activated", self.name, version)
        self._stamp = self.store.active_stamp(self.name)
        wanted = int(self.pinned) if self.pinned is not None else self.store.active_version(self.name)
        if wanted is None:
            raise ConfigError(
                f"dynamic {self.name!r} has no active version in {root}: "
                f"otter-dynamic activate --store {root} {self.name} VERSION"
            )
        self.current = self._compile(wanted)
        self.store.record_loaded(self.name, wanted, None)

    def _compile(self, version: int) -> CompiledVersion:
        assert self.store is not None
        source = self.store.source(self.name, version)
        function = compile_hook(source, self.kind, self.name, version, self.user_options)
        return CompiledVersion(self.name, version, function)

    def for_batch(self) -> CompiledVersion:
        """The version the next batch runs with (swapped here, never inside a batch)."""
        store = self.store
        if store is None or self.pinned is not None:
            return self.current
        stamp = store.active_stamp(self.name)
        if stamp == self._stamp:
            return self.current
        with self._lock:
            if stamp != self._stamp:
                self._swap(store, stamp)
            return self.current

    def _swap(self, store: DynamicStore, stamp: tuple[int, int] | None) -> None:
        self._stamp = stamp
        version = store.active_version(self.name)
        if version is None or version == self.current.version:
            return
        try:
            compiled = self._compile(version)
        except (InvalidSource, ConfigError) as exc:
            log.error(
                "dynamic %r: version %d not swapped in, still running v%s: %s",
                self.name,
                version,
                self.current.version,
                exc,
            )
            store.record_loaded(self.name, int(self.current.version), f"v{version}: {exc}")
            return
        log.info("dynamic %r: swapped v%s -> v%d", self.name, self.current.version, version)
        self.current = compiled
        store.record_loaded(self.name, version, None)

    def process(self, event: Any) -> Any:
        """For an engine that does not call ``for_batch``: the version active at the last batch."""
        return self.current.process(event)

    def resolve(self, event: Any) -> Any:
        return self.current.resolve(event)


@hookimpl
def otter_event_processor(name: str, options: Mapping[str, Any], pair: DataMediaPair) -> Any:
    """The ``dynamic`` EventProcessor: ``def process(event)`` from the store or the YAML."""
    return DynamicHook("processor", options, pair) if name == NAME else None


@hookimpl
def otter_file_resolver(name: str, options: Mapping[str, Any], pair: DataMediaPair) -> Any:
    """The ``dynamic`` FileResolver: ``def resolve(event)`` from the store or the YAML."""
    return DynamicHook("file_resolver", options, pair) if name == NAME else None
