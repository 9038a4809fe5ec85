"""Thread CPU of the runner's functions, measured inside a benchmark's ``otter-run`` (issue 21).

    OTTER_CPU_WRAP=1 PYTHONPATH=.:plugins/otter-mysql:bench/cpu_wrap python bench/oltp_catchup.py \
        --workloads oltp_write_only

Put the checkout first on ``PYTHONPATH``: this file imports ``otter_core`` while ``site`` runs, before
``python -m`` puts the working directory on ``sys.path``, so without it the *installed* ``otter_core``
(and plugin) is the one measured, not the checkout's (found in stop 31).

Every Python process started with this ``PYTHONPATH`` imports this file first; with ``OTTER_CPU_WRAP``
set it wraps the functions in ``WRAPPED`` and sums ``time.thread_time()`` per call (inclusive: a function
that calls another also counts the other's time; a thread waiting on another's work counts nothing) and
the wall time per call, both per thread kind (the name without its number: the load pool's threads add
up), so the waits (``SelectLoop.take``: the runner waiting for a batch; ``Future.result``: for an
Extract or a pool's loads; ``Window.wait_for_room``: the select thread on a full window) show beside the
work, and at exit writes ``$OTTER_CPU_WRAP_DIR/cpu-<pid>.txt`` (default /tmp) with the process's CPU. py-spy's
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
    ("otter_mysql.handover", "RawExpander.take_packed"),  # issue 21, stop 31: the packed hand-over
    ("otter_mysql.handover", "DeferredDecoding.unpack_packed"),
    ("otter_core.engine.extract", "Extractor.extract"),
    ("otter_core.engine.pipeline", "transform"),
    ("otter_core.engine.pipeline", "count_by_table"),
    ("otter_core.engine.pipeline", "PipelineRunner._load_one"),
    ("otter_core.engine.load", "LoadStage.load"),
    ("otter_core.engine.load", "merge_events"),
    ("otter_mysql.loader", "MySQLLoader.load"),
    # the waits: where each thread's wall time goes (``OTTER_CPU_WRAP=wall``, see below)
    ("otter_core.engine.select_loop", "SelectLoop.take"),
    ("otter_core.engine.window", "Window.wait_for_room"),
    ("otter_core.engine.select", "Batcher._more"),
    ("concurrent.futures._base", "Future.result"),
    ("otter_core.engine.load", "LoadStage._load_rows"),
    ("otter_core.engine.load", "group_by_target"),
    ("otter_core.engine.load", "plan_groups"),
]
_sums: dict[tuple[str, str], tuple[int, float, float]] = {}
_lock = threading.Lock()
_started = time.perf_counter()


def _thread_kind() -> str:
    """The thread's name without its number: the pool threads of one kind add up."""
    return _kind(threading.current_thread().name)


def _wrap(module: str, path: str) -> None:
    owner = importlib.import_module(module)
    *parents, name = path.split(".")
    for part in parents:
        owner = getattr(owner, part)
    original = getattr(owner, name)
    key = f"{module.rsplit('.', 1)[-1]}.{path}"

    def timed(*args, **kwargs):
        started, wall = time.thread_time(), time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent, waited = time.thread_time() - started, time.perf_counter() - wall
            where = (key, _thread_kind())
            with _lock:
                calls, total, walls = _sums.get(where, (0, 0.0, 0.0))
                _sums[where] = (calls + 1, total + spent, walls + waited)

    setattr(owner, name, timed)


_threads: dict[int, list] = {}  # native id -> [kind, first seen, last seen, on-CPU ns, run-queue ns]


def _sample_threads() -> None:
    """Each thread's scheduler figures (/proc/self/task/ID/schedstat: ns on a CPU, ns runnable but
    waiting for one) every 0.5 s, so a thread's life splits into running, waiting for a core and
    blocked (a lock, the GIL, a socket, a condition)."""
    while True:
        now = time.perf_counter()
        names = {t.native_id: _kind(t.name) for t in threading.enumerate()}
        for tid, kind in names.items():
            try:
                with open(f"/proc/self/task/{tid}/schedstat") as stat:
                    on_cpu, queued = (int(v) for v in stat.read().split()[:2])
            except (OSError, ValueError):
                continue
            entry = _threads.setdefault(tid, [kind, now, now, 0, 0])
            entry[2:] = [now, on_cpu, queued]
        time.sleep(0.5)


def _kind(name: str) -> str:
    return name.rstrip("0123456789_").removesuffix("Thread-")


def _write() -> None:
    if not _sums:
        return
    kinds: dict[str, list[float]] = {}
    for kind, first, last, on_cpu, queued in _threads.values():
        row = kinds.setdefault(kind, [0, 0.0, 0.0, 0.0])
        row[0] += 1
        row[1] += last - first
        row[2] += on_cpu / 1e9
        row[3] += queued / 1e9
    path = os.path.join(os.environ.get("OTTER_CPU_WRAP_DIR", "/tmp"), f"cpu-{os.getpid()}.txt")
    with open(path, "w") as out:
        out.write(
            f"{' '.join(sys.argv)[:100]}\nprocess CPU s {time.process_time():.3f}, "
            f"wall s {time.perf_counter() - _started:.3f}\n"
        )
        for (key, thread), (calls, total, walls) in sorted(_sums.items()):
            out.write(f"{key} [{thread}]: {calls} calls, {total:.3f} CPU s, {walls:.3f} wall s\n")
        for kind, (count, life, on_cpu, queued) in sorted(kinds.items()):
            out.write(
                f"thread {kind} x{count}: alive {life:.2f} s, on CPU {on_cpu:.2f} s, waiting for a core "
                f"{queued:.2f} s, blocked {max(0.0, life - on_cpu - queued):.2f} s\n"
            )


if os.environ.get("OTTER_CPU_WRAP"):
    for _module, _path in WRAPPED:
        try:
            _wrap(_module, _path)
        except Exception as exc:  # an older tree without one of them: the others are still measured
            sys.stderr.write(f"cpu_wrap: {_module}.{_path} not wrapped: {exc!r}\n")
    threading.Thread(target=_sample_threads, name="cpu_wrap-sampler", daemon=True).start()
    atexit.register(_write)
