"""``otter-run manager``: the web console and JSON API, added to ``otter-run`` through the
``otter_cli_commands`` hook (entry point ``otter.cli: manager``)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from otter_core.spi import hookimpl

PASSWORD_ENV = "OTTER_MANAGER_PASSWORD"
EXTRA_HINT = "the manager's dependencies are missing: pip install otter-manager (or pip install ./plugins/otter-manager)"


@hookimpl
def otter_cli_commands(subparsers: argparse._SubParsersAction) -> None:
    """Contribute ``manager`` to ``otter-run``."""
    add_parser(subparsers)


def add_parser(sub: argparse._SubParsersAction) -> None:
    manager = sub.add_parser(
        "manager", help="serve the web console and JSON API (config store, control, monitoring)"
    )
    manager.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    manager.add_argument("--port", type=int, default=8090, help="port to listen on (default 8090)")
    manager.add_argument(
        "--state-dir",
        default="./otter-manager",
        help="config store, secret and runs (default ./otter-manager)",
    )
    manager.add_argument(
        "--db",
        default=None,
        help="SQLAlchemy URL of the config store (default SQLite in the state dir), "
        "e.g. mysql+pymysql://user:pw@host/otter_manager",
    )
    manager.add_argument("--zk", default=None, help="ZooKeeper hosts (distributed mode), e.g. 127.0.0.1:2181")
    manager.add_argument(
        "--forwarded-allow-ips",
        default=os.environ.get("FORWARDED_ALLOW_IPS", ""),
        metavar="LIST",
        help="comma-separated addresses or networks of the reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed ('*': any peer); default none (env FORWARDED_ALLOW_IPS)",
    )
    manager.add_argument(
        "--session-idle-minutes",
        type=int,
        default=120,
        help="a login session ends after this many minutes without a request (default 120)",
    )
    manager.add_argument(
        "--session-max-hours",
        type=int,
        default=12,
        help="a login session ends this many hours after the login (default 12)",
    )
    manager.add_argument(
        "--init-admin",
        metavar="NAME",
        default=None,
        help=f"create (or reset) ADMIN user NAME, password from ${PASSWORD_ENV} or stdin, and exit",
    )
    manager.set_defaults(func=cmd_manager)


def _read_password() -> str:
    password = os.environ.get(PASSWORD_ENV)
    if password:
        return password
    if sys.stdin.isatty():
        return getpass.getpass("password for the new ADMIN: ")
    return sys.stdin.readline().rstrip("\n")


def cmd_manager(args: argparse.Namespace) -> int:
    try:
        import fastapi  # noqa: F401  -- probes the manager's dependencies
        import sqlalchemy  # noqa: F401  -- probes the manager's dependencies
        import uvicorn

        from otter_manager.app import create_app
        from otter_manager.http_guard import parse_allow_ips
        from otter_manager.settings import load_settings
    except ImportError as exc:
        print(f"otter-run manager: {EXTRA_HINT} ({exc})", file=sys.stderr)
        return 2
    try:
        trusted = parse_allow_ips(args.forwarded_allow_ips)
    except ValueError as exc:
        print(f"otter-run manager: {exc}", file=sys.stderr)
        return 2
    if args.session_idle_minutes < 1 or args.session_max_hours < 1:
        print(
            "otter-run manager: --session-idle-minutes and --session-max-hours must be 1 or more",
            file=sys.stderr,
        )
        return 2
    settings = load_settings(
        args.state_dir,
        db_url=args.db,
        host=args.host,
        port=args.port,
        zk_hosts=args.zk,
        session_idle_s=args.session_idle_minutes * 60,
        session_max_s=args.session_max_hours * 3600,
        forwarded_allow_ips=trusted,
    )
    if args.init_admin:
        return _init_admin(settings, args.init_admin)
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", proxy_headers=False)
    return 0


def _init_admin(settings, username: str) -> int:
    from otter_manager import migrate
    from otter_manager.security import ValidationProblem, audit, set_user
    from otter_manager.store import Database

    password = _read_password()
    db = Database(settings.database_url)
    try:
        migrate.upgrade(db.engine)
        with db.session_scope() as session:
            set_user(session, username, password, "ADMIN")
            audit(session, "otter-run", "init-admin", f"user {username}")
    except ValidationProblem as exc:
        print(f"otter-run manager: --init-admin: {exc.field}: {exc.message}", file=sys.stderr)
        return 2
    finally:
        db.dispose()
    print(
        f"ADMIN user {username!r} is ready in {settings.database_url.split('://', 1)[0]} store "
        f"of {settings.state_dir}"
    )
    return 0
