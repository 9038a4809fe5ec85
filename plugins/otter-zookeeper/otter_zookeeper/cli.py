"""``otter-run node``, ``otter-run deploy`` and ``otter-run cluster``: the commands of distributed mode,
added to ``otter-run`` through the ``otter_cli_commands`` hook (entry point ``otter.cli: zookeeper``)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time

from otter_core.spi import ConfigError, hookimpl
from otter_zookeeper.auth import ZooKeeperAuth

log = logging.getLogger("otter.cli")
ZK_HELP = "ZooKeeper connect string, e.g. zk1:2181,zk2:2181,zk3:2181"


def _node_ids(text: str) -> list[int]:
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected node ids separated by commas, got {text!r}") from None


def _token(args: argparse.Namespace) -> str:
    if args.auth_token_file:
        with open(args.auth_token_file, encoding="utf-8") as handle:
            return handle.read().strip()
    return os.environ.get("OTTER_NODE_TOKEN", "")


def cmd_node(args: argparse.Namespace) -> int:
    from otter_core.spi import NodeContext
    from otter_zookeeper.node import Node

    advertised = args.advertise or (args.bind if args.bind not in ("0.0.0.0", "::") else "127.0.0.1")
    holder: dict = {}
    context = NodeContext(
        node_id=args.id,
        bind_host=args.bind,
        advertised_host=advertised,
        pipe_port=args.pipe_port,
        auth_token=_token(args),
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_ca=args.tls_ca,
        zk_hosts=args.zk,
        address_of=lambda node_id: holder["node"].address_of(node_id),
        spool_dir=os.path.join(args.state_dir or f"./otter-node-{args.id}", "spool"),
    )
    node = Node(
        args.zk,
        args.id,
        root=args.zk_root,
        state_dir=args.state_dir,
        session_timeout=args.session_timeout,
        context=context,
        zk_auth=ZooKeeperAuth.resolve(args.zk_auth_file),
    )
    holder["node"] = node
    stop = threading.Event()

    def on_signal(signum, _frame):
        log.info(
            "node %s: %s: giving the stages up after their batches in flight are acked",
            args.id,
            signal.Signals(signum).name,
        )
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    node.start()
    print(f"otter node {args.id}: registered in ZooKeeper {args.zk}{node.layout.node(args.id)}", flush=True)
    last = 0.0
    while not stop.wait(0.5):
        if args.status_interval and time.monotonic() - last >= args.status_interval:
            last = time.monotonic()
            for row in node.status():
                if row.get("running"):
                    print(json.dumps(row, sort_keys=True), flush=True)
    node.stop()
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from otter_zookeeper.admin import connect, deploy
    from otter_zookeeper.layout import Layout
    from otter_zookeeper.placement import Placement

    with open(args.config, encoding="utf-8") as handle:
        text = handle.read()
    placement = Placement(args.select, args.load or args.select, args.arbitrate, args.grace)
    zk = connect(args.zk, auth=ZooKeeperAuth.resolve(args.zk_auth_file), root=args.zk_root)
    try:
        for channel, pipeline, where in deploy(
            zk, Layout(args.zk_root), text, args.config, default=placement
        ):
            mode = "split S/E | T/L" if where.split else "whole pipeline"
            print(
                f"deployed {channel}/{pipeline}: select on {list(where.select)}, load on {list(where.load)} "
                f"({mode}, arbitrate {where.arbitrate}, grace {where.grace_seconds:g}s)"
            )
    finally:
        zk.stop()
        zk.close()
    return 0


def cmd_cluster(args: argparse.Namespace) -> int:
    from otter_zookeeper.admin import ClusterView, connect, set_channel_state
    from otter_zookeeper.layout import Layout

    zk = connect(args.zk, auth=ZooKeeperAuth.resolve(args.zk_auth_file), root=args.zk_root)
    try:
        if args.action == "status":
            view = ClusterView(zk, args.zk_root)
            print(
                json.dumps({"nodes": view.nodes(), "pipelines": view.pipelines()}, indent=2, sort_keys=True)
            )
            return 0
        if not args.channel:
            raise ConfigError(f"otter-run cluster {args.action} needs a channel name")
        state = {"pause": "PAUSE", "resume": "START", "stop": "STOP"}[args.action]
        set_channel_state(zk, Layout(args.zk_root), args.channel, state)
        print(f"channel {args.channel}: {state} (every node follows at once)")
        return 0
    finally:
        zk.stop()
        zk.close()


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--zk", required=True, help=ZK_HELP)
    parser.add_argument("--zk-root", default="/otter", help="the znode under which otter keeps everything")
    parser.add_argument(
        "--zk-auth-file",
        default=None,
        help="file holding 'user:password' for ZooKeeper digest auth; every znode otter creates "
        "is then readable by that identity only (else $OTTER_ZK_AUTH; none: open ACLs)",
    )


@hookimpl
def otter_cli_commands(subparsers: argparse._SubParsersAction) -> None:
    """Contribute ``node``, ``deploy`` and ``cluster`` to ``otter-run``."""
    add_commands(subparsers)


def add_commands(sub: argparse._SubParsersAction) -> None:
    node = sub.add_parser(
        "node", help="run a worker node that takes the pipeline stages ZooKeeper assigns to it"
    )
    _common(node)
    node.add_argument("--id", type=int, required=True, help="this node's id (unique in the cluster)")
    node.add_argument(
        "--state-dir", default=None, help="reject logs and local files (default ./otter-node-ID)"
    )
    node.add_argument(
        "--session-timeout",
        type=float,
        default=10.0,
        help="ZooKeeper session timeout in seconds: a node silent this long is dead (default 10)",
    )
    node.add_argument("--bind", default="127.0.0.1", help="interface the pipe server listens on")
    node.add_argument("--advertise", default=None, help="host other nodes dial (default: --bind)")
    node.add_argument("--pipe-port", type=int, default=0, help="pipe server port (0: a free one)")
    node.add_argument(
        "--auth-token-file",
        default=None,
        help="file holding the node-to-node shared secret (else $OTTER_NODE_TOKEN)",
    )
    node.add_argument("--tls-cert", default=None, help="PEM certificate of this node's pipe server")
    node.add_argument("--tls-key", default=None, help="PEM key of --tls-cert")
    node.add_argument("--tls-ca", default=None, help="PEM CA that signs the other nodes' certificates")
    node.add_argument("--status-interval", type=float, default=0.0, help="print running stages every N s")
    node.set_defaults(func=cmd_node)

    dep = sub.add_parser("deploy", help="write a pipeline YAML and its placement to ZooKeeper for the nodes")
    dep.add_argument("config", help="the pipeline YAML file")
    _common(dep)
    dep.add_argument(
        "--select",
        type=_node_ids,
        required=True,
        help="node ids that may run Select/Extract, preferred first (e.g. 1,3)",
    )
    dep.add_argument(
        "--load",
        type=_node_ids,
        default=None,
        help="node ids that may run Transform/Load, preferred first (default: --select)",
    )
    dep.add_argument(
        "--arbitrate",
        default="automatic",
        choices=["automatic", "memory", "zookeeper", "rpc"],
        help="how stages signal each other (automatic: memory when select and load nodes are the same)",
    )
    dep.add_argument(
        "--grace",
        type=float,
        default=30.0,
        help="seconds a standby waits for the preferred node to come back (default 30)",
    )
    dep.set_defaults(func=cmd_deploy)

    cluster = sub.add_parser(
        "cluster", help="show nodes and pipelines in ZooKeeper, pause/resume/stop a channel"
    )
    cluster.add_argument("action", choices=["status", "pause", "resume", "stop"])
    cluster.add_argument("channel", nargs="?", default=None)
    _common(cluster)
    cluster.set_defaults(func=cmd_cluster)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run it as `otter-run node|deploy|cluster`")
