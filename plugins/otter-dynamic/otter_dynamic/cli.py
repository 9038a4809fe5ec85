"""``otter-dynamic``: check, push, list and activate dynamic hook versions in a store.

    otter-dynamic validate FILE [--kind processor|file_resolver]
    otter-dynamic push NAME FILE [--kind ...] [--activate] [--comment TEXT]   (--store DIR or $OTTER_DYNAMIC_STORE)
    otter-dynamic activate NAME VERSION
    otter-dynamic list [NAME]
    otter-dynamic show NAME VERSION

Whoever can run this against a store can run code inside every pipeline that uses it: keep the store
owned by the otter user, mode 0700 (docs/dynamic.md).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from collections.abc import Sequence

from otter_core.spi import ConfigError
from otter_dynamic.plugin import STORE_ENV
from otter_dynamic.source import HOOKS, InvalidSource, validate
from otter_dynamic.store import DynamicStore


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="otter-dynamic", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--store", default=os.environ.get(STORE_ENV), help=f"store directory (default ${STORE_ENV})"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate", help="check a source file without running it")
    p.add_argument("file")
    p.add_argument("--kind", choices=sorted(HOOKS), default="processor")
    p = sub.add_parser("push", help="store a source file as the next version")
    p.add_argument("name")
    p.add_argument("file")
    p.add_argument("--kind", choices=sorted(HOOKS), default="processor")
    p.add_argument("--activate", action="store_true", help="make it the active version at once")
    p.add_argument("--comment", default="")
    p = sub.add_parser("activate", help="make a stored version the active one (hot-swapped between batches)")
    p.add_argument("name")
    p.add_argument("version", type=int)
    p = sub.add_parser("list", help="list names, or the versions of one name")
    p.add_argument("name", nargs="?")
    p = sub.add_parser("show", help="print the source of one version")
    p.add_argument("name")
    p.add_argument("version", type=int)
    return parser


def _store(args: argparse.Namespace) -> DynamicStore:
    if not args.store:
        raise ConfigError(f"no store: pass --store DIR or set ${STORE_ENV}")
    return DynamicStore(args.store)


def run(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "validate":
        problems = validate(open(args.file, encoding="utf-8").read(), args.kind, os.path.basename(args.file))
        for problem in problems:
            print(f"{args.file}:{problem.line}:{problem.column}: {problem.message}")
        if not problems:
            print(f"{args.file}: a valid {args.kind}")
        return 1 if problems else 0
    store = _store(args)
    if args.command == "push":
        source = open(args.file, encoding="utf-8").read()
        version = store.push(
            args.name,
            args.kind,
            source,
            author=getpass.getuser(),
            comment=args.comment,
            activate=args.activate,
        )
        print(f"{args.name}: stored version {version}{' (active)' if args.activate else ''}")
    elif args.command == "activate":
        store.activate(args.name, args.version)
        print(
            f"{args.name}: version {args.version} is active; running pipelines swap it in at their next batch"
        )
    elif args.command == "list":
        if args.name is None:
            for name in store.names():
                print(f"{name}\tactive v{store.active_version(name)}")
        else:
            loaded = store.loaded(args.name) or {}
            for info in store.versions(args.name):
                when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.created_at))
                mark = "*" if info.active else " "
                print(
                    f"{mark} v{info.version}\t{info.kind}\t{when}\t{info.author}\t{info.sha256[:12]}\t{info.comment}"
                )
            if loaded:
                print(
                    f"loaded by a pipeline: v{loaded.get('version')}"
                    + (f" (error: {loaded['error']})" if loaded.get("error") else "")
                )
    elif args.command == "show":
        sys.stdout.write(store.source(args.name, args.version))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv)
    except InvalidSource as exc:
        for problem in exc.problems:
            print(f"error: line {problem.line}: {problem.message}", file=sys.stderr)
        return 1
    except (ConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
