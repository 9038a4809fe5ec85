"""Runs every pipeline of a configuration in this process (memory arbitrator, memory pipe)."""

from __future__ import annotations

import logging
import threading

from otter_core.control import channel_state
from otter_core.engine.pipeline import PipelineRunner
from otter_core.model import OtterConfig

log = logging.getLogger("otter.runner")


class Runner:
    """Start all channels' pipelines, each in its own thread; ``stop()`` drains and acks."""

    def __init__(self, config: OtterConfig, state_dir: str = "./otter-state") -> None:
        self.config = config
        self.state_dir = state_dir
        self.pipelines = [
            PipelineRunner(ch.name, p, config.sources, state_dir)
            for ch in config.channels
            for p in ch.pipelines
        ]
        self._threads: list[threading.Thread] = []
        self._watching = threading.Event()

    def apply_channel_states(self) -> None:
        """Follow the channel states an operator set with ``otter-run channel …``."""
        for runner in self.pipelines:
            state = channel_state(self.state_dir, runner.channel)
            if state == "STOP":
                runner.stop()
            paused = state == "PAUSE"
            if paused == runner.arbitrator.permit():
                runner.arbitrator.set_permit(not paused, "paused by operator" if paused else "")
                log.info("[%s] %s", runner.name, "paused" if paused else "resumed")
                runner.stats.state = "paused" if paused else "running"

    def _watch(self) -> None:
        while not self._watching.wait(0.5):
            self.apply_channel_states()

    def start(self) -> Runner:
        self.apply_channel_states()
        threading.Thread(target=self._watch, name="channel-states", daemon=True).start()
        for runner in self.pipelines:
            thread = threading.Thread(target=runner.run, name=f"pipeline-{runner.name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._watching.set()
        for runner in self.pipelines:
            runner.stop()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for every pipeline thread; True when all have ended."""
        for thread in self._threads:
            thread.join(timeout)
        return not any(t.is_alive() for t in self._threads)

    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def failures(self) -> list[tuple[str, BaseException]]:
        return [(r.name, r.failure) for r in self.pipelines if r.failure is not None]

    def status(self) -> list[dict]:
        return [r.stats.summary(r.is_idle()) for r in self.pipelines]
