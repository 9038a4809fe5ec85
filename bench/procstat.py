"""CPU seconds and peak RSS of processes, from /proc (Linux), and the bench's log line."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _proc_stat(pid: int) -> tuple[int, int, int, int, int] | None:
    """(ppid, utime+stime, cutime+cstime, ...) in ticks, or None if the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is state (field 3); ppid field 4 -> [1]; utime 14 -> [11]; stime [12]; cutime [13]; cstime [14]
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14]), 0, 0


def _descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _proc_stat(int(entry))
            if st is not None:
                parents.setdefault(st[0], []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def cpu_seconds(pid: int) -> float:
    """user+sys seconds of one process (all its threads)."""
    st = _proc_stat(pid)
    return st[1] / CLK_TCK if st else 0.0


def sched_seconds(pid: int) -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for one) summed over the process's live threads
    (/proc/PID/task/*/schedstat): a server's busy share over a phase, and how much of it waited for a core."""
    on_cpu = queued = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0, 0.0
    for tid in tasks:
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
        except OSError:
            continue  # the thread ended meanwhile
        on_cpu += int(fields[0])
        queued += int(fields[1])
    return on_cpu / 1e9, queued / 1e9


def system_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: everything but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLK_TCK


def own_cpu_seconds() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:120]
    except OSError:
        return "?"


class ProcessTreeMeter:
    """CPU seconds and peak RSS of a process and its descendants (sampled from /proc)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb: dict[int, int] = {}
        self.cmd: dict[int, str] = {}
        self.cpu_ticks: dict[int, int] = {}  # last seen utime+stime+cutime+cstime per pid

    def sample(self) -> None:
        for pid in _descendants(self.pid):
            st = _proc_stat(pid)
            if st is None:
                continue
            self.cpu_ticks[pid] = st[1] + st[2]
            hwm = _vm_hwm_kb(pid)
            if hwm:
                self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), hwm)
            if pid not in self.cmd:
                self.cmd[pid] = _comm(pid)

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu_ticks.values()) / CLK_TCK

    @property
    def peak_rss_mb(self) -> float:
        return sum(self.peak_kb.values()) / 1024

    def breakdown(self) -> list[dict]:
        return [
            {
                "pid": pid,
                "cmd": self.cmd.get(pid, "?"),
                "cpu_s": round(self.cpu_ticks.get(pid, 0) / CLK_TCK, 2),
                "peak_rss_mb": round(self.peak_kb.get(pid, 0) / 1024, 1),
            }
            for pid in sorted(self.cpu_ticks)
        ]
