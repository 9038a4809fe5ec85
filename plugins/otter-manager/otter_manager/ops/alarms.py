"""Alarm rules and their evaluation over the channels' status, with optional auto-recovery.

Kinds (otter's monitors):
- ``delay``: a pipeline's delay (seconds behind the source) above ``threshold``, optionally only inside a
  daily time window ``hh:mm-hh:mm`` (it may cross midnight);
- ``exception``: a pipeline's last error matches the regular expression ``pattern`` (once per new error);
- ``process_timeout``: the channel's process ended without being stopped, or its status was not renewed,
  for ``threshold`` seconds;
- ``pipeline_timeout``: a pipeline not running (retrying, failed, starting) for ``threshold`` seconds;
- ``position_timeout``: a pipeline's position did not move for ``threshold`` seconds while it has work
  (behind the source, or not running) and is not paused.

A rule fires once per episode (until its condition clears). With ``auto_recover`` a fired rule restarts
the channel, at most ``recover_max`` times per channel within any ``RECOVERY_WINDOW_SECONDS`` (an hour):
a channel that keeps dying is left for a person, one that died once a day is restarted every time.
"""

from __future__ import annotations

import datetime
import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from attrs import define, frozen

from otter_core.spi import ConfigError
from otter_manager.ops.notifiers import AlarmMessage, Notifier, SmtpSettings, build_notifier

log = logging.getLogger("otter.alarm")
RECOVERY_WINDOW_SECONDS = 3600.0
KINDS = ("delay", "exception", "process_timeout", "pipeline_timeout", "position_timeout")
_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


