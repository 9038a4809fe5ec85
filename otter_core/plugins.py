"""Finding plugins (stevedore, by entry point) and calling them (pluggy, through a typed facade).

stevedore picks the one implementation a pipeline names; pluggy calls it. There is one PluginManager per
pipeline and nothing is loaded at import time. A child process (the chunk reader) is given the entry points
its parent already resolved (``resolved_entry_points``) and imports those modules directly: stevedore and
``importlib.metadata`` (~20 ms of imports, then a scan of every installed distribution) are not needed there.
"""

from __future__ import annotations

import argparse
import importlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pluggy

from otter_core import hookspecs
from otter_core.contracts import (
    Arbitrator,
    ConflictStore,
    EventProcessor,
    FileResolver,
    Loader,
    Pipe,
    RowReader,
    Selector,
    SourceAdmin,
    TableReader,
)
from otter_core.errors import ConfigError, OtterError, PluginNotFound
from otter_core.model import DataMediaPair, DataMediaSource, EventData, Pipeline, RowBatch
from otter_core.model.node import NodeContext

log = logging.getLogger(__name__)

NAMESPACES = {
    "selector": "otter.selectors",
    "loader": "otter.loaders",
    "pipe": "otter.pipes",
    "arbitrator": "otter.arbitrators",
    "processor": "otter.processors",
    "file_resolver": "otter.file_resolvers",
    "observer": "otter.observers",
    "cli": "otter.cli",
}
# Observers (``otter_batch_loaded``, ``otter_load_failed``) are not named by the YAML: every installed
# plugin registered under this namespace observes every pipeline.
OBSERVERS = NAMESPACES["observer"]
_observers: list[Any] | None = None

# Which distribution provides a well-known plugin name, so a missing one can be named precisely.
KNOWN_DISTRIBUTIONS = {
    "mysql": "otter-mysql",
    "mariadb": "otter-mysql",
    "oracle": "otter-oracle",
    "postgresql": "otter-postgresql",
    "redis": "otter-redis",
    "zookeeper": "otter-zookeeper",
    "rpc": "otter-grpc",
    "file": "otter-grpc",
    "dynamic": "otter-dynamic",
    "memory": "otter-core",
}


def distribution_hint(name: str) -> str:
    dist = KNOWN_DISTRIBUTIONS.get(name)
    if dist:
        return f"install it with `pip install {dist}` (or `pip install ./plugins/{dist}` from a checkout)"
    return "install the package that provides it, or check the spelling (`otter-run plugins` lists what is installed)"


# (kind, name) -> the entry point's value ("module" or "module:attribute") resolved in this process, or
# given by the parent process (``use_entry_points``)
_resolved: dict[tuple[str, str], str] = {}


def resolved_entry_points() -> dict[tuple[str, str], str]:
    """The entry points this process has loaded, for a child process (``use_entry_points``)."""
    return dict(_resolved)


def use_entry_points(resolved: Mapping[tuple[str, str], str]) -> None:
    """Take the entry points a parent process resolved: ``load_entry_point`` imports them directly."""
    _resolved.update(resolved)


def _import_value(value: str) -> Any:
    module, _, attribute = value.partition(":")
    plugin = importlib.import_module(module.strip())
    for part in attribute.strip().split(".") if attribute.strip() else ():
        plugin = getattr(plugin, part)
    return plugin


def load_entry_point(kind: str, name: str) -> Any:
    """Import the plugin object registered as ``name`` under ``kind``'s namespace."""
    known = _resolved.get((kind, name))
    if known is not None:
        try:
            return _import_value(known)
        except Exception:  # the scan below reports it, naming the entry point
            del _resolved[(kind, name)]
    from stevedore import DriverManager
    from stevedore.exception import NoMatches

    namespace = NAMESPACES[kind]
    failures: list[str] = []

    def on_failure(_manager: Any, entrypoint: Any, exc: BaseException) -> None:
        failures.append(f"{entrypoint} failed to load: {exc!r}")

    try:
        driver = DriverManager(namespace, name, invoke_on_load=False, on_load_failure_callback=on_failure)
    except NoMatches:
        detail = f" ({'; '.join(failures)})" if failures else ""
        raise PluginNotFound(
            f"no {kind} plugin named {name!r} in entry-point namespace {namespace!r}{detail}: "
            f"{distribution_hint(name)}"
        ) from None
    except RuntimeError as exc:  # several distributions claim the same name
        raise PluginNotFound(f"{kind} plugin {name!r} in {namespace!r} is ambiguous: {exc}") from None
    _resolved[(kind, name)] = driver.extensions[0].entry_point.value
    return driver.driver


