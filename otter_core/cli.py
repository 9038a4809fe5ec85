"""``otter-run``: run pipelines from YAML, administration, plugin listing, and the sub-commands plugins add."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time

from otter_core import __version__
from otter_core.errors import OtterError

log = logging.getLogger("otter.cli")


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s",
    )


def run_until_signal(runner, progress_interval: float, quiet: bool, until=None, status_file=None) -> int:
    """Run ``runner`` until SIGINT/SIGTERM, a fatal pipeline failure or ``until()`` is true; return the
    exit code. With ``status_file``, ``runner.status()`` is written there every second."""
    from otter_core.progress import ProgressPrinter
    from otter_core.status_file import StatusFileWriter

    stop = threading.Event()

    def on_signal(signum, _frame):
        log.info(
            "received %s: stopping after the batches in flight are loaded and acked",
            signal.Signals(signum).name,
        )
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    printer = ProgressPrinter()
    runner.start()
    writer = StatusFileWriter(status_file, runner.status).start() if status_file else None
    # ``until`` (otter-run load --exit-when-done) is asked 200 times a second: a finished load exits at once
    tick = min(progress_interval, 0.005) if until is not None else progress_interval
    next_show = time.monotonic() + progress_interval
    try:
        while not stop.wait(tick):
            if not quiet and time.monotonic() >= next_show:
                next_show += progress_interval
                printer.show(runner.status())
            if not runner.running() or (until is not None and until()):
                break
    finally:
        runner.stop()
        runner.join(timeout=60)
        if writer is not None:
            writer.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not quiet:
        printer.show(runner.status())
    failures = runner.failures()
    for name, exc in failures:
        print(f"otter-run: pipeline {name} failed: {exc}", file=sys.stderr)
    return 1 if failures else 0


def cmd_run(args: argparse.Namespace) -> int:
    from otter_core.config import load_config_file
    from otter_core.runner import Runner
    from otter_core.state_lock import lock_state_dir

    config = load_config_file(args.config)
    with lock_state_dir(args.state_dir):  # held until exit: a second runner here is refused
        return run_until_signal(
            Runner(config, args.state_dir), args.progress_interval, args.quiet, status_file=args.status_file
        )


def cmd_init_db(args: argparse.Namespace) -> int:
    """Create the system tables (MySQL: schema ``retl``: loopback marks, DDL records, conflicts) on every
    source of the file whose plugin needs some (``otter_source_admin``)."""
    from otter_core.config import load_config_file
    from otter_core.plugins import AdminPlugins

    config = load_config_file(args.config)
    plugins = AdminPlugins()
    done = 0
    for source in config.sources.values():
        admin = plugins.source_admin(source)
        ready = admin.init_db() if admin is not None else None
        if ready is None:
            continue
        print(f"source {source.name} ({source.host}:{source.port}): {ready}")
        done += 1
    if not done:
        print("no source in the file needs system tables: nothing to do")
    return 0


def cmd_channel(args: argparse.Namespace) -> int:
    from otter_core.control import set_channel_state

    state = {"pause": "PAUSE", "resume": "START", "start": "START", "stop": "STOP"}[args.action]
    set_channel_state(args.state_dir, args.name, state)
    print(
        f"channel {args.name}: {state} (a running otter-run with --state-dir {args.state_dir} follows within a second)"
    )
    return 0


def cmd_plugins(_args: argparse.Namespace) -> int:
    from otter_core.plugins import installed_plugins

    for row in installed_plugins():
        print(
            f"{row['kind']:<14} {row['name']:<12} {row['distribution']:<24} {row['module']}  {row['status']}"
        )
    return 0


def version_text() -> str:
    """otter-core's version, then every installed distribution that depends on otter-core (the plugins
    and contrib packages) with its version: what a bug report needs."""
    import re
    from importlib import metadata

    lines = [f"otter-core {__version__}"]
    plugins = set()
    for dist in metadata.distributions():
        names = (re.split(r"[^A-Za-z0-9._-]", text, maxsplit=1)[0] for text in dist.requires or ())
        if any(re.sub(r"[-_.]+", "-", name).lower() == "otter-core" for name in names):
            plugins.add((dist.metadata["Name"], dist.version))
    lines += [f"  {name} {version}" for name, version in sorted(plugins)]
    return "\n".join(lines)


class _VersionAction(argparse.Action):
    """``--version``: computed only when asked (reading every distribution's metadata takes time)."""

    def __init__(
        self, option_strings: list[str], dest: str = argparse.SUPPRESS, help: str | None = None
    ) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        print(version_text())
        parser.exit()


# The sub-commands defined here; for these, ``main`` builds no other command's parser.
CORE_COMMANDS = ("run", "init-db", "channel", "plugins")
# ``otter-run load`` and ``resync`` (cli_load): for these, the core parsers and theirs only.
LOAD_COMMANDS = ("load", "resync")


def _command(argv: list[str]) -> str | None:
    """The sub-command ``argv`` names (after the global options), or None (help, version, none)."""
    args = iter(argv)
    for arg in args:
        if arg == "--log-level":
            next(args, None)
        elif not arg.startswith("-"):
            return arg
        elif not arg.startswith("--log-level="):
            return None  # -h, --version, or an error for the full parser to report
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """``otter-run``'s parser; for a core ``command`` without the other sub-commands: building those
    imports the verify, load and position modules and loads every plugin's ``otter.cli`` entry point
    (kazoo, the manager), ~0.1 s of CPU at each start of ``otter-run run`` (or ``load``) that it never
    uses."""
    parser = argparse.ArgumentParser(
        prog="otter-run", description="otter for Python: binlog-based database sync"
    )
    parser.add_argument(
        "--version", action=_VersionAction, help="show the versions of otter-core and its installed plugins"
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run every channel of a pipeline YAML file in this process")
    run.add_argument("config", help="the pipeline YAML file")
    run.add_argument("--state-dir", default="./otter-state", help="where acked positions are kept")
    run.add_argument("--progress-interval", type=float, default=1.0, help="seconds between progress lines")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    run.add_argument("--status-file", help="write every pipeline's status (JSON) to this file every second")
    run.set_defaults(func=cmd_run)

    init_db = sub.add_parser(
        "init-db", help="create the system schema retl (two-way sync) on every mysql source"
    )
    init_db.add_argument("config", help="the pipeline YAML file")
    init_db.set_defaults(func=cmd_init_db)

    channel = sub.add_parser("channel", help="pause, resume or stop a channel of a running otter-run")
    channel.add_argument("action", choices=["pause", "resume", "start", "stop"])
    channel.add_argument("name", help="the channel name")
    channel.add_argument(
        "--state-dir", default="./otter-state", help="the state directory of the running otter-run"
    )
    channel.set_defaults(func=cmd_channel)

    plugins = sub.add_parser("plugins", help="list installed plugins")
    plugins.set_defaults(func=cmd_plugins)
    if command in CORE_COMMANDS:
        return parser

    from otter_core import cli_load

    cli_load.add_parsers(sub)
    if command in LOAD_COMMANDS:
        return parser

    from otter_core import cli_position, cli_verify

    cli_verify.add_parser(sub)
    cli_position.add_parser(sub)
    _add_plugin_commands(sub)

    from otter_core.cli_conflicts import add_parser as add_conflicts_parser

    add_conflicts_parser(sub)
    return parser


# Sub-commands of known plugins: without the plugin, the command still exists and says what to install.
PLUGIN_COMMANDS = {
    "demo": ("otter-mysql", "the demo (two throwaway MariaDB servers)"),
    "manager": ("otter-manager", "the web manager (console and JSON API)"),
    "node": ("otter-zookeeper", "distributed mode"),
    "deploy": ("otter-zookeeper", "distributed mode"),
    "cluster": ("otter-zookeeper", "distributed mode"),
}


def _add_plugin_commands(sub: argparse._SubParsersAction) -> None:
    """The sub-commands plugins contribute through ``otter_cli_commands`` (``otter.cli`` entry points)."""
    from otter_core.plugins import AdminPlugins

    for failure in AdminPlugins().cli_commands(sub):
        log.warning("otter-run: a plugin's commands are missing: %s", failure)
    for name, (dist, what) in PLUGIN_COMMANDS.items():
        if name not in sub.choices:
            missing = sub.add_parser(name, help=f"{what} (needs `pip install {dist}`)")
            missing.set_defaults(func=_needs_plugin, needs=(dist, what))


def _needs_plugin(args: argparse.Namespace) -> int:
    dist, what = args.needs
    print(
        f"otter-run: {what} needs the {dist} plugin: `pip install {dist}` "
        f"(or `pip install ./plugins/{dist}` from a checkout)",
        file=sys.stderr,
    )
    return 2


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(_command(argv))
    # A command of a plugin that is not installed takes any arguments, so its message names the package.
    args, unknown = parser.parse_known_args(argv)
    if unknown and getattr(args, "func", None) is not _needs_plugin:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    _setup_logging(args.log_level)
    try:
        return args.func(args)
    except OtterError as exc:
        print(f"otter-run: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
