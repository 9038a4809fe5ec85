"""Extract: run each pair's EventProcessors (and FileResolvers) over the events of a batch."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import attrs

from otter_core.contracts import EventProcessor, FileResolver, PerBatch, RowReader
from otter_core.engine.back_query import back_query, remedy
from otter_core.engine.freedom import FreedomDoor
from otter_core.engine.row_filter import RowFilter
from otter_core.errors import DataError, OtterError
from otter_core.files.collect import collect_files, file_options
from otter_core.model import DataMediaPair, EventData, EventType, Hint, Pipeline
from otter_core.rejects import RejectLog

log = logging.getLogger("otter.extract")
_REJECTED = Hint.SELECT_REJECTED.value  # the prefix of a row the selector rejected (skip_select_exception)


class ProcessorError(OtterError):
    """An EventProcessor raised; the message names the processor and the event. Not retried: the same
    event would fail again (set ``skip_processor_exception`` to reject-log it and go on)."""

    retryable = False


class Extractor:
    """Holds the processor chains of a pipeline's pairs (built once per pipeline start), and the
    back-query reader when the pipeline re-reads current rows (``sync_consistency: media``)."""

    def __init__(
        self,
        pipeline: Pipeline,
        chains: dict[DataMediaPair, Sequence[EventProcessor]],
        reader: RowReader | None = None,
        rejects: RejectLog | None = None,
        resolvers: dict[DataMediaPair, FileResolver] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.chains = chains
        self.resolvers = resolvers or {}
        self.reader = reader
        self.rejects = rejects
        self._pairs: dict[tuple[str, str], list[DataMediaPair]] = {}
        self._files: dict[DataMediaPair, dict] = {}
        self.filters = {
            pair: RowFilter(pair.filter, where=f"filter of pair {pair.source}")
            for pair in pipeline.pairs
            if pair.filter
        }
        # pairs with a processor or resolver that swaps versions between batches (``for_batch``)
        self._per_batch = {
            pair
            for pair in pipeline.pairs
            if any(isinstance(p, PerBatch) for p in chains.get(pair, ()))
            or isinstance(self.resolvers.get(pair), PerBatch)
        }
        # resync requests from retl.retl_buffer (set by the runner)
        self.freedom: FreedomDoor | None = None
        # per (schema, table): its pairs, and the one pair when it is its only one and plain (no filter,
        # processor or resolver: nothing to run); decided once, as the pairs and their settings are fixed
        # for the Extractor's life (sysbench's OLTP batches switch tables at nearly every event)
        self._routes: dict[tuple[str, str], tuple[list[DataMediaPair], DataMediaPair | None]] = {}
        self._plain: dict[int, bool] = {}

    def pairs_of(self, schema: str, table: str) -> list[DataMediaPair]:
        key = (schema, table)
        if key not in self._pairs:
            self._pairs[key] = self.pipeline.pair_for(schema, table)
        return self._pairs[key]

    def extract(self, events: Sequence[EventData]) -> list[tuple[DataMediaPair, EventData]]:
        """Each event with the pair(s) that match it, after that pair's processors ran."""
        if self.freedom is not None:
            events = self.freedom.expand(events)
        if self.reader is not None:
            if any(Hint.REMEDY in e.hints for e in events):
                events = remedy(self.reader, events, self.pipeline.parameters.remedy_delay_threshold)
            if self.pipeline.parameters.sync_consistency == "media":
                events = back_query(self.reader, events, self.pipeline.parameters.skip_no_row, self.rejects)
        out: list[tuple[DataMediaPair, EventData]] = []
        chains, resolvers = self.chains, self.resolvers
        if self._per_batch:  # one version of each swappable processor for the whole batch
            chains, resolvers = dict(chains), dict(resolvers)
            for pair in self._per_batch:
                chains[pair] = [p.for_batch() if isinstance(p, PerBatch) else p for p in chains.get(pair, ())]
                resolver = resolvers.get(pair)
                if isinstance(resolver, PerBatch):
                    resolvers[pair] = resolver.for_batch()
        append = out.append
        routes = self._routes
        # a rows event's events share their schema and table strings, so a run of them is recognised by
        # identity, without a lookup per event
        last_schema = last_table = None
        pairs: list[DataMediaPair] = []
        only: DataMediaPair | None = None
        for event in events:
            if event.hints and self._rejected_by_select(event):
                continue
            if event.schema is not last_schema or event.table is not last_table:
                last_schema, last_table = event.schema, event.table
                route = routes.get((last_schema, last_table))
                if route is None:
                    route = routes[(last_schema, last_table)] = self._route(last_schema, last_table)
                pairs, only = route
            if only is not None:
                append((only, event))
                continue
            for pair in pairs:
                if self._is_plain(pair):
                    append((pair, event))
                    continue
                if pair in self.filters and not self._passes(self.filters[pair], pair, event):
                    continue
                processed = self._run_chain(pair, event, chains)
                if processed is not None and pair in resolvers and processed.event_type is not EventType.DDL:
                    processed = self._resolve_files(pair, processed, resolvers[pair])
                if processed is not None:
                    out.append((pair, processed))
        return out

    def _is_plain(self, pair: DataMediaPair) -> bool:
        """No filter, processor or resolver: the event goes through as it is."""
        plain = self._plain.get(id(pair))
        if plain is None:
            plain = self._plain[id(pair)] = (
                not pair.processors and pair not in self.filters and pair not in self.resolvers
            )
        return plain

    def _route(self, schema: str, table: str) -> tuple[list[DataMediaPair], DataMediaPair | None]:
        pairs = self.pairs_of(schema, table)
        return pairs, pairs[0] if len(pairs) == 1 and self._is_plain(pairs[0]) else None

    def _rejected_by_select(self, event: EventData) -> bool:
        reasons = [h[len(_REJECTED) :] for h in event.hints if h.startswith(_REJECTED)]
        if not reasons:
            return False
        log.warning("skip_select_exception: %s", reasons[0])
        if self.rejects is not None:
            self.rejects.write(event, f"skip_select_exception: {reasons[0]}")
        return True

    @staticmethod
    def _passes(row_filter: RowFilter, pair: DataMediaPair, event: EventData) -> bool:
        if event.event_type is EventType.DDL:
            return True
        try:
            return row_filter.matches({**event.keys, **event.columns})
        except KeyError as exc:
            raise DataError(
                f"filter {row_filter.expression!r} of pair {pair.source} names column {exc.args[0]!r}, "
                f"which {event.full_name} does not have: fix the filter",
                retryable=False,
            ) from None
        except TypeError as exc:
            raise DataError(
                f"filter {row_filter.expression!r} of pair {pair.source} cannot be evaluated on "
                f"{event.describe()}: {exc}",
                retryable=False,
            ) from None

    def _resolve_files(self, pair: DataMediaPair, event: EventData, resolver: FileResolver) -> EventData:
        try:
            files = collect_files(resolver, pair, event, self._file_options(pair))
        except OtterError:
            raise
        except Exception as exc:
            raise ProcessorError(
                f"FileResolver {pair.file_resolver!r} of pair {pair.source} failed on "
                f"{event.describe()}: {exc!r}"
            ) from exc
        return attrs.evolve(event, files=files) if files else event

    def _file_options(self, pair: DataMediaPair) -> dict:
        if pair not in self._files:
            self._files[pair] = file_options(pair)
        return self._files[pair]

    def _run_chain(
        self, pair: DataMediaPair, event: EventData, chains: dict[DataMediaPair, Sequence[EventProcessor]]
    ) -> EventData | None:
        current: EventData | None = event
        for name, processor in zip(pair.processors, chains.get(pair, ())):
            if current is None or current.event_type is EventType.DDL:
                break
            try:
                current = processor.process(current)
            except Exception as exc:  # user code: name it and the event, never swallow it
                message = (
                    f"EventProcessor {name!r} ({type(processor).__name__}) of pair {pair.source} -> "
                    f"{pair.target} failed on {event.describe()}: {exc!r}"
                )
                if self.pipeline.parameters.skip_processor_exception and self.rejects is not None:
                    log.warning("skip_processor_exception: %s", message)
                    self.rejects.write(event, f"skip_processor_exception: {message}")
                    return None
                raise ProcessorError(message, retryable=False) from exc
        return current