def installed_plugins() -> list[dict[str, str]]:
    """Every installed otter plugin: kind, name, module and distribution (for ``otter-run plugins``).

    Entry points are listed without importing them, so a broken plugin still shows up (marked)."""
    from importlib import metadata

    rows = []
    for kind, namespace in NAMESPACES.items():
        for ep in sorted(metadata.entry_points(group=namespace), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            try:
                ep.load()
                status = "ok"
            except Exception as exc:  # listing must survive a broken plugin
                status = f"broken: {exc!r}"
            rows.append(
                {
                    "kind": kind,
                    "name": ep.name,
                    "module": ep.value,
                    "status": status,
                    "distribution": f"{dist.name} {dist.version}" if dist else "?",
                }
            )
    return rows


def installed_observers() -> list[Any]:
    """Every plugin object registered under ``otter.observers`` (imported once per process). One that
    fails to import is logged, naming its entry point, and left out: an observer never stops replication."""
    global _observers
    if _observers is None:
        from stevedore import ExtensionManager

        def on_failure(_manager: Any, entrypoint: Any, exc: BaseException) -> None:
            log.error("observer plugin %s (namespace %r) failed to load: %r", entrypoint, OBSERVERS, exc)

        manager = ExtensionManager(OBSERVERS, invoke_on_load=False, on_load_failure_callback=on_failure)
        _observers = [extension.plugin for extension in manager]
    return _observers


def forget_observers() -> None:
    """Look for observers again on next use (after installing one into a running process: tests)."""
    from stevedore import ExtensionManager

    global _observers
    _observers = None
    ExtensionManager.ENTRY_POINT_CACHE.pop(OBSERVERS, None)  # stevedore keeps one scan per namespace


def selector_name(pipeline: Pipeline, source: DataMediaSource) -> str:
    """The selector plugin's name for ``source``: the pipeline's ``selector``, else the source's type."""
    return pipeline.selector or source.type


class PipelinePlugins:
    """The typed facade over one pipeline's PluginManager: the engine calls these methods only."""

    def __init__(self, pipeline: Pipeline, builtins: Sequence[Any] = ()) -> None:
        self.pipeline = pipeline
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._observing = False
        for plugin in builtins:
            self._register(plugin)

    def _register(self, plugin: Any) -> None:
        if not self.pm.is_registered(plugin):
            self.pm.register(plugin)
            self.pm.check_pending()

    def _require(self, kind: str, name: str) -> None:
        self._register(load_entry_point(kind, name))

    def _missing(self, kind: str, name: str) -> PluginNotFound:
        return PluginNotFound(
            f"{kind} plugin {name!r} (namespace {NAMESPACES[kind]!r}) is installed but returned nothing "
            f"for pipeline {self.pipeline.name!r}; {distribution_hint(name)}"
        )

    def selector(self, source: DataMediaSource) -> Selector:
        name = selector_name(self.pipeline, source)
        self._require("selector", name)
        result = self.pm.hook.otter_selector(name=name, source=source, pipeline=self.pipeline)
        if result is None:
            raise self._missing("selector", name)
        return result

    def loader(self, target: DataMediaSource) -> Loader:
        name = self.pipeline.loader or target.type
        self._require("loader", name)
        result = self.pm.hook.otter_loader(name=name, target=target, pipeline=self.pipeline)
        if result is None:
            raise self._missing("loader", name)
        return result

    def row_reader(self, source: DataMediaSource) -> RowReader:
        name = selector_name(self.pipeline, source)
        self._require("selector", name)
        result = self.pm.hook.otter_row_reader(name=name, source=source, pipeline=self.pipeline)
        if result is None:
            raise PluginNotFound(
                f"selector plugin {name!r} cannot read rows back (no otter_row_reader): "
                f"set sync_consistency: base for pipeline {self.pipeline.name!r}",
                retryable=False,
            )
        return result

    def table_reader(self, source: DataMediaSource, role: str = "source") -> TableReader:
        """A reader of whole tables on ``source``: the pipeline's source (``role="source"``, named by the
        selector plugin) or one of its targets (``role="target"``, named by the loader plugin)."""
        kind = "selector" if role == "source" else "loader"
        name = (self.pipeline.selector if role == "source" else self.pipeline.loader) or source.type
        self._require(kind, name)
        result = self.pm.hook.otter_table_reader(name=name, source=source, pipeline=self.pipeline)
        if result is None:
            raise PluginNotFound(
                f"{kind} plugin {name!r} cannot read whole tables (no otter_table_reader) on "
                f"{role} {source.name!r}: the initial load, resync and verify need it",
                retryable=False,
            )
        return result

    def pipe(self, node: NodeContext | None = None) -> Pipe:
        name = self.pipeline.pipe
        self._require("pipe", name)
        result = self.pm.hook.otter_pipe(name=name, pipeline=self.pipeline, node=node)
        if result is None:
            raise self._missing("pipe", name)
        return result

    def arbitrator(self, channel: str, state_dir: str) -> Arbitrator:
        name = self.pipeline.arbitrator
        self._require("arbitrator", name)
        result = self.pm.hook.otter_arbitrator(
            name=name, pipeline=self.pipeline, channel=channel, state_dir=state_dir
        )
        if result is None:
            raise self._missing("arbitrator", name)
        return result

    def event_processors(self, pair: DataMediaPair) -> list[EventProcessor]:
        """The pair's processors, in the order the pair lists them (not pluggy's order), each given its
        ``processor_options`` entry."""
        chain = []
        for name in pair.processors:
            self._require("processor", name)
            options = pair.processor_options.get(name, {})
            try:
                proc = self.pm.hook.otter_event_processor(name=name, options=options, pair=pair)
            except OtterError:
                raise
            except Exception as exc:  # a factory that cannot start will not start on a retry either
                raise ConfigError(
                    f"EventProcessor {name!r} of pair {pair.source} could not be created with "
                    f"options {dict(options)!r}: {exc!r}"
                ) from exc
            if proc is None:
                raise self._missing("processor", name)
            chain.append(proc)
        return chain

    def file_resolver(
        self, name: str, pair: DataMediaPair, options: Mapping[str, Any] | None = None
    ) -> FileResolver:
        self._require("file_resolver", name)
        result = self.pm.hook.otter_file_resolver(name=name, options=options or {}, pair=pair)
        if result is None:
            raise self._missing("file_resolver", name)
        return result

    def _observe(self) -> None:
        if not self._observing:
            self._observing = True
            for plugin in installed_observers():
                self._register(plugin)

    def batch_loaded(self, batch: RowBatch, rows: int, seconds: float) -> None:
        """Tell every observer (the plugins loaded by name and every ``otter.observers`` plugin)."""
        self._observe()
        try:
            self.pm.hook.otter_batch_loaded(pipeline=self.pipeline, batch=batch, rows=rows, seconds=seconds)
        except Exception:  # the batch is loaded and acked: an observer's fault must not roll it back
            log.exception("an otter_batch_loaded observer failed for pipeline %r", self.pipeline.name)

    def load_failed(self, batch: RowBatch, error: BaseException, events: Sequence[EventData]) -> None:
        """Tell every observer; the pipeline then rolls back (or stops) on ``error`` as before."""
        self._observe()
        try:
            self.pm.hook.otter_load_failed(pipeline=self.pipeline, batch=batch, error=error, events=events)
        except Exception:  # the load's own error is what the pipeline must act on
            log.exception("an otter_load_failed observer failed for pipeline %r", self.pipeline.name)


class AdminPlugins:
    """The typed facade for work outside a running pipeline: source administration, the conflict log and
    ``otter-run``'s sub-commands. Plugins are loaded by the source's type (or, for sub-commands, every
    ``otter.cli`` entry point) into one PluginManager, so the core imports no plugin by name."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)

    def _register(self, plugin: Any) -> None:
        if not self.pm.is_registered(plugin):
            self.pm.register(plugin)
            self.pm.check_pending()

    def _require_source_plugin(self, name: str) -> None:
        """The plugin of a source type: the selector of that name, else the loader (a target-only kind)."""
        try:
            self._register(load_entry_point("selector", name))
        except PluginNotFound:
            self._register(load_entry_point("loader", name))

    def source_admin(self, source: DataMediaSource) -> SourceAdmin | None:
        """``source``'s administration, or None when its plugin offers none (``PluginNotFound`` when no
        plugin serves its type)."""
        self._require_source_plugin(source.type)
        return self.pm.hook.otter_source_admin(name=source.type, source=source)

    def conflict_store(self, target: DataMediaSource) -> ConflictStore | None:
        """The open conflict log of ``target``, or None when its plugin keeps none; the caller closes it."""
        self._register(load_entry_point("loader", target.type))
        return self.pm.hook.otter_conflict_store(name=target.type, target=target)

    def cli_commands(self, subparsers: argparse._SubParsersAction) -> list[str]:
        """Let every ``otter.cli`` plugin add its sub-commands; return the plugins that failed to load
        (named with the error), which ``otter-run`` reports without refusing to start."""
        failures: list[str] = []

        def on_failure(_manager: Any, entrypoint: Any, exc: BaseException) -> None:
            failures.append(f"{entrypoint} failed to load: {exc!r}")

        from stevedore import ExtensionManager

        extensions = ExtensionManager(
            NAMESPACES["cli"], invoke_on_load=False, on_load_failure_callback=on_failure
        )
        for ext in sorted(extensions, key=lambda e: e.name):
            self._register(ext.plugin)
        self.pm.hook.otter_cli_commands(subparsers=subparsers)
        return failures
