"""``otter-run load`` (online initial load, then keep syncing) and ``otter-run resync`` (the freedom door)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from otter_core.model import OtterConfig, Pipeline

RESYNC_BATCH = 1000


def selected_pipelines(
    config: OtterConfig, channel: str | None, pipeline: str | None
) -> list[tuple[str, Pipeline]]:
    """(channel name, pipeline) pairs chosen by ``--channel`` / ``--pipeline`` (every one by default)."""
    from otter_core.errors import ConfigError

    chosen = [
        (ch.name, p)
        for ch in config.channels
        for p in ch.pipelines
        if (channel is None or ch.name == channel) and (pipeline is None or p.name == pipeline)
    ]
    if not chosen:
        known = ", ".join(f"{ch.name}/{p.name}" for ch in config.channels for p in ch.pipelines)
        raise ConfigError(f"no pipeline matches --channel {channel} --pipeline {pipeline} (known: {known})")
    return chosen


def _wants_new_load(
    state: dict | None, request: dict | None, tables: list[str] | None, restart: bool
) -> bool:
    """False when the load asked for is already in progress (resume it after a crash), True otherwise."""
    if restart or request is None:
        return True
    pending = state is None or state.get("id") != request.get("id") or state.get("state") == "running"
    same = tables is None or sorted(tables) == sorted(request.get("tables") or [])
    return not (pending and same)


def cmd_load(args: argparse.Namespace) -> int:
    from otter_core.config import load_config_file
    from otter_core.state_lock import lock_state_dir

    config = load_config_file(args.config)
    chosen = selected_pipelines(config, args.channel, args.pipeline)
    with lock_state_dir(args.state_dir):  # held until exit, as by `otter-run run`
        return _load(args, config, chosen)


def _load(args: argparse.Namespace, config, chosen: list) -> int:
    from otter_core.cli import run_until_signal
    from otter_core.engine.snapshot_state import read_request, read_state, request_snapshot
    from otter_core.runner import Runner

    for channel, pipeline in chosen:
        state = read_state(args.state_dir, channel, pipeline.name)
        request = read_request(args.state_dir, channel, pipeline.name)
        if _wants_new_load(state, request, args.tables, args.restart):
            request_snapshot(args.state_dir, channel, pipeline.name, args.tables, args.chunk_rows)
            print(
                f"{channel}/{pipeline.name}: load of {', '.join(args.tables) if args.tables else 'every table'} "
                f"requested",
                file=sys.stderr,
            )
        else:
            print(
                f"{channel}/{pipeline.name}: resuming the load in progress (--restart starts it over)",
                file=sys.stderr,
            )
    names = {f"{channel}/{pipeline.name}" for channel, pipeline in chosen}
    if args.exit_when_done:
        config = bounded_copy(config, names)
    runner = Runner(config, args.state_dir)
    loads = [r for r in runner.pipelines if r.name in names]

    def finished() -> bool:
        states = [(r.snapshot.progress.as_dict() or {}).get("state") for r in loads]
        return all(s in ("done", "failed") for s in states)

    code = run_until_signal(
        runner, args.progress_interval, args.quiet, finished if args.exit_when_done else None
    )
    failed = [
        (r.name, r.snapshot.progress.as_dict())
        for r in loads
        if (r.snapshot.progress.as_dict() or {}).get("state") == "failed"
    ]
    for name, progress in failed:
        print(
            f"otter-run: the load of pipeline {name} failed: {(progress or {}).get('error')}", file=sys.stderr
        )
    return code or (1 if failed else 0)


def bounded_copy(config: OtterConfig, names: set[str]) -> OtterConfig:
    """``config`` with the parameters of the pipelines ``names`` ("channel/pipeline") for a run that ends
    after their load (``PipelineParameters.bounded_copy``)."""
    import attrs

    def pipeline(channel: str, p: Pipeline) -> Pipeline:
        if f"{channel}/{p.name}" not in names:
            return p
        return attrs.evolve(p, parameters=p.parameters.bounded_copy())

    channels = tuple(
        attrs.evolve(ch, pipelines=tuple(pipeline(ch.name, p) for p in ch.pipelines))
        for ch in config.channels
    )
    return attrs.evolve(config, channels=channels)


def _key_text(value: object) -> str:
    from otter_core.engine.convert import _to_text
    from otter_core.errors import DataError

    try:
        return _to_text(value)
    except UnicodeDecodeError:
        raise DataError(
            f"key value {value!r} is binary and cannot be written as text to retl_buffer.pk_data; "
            f"resync that table with `otter-run load --tables` instead",
            retryable=False,
        ) from None


def cmd_resync(args: argparse.Namespace) -> int:
    from otter_core.builtin import memory_arbitrator, memory_pipe
    from otter_core.config import load_config_file
    from otter_core.errors import ConfigError
    from otter_core.plugins import PipelinePlugins

    config = load_config_file(args.config)
    if "." not in args.table:
        raise ConfigError(f"--table {args.table!r}: write it schema.table")
    schema, table = args.table.split(".", 1)
    chosen = [
        (c, p)
        for c, p in selected_pipelines(config, args.channel, args.pipeline)
        if p.pair_for(schema, table)
    ]
    if not chosen:
        raise ConfigError(f"no pipeline of {args.config} takes {args.table}: check the name and the pairs")
    if args.keys and args.where:
        raise ConfigError("give either --keys or --where, not both")
    done_sources: set[str] = set()
    for _channel, pipeline in chosen:
        if pipeline.source in done_sources:
            continue  # every pipeline reading that source sees the same requests
        done_sources.add(pipeline.source)
        reader = PipelinePlugins(pipeline, builtins=[memory_pipe, memory_arbitrator]).table_reader(
            config.sources[pipeline.source]
        )
        try:
            count = _request(reader, schema, table, args)
        finally:
            reader.close()
        readers = ", ".join(f"{c}/{p.name}" for c, p in chosen if p.source == pipeline.source)
        print(
            f"{args.table}: {count} resync request(s) (type {args.type}) written to retl.retl_buffer on source "
            f"{pipeline.source}; pipeline(s) {readers} apply them when they read that far"
        )
    return 0


def _request(reader, schema: str, table: str, args: argparse.Namespace) -> int:
    full_name = f"{schema}.{table}"
    if args.keys:
        texts = [k.split(args.key_separator) for k in args.keys]
        for values in texts:
            reader.parse_key(schema, table, values)  # a key that does not fit fails here, before any write
        return sum(
            reader.request_resync(full_name, args.type, texts[i : i + args.batch])
            for i in range(0, len(texts), args.batch)
        )
    key = tuple(reader.key_columns(schema, table))
    lower, count = None, 0
    while True:
        rows = reader.read_range(schema, table, key, key, lower, None, args.batch, where=args.where)
        if rows:
            count += reader.request_resync(
                full_name, args.type, [[_key_text(v) for v in row] for row in rows]
            )
            lower = tuple(rows[-1])
        if len(rows) < args.batch:
            return count


def add_parsers(sub) -> None:
    load = sub.add_parser("load", help="copy the pipelines' tables online (initial load), then keep syncing")
    load.add_argument("config", help="the pipeline YAML file")
    load.add_argument("--channel", help="only the pipelines of this channel")
    load.add_argument("--pipeline", help="only this pipeline")
    load.add_argument(
        "--tables",
        nargs="+",
        metavar="SCHEMA.TABLE",
        help="only these source tables (patterns allowed; default: every table the pairs take)",
    )
    load.add_argument(
        "--chunk-rows", type=int, default=None, help="rows per chunk (default 20000; fewer for wide rows)"
    )
    load.add_argument("--restart", action="store_true", help="start the load over even if one is in progress")
    load.add_argument("--exit-when-done", action="store_true", help="stop once every load is done and acked")
    load.add_argument(
        "--state-dir", default="./otter-state", help="where acked positions and load progress are kept"
    )
    load.add_argument("--progress-interval", type=float, default=1.0, help="seconds between progress lines")
    load.add_argument("--quiet", action="store_true", help="no progress lines")
    load.set_defaults(func=cmd_load)

    resync = sub.add_parser(
        "resync", help="sync chosen rows again through retl.retl_buffer (the freedom door)"
    )
    resync.add_argument("config", help="the pipeline YAML file")
    resync.add_argument("--table", required=True, metavar="SCHEMA.TABLE", help="the source table")
    resync.add_argument(
        "--keys",
        nargs="+",
        metavar="KEY",
        help="key values; a composite key's values joined by --key-separator (default ',')",
    )
    resync.add_argument(
        "--key-separator", default=",", help="separator of a composite key's values in --keys"
    )
    resync.add_argument("--where", help="an SQL condition on the source table (default: every row)")
    resync.add_argument(
        "--type",
        choices=["I", "U", "D"],
        default="I",
        help="I/U: re-read and upsert (delete when gone); D: delete on the target (default I)",
    )
    resync.add_argument("--channel", help="only pipelines of this channel")
    resync.add_argument("--pipeline", help="only this pipeline")
    resync.add_argument(
        "--batch", type=int, default=RESYNC_BATCH, help="requests per transaction (default 1000)"
    )
    resync.set_defaults(func=cmd_resync)
