"""The live progress line of ``otter-run run``: rows/s, lag and position per pipeline."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO


def format_status(status: dict, now: float | None = None) -> str:
    """One pipeline's line; a retrying one adds its attempt and when the next one starts."""
    state = status["state"]
    if state == "retrying" and status.get("attempt"):
        wait = max(0.0, (status.get("next_try_time") or 0.0) - (time.time() if now is None else now))
        state = f"retrying (retry {status['attempt']}" + (f", next in {wait:.0f}s)" if wait else ")")
    line = (
        f"{status['channel']}/{status['pipeline']} {state:<8} rows={status['rows']:<9} "
        f"{status['rows_per_s']:>9.0f} rows/s  lag={status['lag_s']:.1f}s  at {status['position'] or '-'}"
    )
    if status["error"] and status["state"] != "running":
        kind = f"{status['error_class']} " if status.get("error_class") else ""
        line += f"  last {kind}error: {status['error'][:160]}"
    return line


def format_snapshot(status: dict, width: int = 24) -> str | None:
    """The load's progress bar line of a pipeline status (None when no load runs or ran)."""
    load = status.get("snapshot")
    if not load or (load["state"] == "done" and time.time() - (load["finished_at"] or 0) > 60):
        return None
    filled = int(width * load["percent"] / 100)
    eta = load["eta_s"]
    eta_text = (
        f"{int(eta) // 3600}:{int(eta) % 3600 // 60:02d}:{int(eta) % 60:02d}" if eta is not None else "-"
    )
    line = (
        f"  load {load['state']:<7} [{'#' * filled}{'.' * (width - filled)}] {load['percent']:5.1f}% "
        f"{load['rows']:,}/{load['rows_total']:,} rows  {load['rows_per_s']:>9,.0f} rows/s  ETA {eta_text}  "
        f"tables {load['tables_done']}/{load['tables_total']}"
    )
    if load["table"]:
        line += f"  at {load['table']}"
    if load["error"]:
        line += f"  error: {load['error'][:160]}"
    return line


class ProgressPrinter:
    """Rewrites one block of lines on a terminal; prints a plain line per update otherwise."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self._lines = 0

    def show(self, statuses: list[dict], extra: tuple[str, ...] = ()) -> None:
        """Print one line per pipeline status, then the ``extra`` lines."""
        lines = [line for s in statuses for line in (format_status(s), format_snapshot(s)) if line] + list(
            extra
        )
        if self.tty:  # a wrapped line would break rewriting the block in place
            width = max(20, shutil.get_terminal_size().columns - 1)
            lines = [line if len(line) <= width else line[: width - 3] + "..." for line in lines]
            if self._lines:
                self.stream.write(f"\x1b[{self._lines}F")
            for line in lines:
                self.stream.write("\x1b[2K" + line + "\n")
            self._lines = len(lines)
        else:
            for line in lines:
                self.stream.write(line + "\n")
        self.stream.flush()

    def forget(self) -> None:
        """The next ``show`` writes below what is on screen instead of over it."""
        self._lines = 0
