"""``otter-run conflicts list|show|resolve FILE.yaml …``: the conflict log from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from otter_core.errors import ConfigError


def add_parser(sub: Any) -> None:
    """Register the ``conflicts`` command on the ``otter-run`` sub-parsers."""
    conflicts = sub.add_parser("conflicts", help="list, show or resolve conflicts two-way pipelines detected")
    actions = conflicts.add_subparsers(dest="conflicts_action", required=True)
    listing = actions.add_parser("list", help="conflicts of the file's pipelines, newest first")
    listing.add_argument("config", help="the pipeline YAML file")
    listing.add_argument("--channel")
    listing.add_argument("--pipeline")
    listing.add_argument("--status", choices=["parked", "done", "resolved"])
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    show = actions.add_parser("show", help="one conflict with both images")
    show.add_argument("config")
    show.add_argument("id", help="TARGET:N as `list` prints it")
    resolve = actions.add_parser(
        "resolve", help="settle a parked conflict (and the changes parked behind it)"
    )
    resolve.add_argument("config")
    resolve.add_argument("id")
    how = resolve.add_mutually_exclusive_group(required=True)
    how.add_argument("--source", action="store_true", help="apply the source's changes of that key, in order")
    how.add_argument("--target", action="store_true", help="keep the target's row")
    how.add_argument("--image", help="write this row instead: a JSON object of columns, or null to delete")
    resolve.add_argument("--by", default="operator", help="who resolves (kept in the log)")
    conflicts.set_defaults(func=cmd_conflicts)


def _line(rec: Any) -> str:
    key = ",".join(f"{k}={v}" for k, v in rec.key.items())
    when = rec.detected_at.strftime("%Y-%m-%d %H:%M:%S") if rec.detected_at else "?"
    return (
        f"{rec.id:<10} {when}  {rec.channel}/{rec.pipeline}  {rec.schema}.{rec.table} ({key})  {rec.kind}  "
        f"{rec.policy} -> {rec.outcome}"
    )


def cmd_conflicts(args: argparse.Namespace) -> int:
    from otter_core.config import load_config_file
    from otter_core.conflicts import list_conflicts, resolve_conflict, show_conflict

    config = load_config_file(args.config)
    if args.conflicts_action == "list":
        found = list_conflicts(
            config, channel=args.channel, pipeline=args.pipeline, status=args.status, limit=args.limit
        )
        for rec in found:
            print(json.dumps(rec.to_dict(), default=str) if args.json else _line(rec))
        if not found and not args.json:
            print("no conflicts")
        return 0
    if args.conflicts_action == "show":
        print(json.dumps(show_conflict(config, args.id).to_dict(), default=str, indent=2, ensure_ascii=False))
        return 0
    image = None
    action = "source" if args.source else "target" if args.target else "image"
    if action == "image":
        try:
            image = json.loads(args.image)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f'--image: not JSON ({exc}); give an object such as \'{{"status": "ok"}}\' or null'
            ) from None
        if image is not None and not isinstance(image, dict):
            raise ConfigError("--image: expected a JSON object of column values, or null to delete the row")
    rec = resolve_conflict(config, args.id, action, image, by=args.by)
    print(f"{rec.id}: {rec.outcome} by {rec.resolved_by}", file=sys.stdout)
    return 0
