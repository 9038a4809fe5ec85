"""Thread CPU of the runner's functions, measured inside a benchmark's ``otter-run`` (issue 21).

    OTTER_CPU_WRAP=1 PYTHONPATH=bench/cpu_wrap python bench/oltp_catchup.py --workloads oltp_write_only

Every Python process started with this ``PYTHONPATH`` imports this file first; with ``OTTER_CPU_WRAP``
set it wraps the functions in ``WRAPPED`` and sums ``time.thread_time()`` per call (inclusive: a function
that calls another also counts the other's time; a thread waiting on another's work counts nothing), and
at exit writes ``$OTTER_CPU_WRAP_DIR/cpu-<pid>.txt`` (default /tmp) with the process's CPU. py-spy's
``--gil`` shares mislead on a loaded machine (a descheduled thread that holds the GIL keeps being
sampled: ``count_by_table`` showed 10.8 % of the runner's samples and costs 2 % of its CPU).
"""

from __future__ import annotations

import atexit
import importlib
import os
import sys
import threading
import time

WRAPPED = [
    ("otter_core.engine.select", "Batcher.next_batch"),
    ("otter_core.engine.select_process", "ProcessSelector._receive"),
    ("otter_core.engine.select_process", "ProcessSelector.poll"),
    ("otter_core.engine.select_process", "ProcessSelector.take_ready"),  # issue 21, branch chunkrx
    ("otter_mysql.handover", "RawExpander.expand"),
    ("otter_core.engine.extract", "Extractor.extract"),
    ("otter_core.engine.pipeline", "transform"),
    ("otter_core.engine.pipeline", "count_by_table"),
    ("otter_core.engine.pipeline", "PipelineRunner._load_one"),
    ("otter_core.engine.load", "LoadStage.load"),
    ("otter_core.engine.load", "merge_events"),
    ("otter_mysql.loader", "MySQLLoader.load"),
]
_sums: dict[str, tuple[int, float]] = {}
_lock = threading.Lock()


def _wrap(module: str, path: str) -> None:
    owner = importlib.import_module(module)
    *parents, name = path.split(".")
    for part in parents:
        owner = getattr(owner, part)
    original = getattr(owner, name)
    key = f"{module.rsplit('.', 1)[-1]}.{path}"

    def timed(*args, **kwargs):
        started = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent = time.thread_time() - started
            with _lock:
                calls, total = _sums.get(key, (0, 0.0))
                _sums[key] = (calls + 1, total + spent)

    setattr(owner, name, timed)


def _write() -> None:
    if not _sums:
        return
    path = os.path.join(os.environ.get("OTTER_CPU_WRAP_DIR", "/tmp"), f"cpu-{os.getpid()}.txt")
    with open(path, "w") as out:
        out.write(f"{' '.join(sys.argv)[:100]}\nprocess CPU s {time.process_time():.3f}\n")
        for key, (calls, total) in sorted(_sums.items()):
            out.write(f"{key}: {calls} calls, {total:.3f} CPU s\n")


if os.environ.get("OTTER_CPU_WRAP"):
    for _module, _path in WRAPPED:
        try:
            _wrap(_module, _path)
        except Exception as exc:  # an older tree without one of them: the others are still measured
            sys.stderr.write(f"cpu_wrap: {_module}.{_path} not wrapped: {exc!r}\n")
    atexit.register(_write)
