"""``otter-run position show|set|reset PIPELINE.yaml``: see and change saved positions without hand edits.

Exit codes: 0 done; 2 bad arguments, configuration or a source that cannot be read (the message says
which); 3 refused because a running ``otter-run`` holds the state directory (its PID is named).
"""

from __future__ import annotations

import argparse
import datetime
import sys
from typing import Any

from otter_core.errors import ConfigError

EXIT_LOCKED = 3


def _plugins(pipeline: Any) -> Any:
    from otter_core.builtin import memory_arbitrator, memory_pipe
    from otter_core.plugins import PipelinePlugins

    return PipelinePlugins(pipeline, builtins=[memory_pipe, memory_arbitrator])


def _current(config: Any, pipeline: Any) -> Any:
    """The source's current end of log (``OtterError`` when it cannot be read)."""
    from otter_core.engine.start import source_log_position

    source = config.sources[pipeline.source]
    position = source_log_position(_plugins(pipeline), source)
    if position is None:
        raise ConfigError(
            f"source {source.name!r} ({source.type}): its plugin cannot tell the current position; "
            f"give --file/--pos or --gtid"
        )
    return position


def _require_local(channel: str, pipeline: Any) -> None:
    if pipeline.arbitrator != "memory":
        raise ConfigError(
            f"pipeline {channel}/{pipeline.name} uses arbitrator {pipeline.arbitrator}: its position is kept "
            f"there, not in the state directory; reset it with the manager (POST /api/pipelines/ID/reset)"
        )


def _request_text(args: argparse.Namespace) -> str:
    if args.current:
        return "--current"
    if args.file:
        return f"--file {args.file} --pos {args.pos}"
    if args.gtid:
        return f"--gtid {args.gtid}"
    return f"--time {args.time}"


def _wanted_position(args: argparse.Namespace, config: Any, pipeline: Any) -> Any:
    from otter_core.position_request import requested_position

    given = [name for name in ("file", "gtid", "time", "current") if getattr(args, name)]
    if len(given) != 1:
        raise ConfigError(
            "position set: give exactly one of --file F [--pos N], --gtid G, --current, --time T"
        )
    if args.current:
        return _current(config, pipeline)
    when: Any = args.time
    try:
        when = float(when) if when is not None else None  # Unix seconds
    except ValueError:
        pass  # ISO 8601: requested_position parses and checks it
    request = {"file": args.file, "pos": args.pos, "gtid": args.gtid, "time": when}
    return requested_position(request, config.sources[pipeline.source])


def cmd_show(args: argparse.Namespace, config: Any, chosen: list) -> int:
    from otter_core.engine.start import describe_origin, start_origin
    from otter_core.state import PositionStore
    from otter_core.state_lock import StateDirLock

    holder = StateDirLock(args.state_dir).in_use()
    print(f"state directory {args.state_dir}: " + (f"in use by {holder}" if holder else "not in use"))
    for channel, pipeline in chosen:
        name = f"{channel}/{pipeline.name}"
        if pipeline.arbitrator != "memory":
            print(
                f"{name}: kept by arbitrator {pipeline.arbitrator} (see the manager), not in the state directory"
            )
        else:
            store = PositionStore(args.state_dir, channel, pipeline.name)
            saved = store.load()
            if saved is None:
                print(
                    f"{name}: no saved position; the next start pins {describe_origin(start_origin(pipeline))}"
                )
            else:
                print(f"{name}: saved {saved} (from {describe_origin(store.origin)})")
        try:
            current = _current(config, pipeline)
            print(f"  source {pipeline.source} is now at {current}")
        except Exception as exc:  # show what is saved even when the source is down
            print(f"  source {pipeline.source}: current position unavailable: {exc}")
    return 0


def cmd_set(args: argparse.Namespace, config: Any, chosen: list) -> int:
    from otter_core.state import PositionStore

    if len(chosen) != 1:
        names = ", ".join(f"{c}/{p.name}" for c, p in chosen)
        raise ConfigError(
            f"position set changes one pipeline: give --channel and --pipeline (one of {names})"
        )
    channel, pipeline = chosen[0]
    _require_local(channel, pipeline)
    position = _wanted_position(args, config, pipeline)
    store = PositionStore(args.state_dir, channel, pipeline.name)
    before = store.load()
    at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    store.pin(position, {"kind": "set", "request": _request_text(args), "at": at})
    print(
        f"{channel}/{pipeline.name}: position set to {position} (was {before or 'none'}); "
        f"the next start resumes there"
    )
    return 0


def cmd_reset(args: argparse.Namespace, config: Any, chosen: list) -> int:
    from otter_core.engine.start import describe_origin, start_origin
    from otter_core.state import PositionStore

    for channel, pipeline in chosen:
        _require_local(channel, pipeline)
    for channel, pipeline in chosen:
        store = PositionStore(args.state_dir, channel, pipeline.name)
        before = store.load()
        store.reset()
        then = f"the next start pins {describe_origin(start_origin(pipeline))} again"
        if before is None:
            print(f"{channel}/{pipeline.name}: no saved position; {then}")
        else:
            print(f"{channel}/{pipeline.name}: saved position {before} removed; {then}")
    return 0


def cmd_position(args: argparse.Namespace) -> int:
    from otter_core.cli_verify import selected_pipelines
    from otter_core.config import load_config_file
    from otter_core.state_lock import StateDirLocked, lock_state_dir

    config = load_config_file(args.config)
    chosen = selected_pipelines(config, args.channel, args.pipeline)
    if args.action == "show":
        return cmd_show(args, config, chosen)
    try:
        lock = lock_state_dir(args.state_dir, f"otter-run position {args.action}")
    except StateDirLocked as exc:
        print(
            f"otter-run: position {args.action} refused: state directory {args.state_dir} is in use by "
            f"{exc.holder}; stop that otter-run first (its positions would overwrite this change)",
            file=sys.stderr,
        )
        return EXIT_LOCKED
    with lock:
        return (cmd_set if args.action == "set" else cmd_reset)(args, config, chosen)


def add_parser(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "position",
        help="show, set or reset the saved positions of a pipeline YAML file's pipelines",
        description=(
            "show: every pipeline's saved position and its source's current one. set: write an exact "
            "position for one pipeline. reset: remove saved positions, so the next start resolves start: "
            "again. set and reset are refused (exit 3) while an otter-run uses the state directory."
        ),
    )
    cmd.add_argument("action", choices=["show", "set", "reset"])
    cmd.add_argument("config", help="the pipeline YAML file")
    cmd.add_argument("--state-dir", default="./otter-state", help="the state directory of the pipelines")
    cmd.add_argument("--channel", help="only this channel's pipelines")
    cmd.add_argument("--pipeline", help="only the pipelines of this name")
    cmd.add_argument("--file", help="set: binlog file name, e.g. mysql-bin.000003")
    cmd.add_argument("--pos", type=int, default=4, help="set: offset in --file (default 4, its start)")
    cmd.add_argument("--gtid", help="set: MariaDB GTID position, e.g. 0-1-100")
    cmd.add_argument("--current", action="store_true", help="set: the source's current end of log")
    cmd.add_argument(
        "--time", help="set: first transaction committed at or after this time (ISO 8601 or Unix seconds)"
    )
    cmd.set_defaults(func=cmd_position)
