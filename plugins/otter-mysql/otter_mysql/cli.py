"""``otter-run demo``, contributed by otter-mysql through the ``otter_cli_commands`` hook (entry point
``otter.cli: mysql``): the demo starts two MariaDB servers and syncs them with this plugin."""

from __future__ import annotations

import argparse

from otter_core.spi import hookimpl


def cmd_demo(args: argparse.Namespace) -> int:
    from otter_mysql.demo import run_demo

    return run_demo(rows=args.rows, seconds=args.seconds, keep=args.keep)


@hookimpl
def otter_cli_commands(subparsers: argparse._SubParsersAction) -> None:
    """Contribute ``demo`` to ``otter-run``."""
    demo = subparsers.add_parser("demo", help="start two throwaway MariaDB servers, sync them and show it")
    demo.add_argument("--rows", type=int, default=20000, help="rows the demo workload writes")
    demo.add_argument("--seconds", type=float, default=15.0, help="how long the mixed workload runs")
    demo.add_argument("--keep", action="store_true", help="keep the servers' directories afterwards")
    demo.set_defaults(func=cmd_demo)
