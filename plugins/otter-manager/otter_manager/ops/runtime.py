"""LocalRuntime: every channel runs as its own detached ``otter-run run`` process on this machine.

Under ``ROOT/<channel>/`` (``ROOT`` is the manager's ``<state_dir>/runs``) a channel has the YAML it runs
(``config.yaml``), its process id (``process.json``), the status file the process rewrites every second
(``status.json``), its log (``run.log``) and its otter state directory (``state/``: acked positions,
``channel.state``, reject logs). The process runs in its own session, so it keeps running when the
manager stops; a new manager finds it again from ``process.json``. Start, pause and stop go through
``otter_core.control`` (the state file the running process follows); a position is reset through
``otter_core.state`` while the channel is stopped.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from otter_core.control import channel_state, set_channel_state
from otter_core.rejects import RejectLog
from otter_core.spi import Position, safe_name
from otter_core.state import PositionStore
from otter_core.status_file import read_status_file
from otter_manager.ops.errors import ChannelConflict, UnknownChannel

log = logging.getLogger("otter.manager.runtime")
STALE_SECONDS = 10.0  # a status file older than this is not live figures any more


class LocalRuntime:
    """Starts, pauses, stops and watches channel processes; all state lives on disk under ``root``."""

    def __init__(self, root: str | os.PathLike, python: str = sys.executable) -> None:
        self.root = Path(root)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.python = python
        self._children: dict[str, subprocess.Popen] = {}  # processes this manager started (reaped here)
        self._lock = threading.RLock()

    # -- where things are -------------------------------------------------------------------------
    def channel_dir(self, channel: str) -> Path:
        return self.root / safe_name(channel)

    def state_dir(self, channel: str) -> Path:
        """The otter state directory the channel's process runs with (positions, reject logs)."""
        return self.channel_dir(channel) / "state"

    def config_path(self, channel: str) -> Path:
        return self.channel_dir(channel) / "config.yaml"

    def channels(self) -> list[str]:
        """Every channel this runtime has run (started at least once), by name."""
        names = []
        for path in sorted(self.root.glob("*/process.json")):
            try:
                names.append(json.loads(path.read_text())["channel"])
            except (ValueError, KeyError, OSError):
                continue
        return names

    # -- the process ------------------------------------------------------------------------------
    def _process_info(self, channel: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.channel_dir(channel) / "process.json").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def pid(self, channel: str) -> int | None:
        """The id of the channel's live process, or None."""
        info = self._process_info(channel)
        if info is None:
            return None
        with self._lock:
            child = self._children.get(channel)
            if child is not None and child.pid == info["pid"]:
                # poll() reaps it once every thread ended; _alive tells the same as another manager would
                return child.pid if child.poll() is None and _alive(child.pid, None) else None
        return info["pid"] if _alive(info["pid"], info.get("start_ticks")) else None

    def start(self, channel: str, yaml_text: str) -> dict[str, Any]:
        """Run the channel (a new process with ``yaml_text``), or resume it when it runs paused."""
        with self._lock:
            if self.pid(channel) is not None:
                set_channel_state(self.state_dir(channel), channel, "START")
                return self.channel_status(channel)
            folder = self.channel_dir(channel)
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            _write_private(self.config_path(channel), yaml_text)  # it holds the sources' passwords
            set_channel_state(self.state_dir(channel), channel, "START")
            (folder / "status.json").unlink(missing_ok=True)
            command = [
                self.python,
                "-m",
                "otter_core.cli",
                "run",
                str(self.config_path(channel)),
                "--state-dir",
                str(self.state_dir(channel)),
                "--status-file",
                str(folder / "status.json"),
                "--quiet",
            ]
            # The log may hold what a failing connection printed (a DSN, a host): this user only.
            log_fd = os.open(folder / "run.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.fchmod(log_fd, 0o600)
            with os.fdopen(log_fd, "ab") as out:
                child = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    close_fds=True,
                )
            self._children[channel] = child
            info = {
                "channel": channel,
                "pid": child.pid,
                "started": time.time(),
                "command": command,
                "start_ticks": _start_ticks(child.pid),
            }
            tmp = folder / "process.json.tmp"
            tmp.write_text(json.dumps(info))
            os.replace(tmp, folder / "process.json")
            log.info("channel %s started as process %d", channel, child.pid)
            return self.channel_status(channel)

    def pause(self, channel: str) -> dict[str, Any]:
        """Close the channel's permit: Select stops, batches in flight load and ack."""
        if self.pid(channel) is None:
            raise ChannelConflict(f"channel {channel!r} is not running: start it first")
        set_channel_state(self.state_dir(channel), channel, "PAUSE")
        return self.channel_status(channel)

    def stop(self, channel: str, timeout: float = 60.0) -> dict[str, Any]:
        """Stop the channel after its batches in flight are loaded and acked; SIGTERM, then SIGKILL, when its
        process does not end within ``timeout`` seconds."""
        if self._process_info(channel) is None:
            raise UnknownChannel(f"channel {channel!r} was never started here")
        set_channel_state(self.state_dir(channel), channel, "STOP")
        pid = self.pid(channel)
        if pid is not None and not self._wait_gone(channel, timeout):
            log.warning(
                "channel %s: process %d still runs %.0fs after STOP: sending SIGTERM", channel, pid, timeout
            )
            _signal(pid, signal.SIGTERM)
            if not self._wait_gone(channel, 30.0):
                _signal(pid, signal.SIGKILL)
                self._wait_gone(channel, 10.0)
        return self.channel_status(channel)

    def _wait_gone(self, channel: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.pid(channel) is not None:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True

    # -- what runs ----------------------------------------------------------------------------------
    def channel_status(self, channel: str) -> dict[str, Any]:
        """``state``: RUNNING, PAUSED, STOPPED or DEAD (its process ended although nobody stopped it),
        with the pipelines' figures of the status file."""
        info = self._process_info(channel)
        if info is None:
            raise UnknownChannel(f"channel {channel!r} was never started here")
        desired = channel_state(self.state_dir(channel), channel)
        pid = self.pid(channel)
        status = read_status_file(self.channel_dir(channel) / "status.json") or {}
        if pid is not None:
            state = "PAUSED" if desired == "PAUSE" else "RUNNING"
        else:
            state = "STOPPED" if desired == "STOP" else "DEAD"
        updated = status.get("updated", 0.0)
        return {
            "channel": channel,
            "state": state,
            "desired": desired,
            "pid": pid,
            "node": "local",
            "started": info.get("started"),
            "updated": updated,
            "stale": pid is not None and time.time() - max(updated, info.get("started") or 0) > STALE_SECONDS,
            "pipelines": status.get("pipelines", []),
        }

    def status(self) -> list[dict[str, Any]]:
        return [self.channel_status(name) for name in self.channels()]

    def nodes(self) -> list[dict[str, Any]]:
        """Standalone mode has one node: this machine, running every live channel."""
        running = [s["channel"] for s in self.status() if s["pid"] is not None]
        return [{"id": "local", "alive": True, "address": os.uname().nodename, "channels": running}]

    def log_tail(self, channel: str, chars: int = 4000) -> str:
        try:
            with open(self.channel_dir(channel) / "run.log", "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - chars))
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    # -- positions and reject logs --------------------------------------------------------------
    def position(self, channel: str, pipeline: str) -> Position | None:
        return PositionStore(self.state_dir(channel), channel, pipeline).load()

    def reset_position(self, channel: str, pipeline: str, position: Position) -> None:
        """Make the pipeline resume at ``position`` on its next start; the channel must be stopped."""
        with self._lock:
            if self.pid(channel) is not None:
                raise ChannelConflict(
                    f"channel {channel!r} is running: stop it before resetting the position of "
                    f"pipeline {pipeline!r}"
                )
            PositionStore(self.state_dir(channel), channel, pipeline).save(position, 0)
        log.info("channel %s pipeline %s: position reset to %s", channel, pipeline, position)

    def rejects(self, channel: str, pipeline: str) -> list[dict]:
        return RejectLog(str(self.state_dir(channel)), channel, pipeline).read()


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first), or None without /proc."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return None


def _start_ticks(pid: int) -> int | None:
    """When the process started (clock ticks after boot): tells our process from a recycled pid."""
    fields = _proc_stat(pid)
    return int(fields[19]) if fields else None


def _alive(pid: int, start_ticks: int | None) -> bool:
    """True when ``pid`` runs and is the process we started (same start time), not a zombie."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    fields = _proc_stat(pid)
    if fields is None:  # no /proc (not Linux) or gone meanwhile: the signal probe is all we have
        return Path("/proc").is_dir() is False
    if start_ticks is not None and int(fields[19]) != start_ticks:
        return False  # the pid was recycled
    # a zombie leader: ended and not yet reaped, unless other threads still run (the main thread of a
    # multi-threaded process can end first: the process still stops, flushes and exits)
    return fields[0] != "Z" or _threads_running(pid)


def _threads_running(pid: int) -> bool:
    """True when a thread of ``pid`` other than its (zombie) leader has not ended."""
    try:
        tids = [t for t in os.listdir(f"/proc/{pid}/task") if t != str(pid)]
    except OSError:
        return False
    for tid in tids:
        try:
            state = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        except (OSError, IndexError):
            continue  # ended meanwhile
        if state not in ("Z", "X"):
            return True
    return False


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by this user only (mode 0600), replacing it atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