@frozen
class AlarmRule:
    id: int
    name: str
    kind: str
    threshold: float = 0.0
    pattern: str = ""
    window: str = ""
    channel: str = ""  # empty: every channel
    pipeline: str = ""  # empty: every pipeline of the channel
    notifiers: tuple = ()  # of {"type": ...} mappings
    auto_recover: bool = False
    recover_max: int = 3
    enabled: bool = True

    def check(self) -> None:
        """ConfigError naming the field when the rule cannot work."""
        if self.kind not in KINDS:
            raise ConfigError(f"kind: {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.kind == "exception":
            if not self.pattern:
                raise ConfigError("pattern: an exception rule needs a regular expression")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ConfigError(f"pattern: {self.pattern!r} is not a regular expression: {exc}") from None
        elif self.threshold <= 0:
            raise ConfigError(f"threshold: a {self.kind} rule needs a threshold in seconds above 0")
        if self.window and not _WINDOW.match(self.window):
            raise ConfigError(f"window: {self.window!r} is not a daily window like 09:00-18:00")
        if self.recover_max < 0:
            raise ConfigError("recover_max: must be 0 or more")

    def applies_to(self, channel: str, pipeline: str) -> bool:
        return (not self.channel or self.channel == channel) and (
            not self.pipeline or self.pipeline == pipeline
        )

    def in_window(self, moment: datetime.datetime) -> bool:
        """True inside the rule's daily window (always when it has none); local time of the manager."""
        if not self.window:
            return True
        found = _WINDOW.match(self.window)
        if found is None:  # refused when the rule is saved; a hand-edited store can still hold one
            raise ValueError(f"alarm rule {self.name!r}: window {self.window!r} is not HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(x) for x in found.groups())
        now, start, end = moment.hour * 60 + moment.minute, h1 * 60 + m1, h2 * 60 + m2
        return start <= now < end if start <= end else (now >= start or now < end)


@define
class _Track:
    """What the engine remembers about one rule on one pipeline between samples."""

    since: float | None = None  # when the condition became true
    fired: bool = False
    last_error_time: float = 0.0
    position: str | None = None
    position_since: float = 0.0


class AlarmEngine:
    """Evaluates rules over ``runtime.status()`` samples; notifies, records and recovers."""

    def __init__(
        self,
        record: Callable[[AlarmMessage, list[str]], None],
        restart: Callable[[str], str] | None = None,
        smtp: Callable[[], SmtpSettings | None] = lambda: None,
    ) -> None:
        self.record = record  # store an event (message, delivery failures)
        self.restart = restart  # restart a channel, returning what was done
        self.smtp = smtp
        self._tracks: dict[tuple[int, str, str], _Track] = {}
        self.recoveries: dict[tuple[int, str], list[float]] = {}  # restart times within the window

    def evaluate(
        self, rules: Iterable[AlarmRule], channels: list[dict[str, Any]], now: float | None = None
    ) -> list[AlarmMessage]:
        """One round over every enabled rule and channel status; returns the alarms that fired."""
        now = time.time() if now is None else now
        fired = []
        for rule in rules:
            if not rule.enabled:
                continue
            for channel in channels:
                for pipeline, reason in self._conditions(rule, channel, now):
                    fired.append(self._fire(rule, channel, pipeline, reason, now))
        return fired

    def firing(self, channel: str) -> bool:
        """Whether some rule is inside a fired episode on ``channel`` (it fires again only once its
        condition has been seen cleared)."""
        return any(track.fired for (_, name, _), track in self._tracks.items() if name == channel)

    def _conditions(self, rule: AlarmRule, channel: dict[str, Any], now: float):
        """(pipeline, reason) for each pipeline of ``channel`` on which ``rule`` fires now."""
        name = channel["channel"]
        if rule.kind == "process_timeout":
            if rule.applies_to(name, ""):
                dead = channel["state"] == "DEAD" or channel.get("stale", False)
                reason = (
                    "the channel's process ended without being stopped"
                    if channel["state"] == "DEAD"
                    else f"the channel's status was not renewed since {channel.get('updated', 0):.0f}"
                )
                if self._held(rule, name, "", dead, now):
                    yield "", f"{reason} (for {rule.threshold:.0f}s or more)"
            return
        for row in channel.get("pipelines", []):
            pipeline = row["pipeline"]
            if not rule.applies_to(name, pipeline):
                continue
            track = self._tracks.setdefault((rule.id, name, pipeline), _Track())
            if rule.kind == "exception":
                error_time = row.get("error_time") or 0.0
                if row.get("error") and error_time > track.last_error_time:
                    track.last_error_time = error_time
                    if re.search(rule.pattern, row["error"]):
                        yield pipeline, f"error matches /{rule.pattern}/: {row['error'][:500]}"
            elif rule.kind == "delay":
                delay = float(row.get("lag_s") or 0.0)
                inside = rule.in_window(datetime.datetime.fromtimestamp(now))
                if self._held(rule, name, pipeline, inside and delay > rule.threshold, now, hold=0.0):
                    yield pipeline, f"delay {delay:.1f}s above {rule.threshold:.1f}s"
            elif rule.kind == "pipeline_timeout":
                state = row.get("state", "")
                if self._held(rule, name, pipeline, state not in ("running", "paused", "stopped"), now):
                    yield (
                        pipeline,
                        f"pipeline {state} for {rule.threshold:.0f}s or more: {row.get('error', '')[:300]}",
                    )
            else:  # position_timeout
                if track.position is None or row.get("position", "") != track.position:
                    track.position, track.position_since = row.get("position", ""), now
                busy = row.get("state") != "paused" and (
                    float(row.get("lag_s") or 0) > 0 or row.get("state") != "running"
                )
                stuck = busy and now - track.position_since >= rule.threshold
                if self._held(rule, name, pipeline, stuck, now, hold=0.0):
                    yield (
                        pipeline,
                        f"position {track.position or '(none)'} unchanged for {now - track.position_since:.0f}s",
                    )

    def _held(
        self,
        rule: AlarmRule,
        channel: str,
        pipeline: str,
        condition: bool,
        now: float,
        hold: float | None = None,
    ) -> bool:
        """True once when ``condition`` has held for ``hold`` seconds (the rule's threshold by default);
        again only after it cleared."""
        track = self._tracks.setdefault((rule.id, channel, pipeline), _Track())
        if not condition:
            track.since, track.fired = None, False
            return False
        if track.since is None:
            track.since = now
        if track.fired or now - track.since < (rule.threshold if hold is None else hold):
            return False
        track.fired = True
        return True

    def _fire(
        self, rule: AlarmRule, channel: dict[str, Any], pipeline: str, reason: str, now: float
    ) -> AlarmMessage:
        action = self._recover(rule, channel["channel"], now) if rule.auto_recover else ""
        alarm = AlarmMessage(rule.name, rule.kind, channel["channel"], pipeline, reason, now, action)
        failures = []
        for spec in rule.notifiers or ({"type": "log"},):
            try:
                notifier: Notifier = build_notifier(spec, self.smtp())
            except ConfigError as exc:
                failures.append(str(exc))
                continue
            failure = notifier.send(alarm)
            if failure:
                failures.append(failure)
        self.record(alarm, failures)
        return alarm

    def _recover(self, rule: AlarmRule, channel: str, now: float) -> str:
        if self.restart is None:
            return ""
        recent = [t for t in self.recoveries.get((rule.id, channel), []) if now - t < RECOVERY_WINDOW_SECONDS]
        self.recoveries[(rule.id, channel)] = recent
        if len(recent) >= rule.recover_max:
            return f"not restarted: the limit of {rule.recover_max} restarts per hour is reached"
        recent.append(now)
        done = len(recent)
        try:
            what = self.restart(channel)
        except Exception as exc:  # the alarm must still go out
            log.warning("auto-recovery of channel %s failed: %s", channel, exc)
            return f"restart {done} of {rule.recover_max} failed: {exc}"
        return f"{what} ({done} of {rule.recover_max})"
