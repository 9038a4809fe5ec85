"""Every place a plugin can plug into otter.

Each hook below is a *factory*: the engine calls it with the name a pipeline's YAML chose, and the
plugin that serves that name returns an object following the matching protocol in
``otter_core.contracts``; every other plugin returns None. The first non-None result wins
(``firstresult=True``). Plugins are found through entry points (``otter.selectors``,
``otter.loaders``, ``otter.pipes``, ``otter.arbitrators``, ``otter.processors``,
``otter.file_resolvers``, ``otter.cli``); implement hooks with ``otter_core.hookimpl``. The last three
hooks serve commands outside a running pipeline (administration, the conflict log, ``otter-run``'s
sub-commands), so that the core needs no plugin module and no database driver of its own.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

import pluggy

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
from otter_core.model import DataMediaPair, DataMediaSource, EventData, Pipeline, RowBatch
from otter_core.model.node import NodeContext

PROJECT = "otter"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec(firstresult=True)
def otter_selector(name: str, source: DataMediaSource, pipeline: Pipeline) -> Selector | None:
    """Create the selector that reads ``source``'s change log for ``pipeline``.

    Called once per pipeline start (and again after every rollback). ``name`` is the selector plugin
    name (the source's ``type`` unless the pipeline sets ``selector``). Return None if ``name`` is not
    yours. The selector must only emit events of tables matched by ``pipeline.pairs``.
    """


@hookspec(firstresult=True)
def otter_loader(name: str, target: DataMediaSource, pipeline: Pipeline) -> Loader | None:
    """Create the loader that applies events to ``target``.

    Called once per target per pipeline start. ``name`` is the loader plugin name (the target's
    ``type`` unless the pipeline sets ``loader``). The loader opens ``load_pool_size`` connections.
    Return None if ``name`` is not yours.
    """


@hookspec(firstresult=True)
def otter_row_reader(name: str, source: DataMediaSource, pipeline: Pipeline) -> RowReader | None:
    """Create a reader of current rows by key on ``source`` (back-query).

    Called once per pipeline start when the pipeline needs it (``sync_consistency: media``). ``name`` is
    the selector plugin name of the source. Return None if ``name`` is not yours.
    """


@hookspec(firstresult=True)
def otter_pipe(name: str, pipeline: Pipeline, node: NodeContext | None) -> Pipe | None:
    """Create the pipe that carries batches from Select/Extract to Transform/Load.

    ``name`` comes from the pipeline's ``pipe`` key (default ``memory``). ``node`` is the context of the
    ``otter-run node`` process (its id, bind and advertised addresses, auth token, TLS files, spool
    directory, and how to find another node's address), None in the single-process ``otter-run run``.
    Called on both sides of a distributed pipeline: the sender's pipe keeps and serves what ``put`` stores;
    a key returned by ``put`` on one node must be accepted by ``get`` of the same-named pipe on any node.
    Return None if not yours.
    """


@hookspec(firstresult=True)
def otter_arbitrator(name: str, pipeline: Pipeline, channel: str, state_dir: str) -> Arbitrator | None:
    """Create the arbitrator that hands out processIds, holds the permit and stores acked positions.

    ``name`` comes from the pipeline's ``arbitrator`` key (default ``memory``, which persists
    positions under ``state_dir``). Return None if not yours.
    """


@hookspec(firstresult=True)
def otter_event_processor(
    name: str, options: Mapping[str, Any], pair: DataMediaPair
) -> EventProcessor | None:
    """Create the EventProcessor called ``name`` for ``pair``.

    Called once per pair per pipeline start, in the order the pair lists its processors; the engine
    calls ``process(event)`` on each in that order during Extract. Return None if not yours.
    """


@hookspec(firstresult=True)
def otter_file_resolver(name: str, options: Mapping[str, Any], pair: DataMediaPair) -> FileResolver | None:
    """Create the FileResolver called ``name`` for ``pair``; its ``resolve(event)`` runs in Extract.

    Return None if not yours.
    """


@hookspec
def otter_batch_loaded(pipeline: Pipeline, batch: RowBatch, rows: int, seconds: float) -> None:
    """Observe a batch after it was loaded and acked (metrics, notifications).

    Called for every batch on the Load thread; keep it cheap. All implementations are called.
    """


@hookspec
def otter_load_failed(
    pipeline: Pipeline, batch: RowBatch, error: BaseException, events: Sequence[EventData]
) -> None:
    """Observe a failed load before the pipeline rolls back (alarms). All implementations are called."""


@hookspec(firstresult=True)
def otter_table_reader(name: str, source: DataMediaSource, pipeline: Pipeline) -> TableReader | None:
    """Create a reader of whole tables in key order on ``source`` (a pipeline's source or target).

    Called by the initial load (snapshot chunks and watermarks), by the ``retl_buffer`` resync and by
    ``otter-run verify``, once per use. ``name`` is the plugin name of ``source``: the selector name for a
    pipeline's source, the loader name for a target. Return None if ``name`` is not yours.
    """


@hookspec(firstresult=True)
def otter_source_admin(name: str, source: DataMediaSource) -> SourceAdmin | None:
    """Create the administration of ``source`` (``SourceAdmin``): ``init_db``, ``position_at``, ``check_connection``.

    Called once per command and source by ``otter-run init-db`` (every source of the file) and
    ``otter-run position set --time``; ``name`` is the source's ``type`` and the plugin is loaded from
    ``otter.selectors`` (else ``otter.loaders``) under that name. Return None if ``name`` is not yours;
    a kind with no administration leaves it unimplemented and the command says so or skips the source.
    """


@hookspec(firstresult=True)
def otter_conflict_store(name: str, target: DataMediaSource) -> ConflictStore | None:
    """Open the conflict log kept on ``target`` (``ConflictStore``: list, get, resolve, close).

    Called by ``otter_core.conflicts`` (``otter-run conflicts``, the manager) once per target and call;
    ``name`` is the target's ``type`` and the plugin is loaded from ``otter.loaders`` under that name. The
    caller closes the store. Return None if ``name`` is not yours or keeps no conflict log.
    """


@hookspec
def otter_cli_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add sub-commands to ``otter-run`` (e.g. otter-zookeeper's ``node``, ``deploy``, ``cluster``).

    Called once while ``otter-run`` builds its parser, for every module registered under the
    ``otter.cli`` entry-point namespace; all implementations are called. Add parsers with
    ``subparsers.add_parser(NAME, help=...)`` and ``set_defaults(func=HANDLER)``; the handler receives the
    parsed ``argparse.Namespace`` and returns the exit code (``OtterError`` prints its message, exit 2).
    Returns nothing.
    """
