"""``otter-run verify FILE.yaml [--repair]``: are the targets equal to the sources, as the pipelines map them?"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time

from otter_core.cli_load import selected_pipelines
from otter_core.verify.compare import KINDS, UnitResult


def _line(name: str, result: UnitResult) -> str:
    counts = result.found or result.counts()
    rate = result.source_rows / result.seconds if result.seconds else 0.0
    text = (
        f"{name}: {result.unit.describe()}: {result.source_rows} source rows, {result.target_rows} target rows, "
        + ", ".join(f"{counts[k]} {k}" for k in KINDS)
        + f" ({result.chunks} chunks, {result.chunks_read} read row by row, {result.seconds:.1f}s, {rate:,.0f} rows/s)"
    )
    if result.error:
        text += f"  ERROR: {result.error}"
    return text


def _print_line(name: str, result: UnitResult) -> None:
    print(_line(name, result), file=sys.stderr, flush=True)


def cmd_verify(args: argparse.Namespace) -> int:
    from otter_core.config import load_config_file
    from otter_core.verify.session import PipelineVerification

    config = load_config_file(args.config)
    started = time.monotonic()
    report: list[dict] = []
    remaining = errors = rows = 0
    for channel, pipeline in selected_pipelines(config, args.channel, args.pipeline):
        session = PipelineVerification(
            config, channel, pipeline, args.state_dir, args.chunk_rows, args.rounds, args.lag_timeout
        )
        name = session.name
        try:
            results = session.run(
                args.tables or (),
                args.repair,
                None if args.json else functools.partial(_print_line, name),
            )
        finally:
            session.close()
        for result in results:
            left = result.counts()
            remaining += sum(left.values())
            errors += bool(result.error)
            rows += result.source_rows
            report.append({"pipeline": name, **result.as_dict()})
            if not args.json and (any(result.found.values()) or result.repaired):
                print(
                    f"{name}: {result.unit.describe()}: after re-checks "
                    + ", ".join(f"{result.found[k]} {k}" for k in KINDS)
                    + (
                        f"; repaired {result.repaired}, still differing {sum(left.values())}"
                        if args.repair
                        else ""
                    )
                )
                for diff in list(result.differences.values())[: args.show]:
                    print(
                        f"    {diff.kind} {result.unit.full_name} key {dict(zip(result.unit.key, diff.key))}"
                    )
    seconds = time.monotonic() - started
    summary = {
        "rows": rows,
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds, 1) if seconds else 0,
        "differences": remaining,
        "errors": errors,
        "found": {k: sum(r["found"][k] for r in report) for k in KINDS},
        "repaired": sum(r["repaired"] for r in report),
    }
    if args.json:
        print(json.dumps({"tables": report, "summary": summary}, indent=1, default=str))
    else:
        print(
            f"verify: {rows} rows in {seconds:.1f}s ({summary['rows_per_s']:,.0f} rows/s): "
            + ", ".join(f"{summary['found'][k]} {k}" for k in KINDS)
            + (f", {summary['repaired']} repaired" if args.repair else "")
            + f"; {remaining} differing row(s) remain"
            + (f", {errors} table(s) failed" if errors else "")
        )
    return 1 if remaining or errors else 0


def add_parser(sub) -> None:
    verify = sub.add_parser(
        "verify", help="compare every pipeline's source and target tables (and repair them)"
    )
    verify.add_argument("config", help="the pipeline YAML file")
    verify.add_argument("--channel", help="only this channel")
    verify.add_argument("--pipeline", help="only this pipeline")
    verify.add_argument(
        "--tables", nargs="+", metavar="SCHEMA.TABLE", help="only these source tables (patterns allowed)"
    )
    verify.add_argument(
        "--repair", action="store_true", help="load the source's rows for the differences found"
    )
    verify.add_argument(
        "--chunk-rows", type=int, default=10_000, help="rows per checksummed chunk (default 10000)"
    )
    verify.add_argument(
        "--rounds", type=int, default=3, help="re-checks of differing rows after the lag (default 3)"
    )
    verify.add_argument(
        "--lag-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for a running pipeline to catch up before a re-check (default 120)",
    )
    verify.add_argument("--state-dir", default="./otter-state", help="the state directory of the pipelines")
    verify.add_argument("--show", type=int, default=20, help="differing keys to list per table (default 20)")
    verify.add_argument("--json", action="store_true", help="print one JSON report instead of text")
    verify.set_defaults(func=cmd_verify)
