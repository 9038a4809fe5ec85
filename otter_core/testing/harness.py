"""Run a pipeline between two test servers and wait until the target caught up."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import yaml

from otter_core.config import load_config_text
from otter_core.runner import Runner
from otter_core.testing.binlog_end import only_bookkeeping_after
from otter_core.testing.mariadb import MariaDBServer


def pipeline_yaml(
    source: MariaDBServer,
    target: MariaDBServer,
    pairs: list[Any],
    start: Any = "current",
    channel: str = "test",
    **parameters: Any,
) -> str:
    """The YAML of one channel with one pipeline ``src -> dst`` between the two servers."""
    doc = {
        "sources": {"src": source.source_config("src"), "dst": target.source_config("dst")},
        "channels": [
            {
                "name": channel,
                "pipelines": [
                    {
                        "name": "src-to-dst",
                        "source": "src",
                        "target": "dst",
                        "start": start,
                        "pairs": pairs,
                        "parameters": {"batch_timeout_ms": 100, "retry_backoff_ms": 100, **parameters},
                    }
                ],
            }
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


@contextlib.contextmanager
def running(yaml_text: str, state_dir: str) -> Iterator[Runner]:
    """A Runner over ``yaml_text``, started; stopped (drained, acked) when the block ends."""
    runner = Runner(load_config_text(yaml_text), state_dir).start()
    try:
        yield runner
    finally:
        runner.stop()
        runner.join(timeout=30)


def _at_end(position: Any, source: MariaDBServer, end: tuple[str, int]) -> bool:
    """Whether an acked ``position`` is the source's binlog ``end``, or only bookkeeping events follow it."""
    if position is None or position.file is None:
        return False
    at = (position.file, position.pos or 0)
    return at >= end or only_bookkeeping_after(source, at, end)


def wait_caught_up(runner: Runner, source: MariaDBServer, timeout: float = 60.0) -> None:
    """Block until every pipeline acked the source's current binlog end (or raise with the status)."""
    file, pos = source.binlog_position()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        failures = runner.failures()
        if failures:
            raise AssertionError(f"pipeline failed: {failures[0][1]}")
        done = all(_at_end(r.stats.position, source, (file, pos)) for r in runner.pipelines)
        if done:
            return
        time.sleep(0.05)
    raise AssertionError(f"not caught up with {file}:{pos} after {timeout}s: {runner.status()}")


def wait_paused(runner: Runner, timeout: float = 30.0) -> None:
    """Block until every pipeline closed its permit after a PAUSE (the runner follows channel states
    every half second, later on a busy machine); a transaction committed after this is held."""
    deadline = time.monotonic() + timeout
    while not all(r.stats.state == "paused" for r in runner.pipelines):
        if time.monotonic() > deadline:
            raise AssertionError(f"not paused after {timeout}s: {runner.status()}")
        time.sleep(0.05)


def sync_one_transaction(
    source: MariaDBServer,
    target: Any,
    state_dir: str,
    pairs: list[Any],
    statements: list[str],
    **parameters: Any,
) -> Any:
    """A pipeline from the source's binlog end: ``statements`` run as one source transaction and are
    loaded (no failure); returns the pipeline's stats."""
    file, pos = source.binlog_position()
    text = pipeline_yaml(source, target, pairs, start={"file": file, "pos": pos}, **parameters)
    with running(text, state_dir) as runner:
        source.execute("BEGIN", *statements, "COMMIT")
        wait_caught_up(runner, source)
        assert runner.failures() == []
        return runner.pipelines[0].stats
