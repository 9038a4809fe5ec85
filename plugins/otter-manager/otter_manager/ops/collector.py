"""The collector: samples every channel's status from the runtime into history and evaluates the alarm
rules, every ``interval`` seconds, in a background thread of the manager."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Any

from sqlalchemy import delete, select

from otter_manager.ops.alarms import AlarmEngine, AlarmRule
from otter_manager.ops.notifiers import AlarmMessage, SmtpSettings
from otter_manager.store.monitoring import AlarmEventRow, AlarmRuleRow, PipelineSample, SmtpSettingsRow
from otter_manager.store.session import Database

log = logging.getLogger("otter.manager.collector")
DEFAULT_INTERVAL = 5.0
RETENTION_DAYS = 7
LIVE_STATES = ("RUNNING", "PAUSED", "WAITING")


def rule_of(row: AlarmRuleRow) -> AlarmRule:
    return AlarmRule(
        row.id,
        row.name,
        row.kind,
        row.threshold,
        row.pattern,
        row.window,
        row.channel,
        row.pipeline,
        tuple(row.notifiers or ()),
        row.auto_recover,
        row.recover_max,
        row.enabled,
    )


def smtp_of(row: SmtpSettingsRow | None) -> SmtpSettings | None:
    if row is None:
        return None
    return SmtpSettings(row.host, row.port, row.user, row.password, row.tls, row.sender)


class Collector:
    """``sample_once()`` is one round; ``start()`` runs rounds in a thread until ``stop()``."""

    def __init__(
        self,
        runtime: Any,
        db: Database,
        restart: Any = None,
        interval: float = DEFAULT_INTERVAL,
        retention_days: float = RETENTION_DAYS,
    ) -> None:
        self.runtime = runtime
        self.db = db
        self.interval = interval
        self.retention = dt.timedelta(days=retention_days)
        self.alarms = AlarmEngine(self._record_alarm, restart, self._smtp)
        self._rule_ids: dict[str, int] = {}
        self._previous: dict[tuple[str, str], dict[str, Any]] = {}  # last figures, for per-interval stage ms
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def _smtp(self) -> SmtpSettings | None:
        with self.db.session_scope() as session:
            return smtp_of(session.get(SmtpSettingsRow, 1))

    def _record_alarm(self, alarm: AlarmMessage, failures: list[str]) -> None:
        with self.db.session_scope() as session:
            session.add(
                AlarmEventRow(
                    rule_id=self._rule_ids.get(alarm.rule),
                    rule=alarm.rule,
                    kind=alarm.kind,
                    channel=alarm.channel,
                    pipeline=alarm.pipeline,
                    message=alarm.message,
                    action=alarm.action,
                    failures=failures,
                )
            )

    def _stage_ms(self, channel: str, row: dict[str, Any]) -> dict[str, float]:
        """Milliseconds per batch of each stage over the batches loaded since the previous sample."""
        key = (channel, row["pipeline"])
        before, self._previous[key] = self._previous.get(key), row
        batches = row.get("batches", 0) - (before or {}).get("batches", 0)
        if before is None or batches <= 0:
            return {}
        totals, earlier = row.get("stage_ms_total") or {}, before.get("stage_ms_total") or {}
        return {stage: round((ms - earlier.get(stage, 0.0)) / batches, 3) for stage, ms in totals.items()}

    def sample_once(self) -> list[dict[str, Any]]:
        """Store one sample per pipeline of a live channel, evaluate the alarms (on every channel), prune old
        samples; returns the statuses."""
        statuses = self.runtime.status()
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        with self.db.session_scope() as session:
            for channel in statuses:
                if channel.get("state") not in LIVE_STATES:  # a stopped channel's last figures do not change
                    continue
                for row in channel.get("pipelines", []):
                    session.add(
                        PipelineSample(
                            at=now,
                            channel=channel["channel"],
                            pipeline=row["pipeline"],
                            state=str(row.get("state", ""))[:32],
                            delay_s=max(float(row.get("lag_s") or 0.0), float(row.get("lag_max_5s") or 0.0)),
                            rows=int(row.get("rows") or 0),
                            rows_per_s=float(row.get("rows_per_s") or 0.0),
                            bytes=int(row.get("bytes") or 0),
                            bytes_per_s=float(row.get("bytes_per_s") or 0.0),
                            tables=row.get("tables") or {},
                            stage_ms=self._stage_ms(channel["channel"], row),
                            error=str(row.get("error") or ""),
                            position=str(row.get("position") or "")[:255],
                            position_detail=row.get("position_detail"),
                        )
                    )
            session.execute(delete(PipelineSample).where(PipelineSample.at < now - self.retention))
            rules = [rule_of(r) for r in session.scalars(select(AlarmRuleRow)).all()]
        self._rule_ids = {rule.name: rule.id for rule in rules}
        self.alarms.evaluate(rules, statuses)
        return statuses

    def _run(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                self.sample_once()
            except Exception:  # a bad round (database busy, runtime unreachable) must not end collecting
                log.exception("collecting the channels' status failed")
            self._stopping.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def start(self) -> Collector:
        self._thread = threading.Thread(target=self._run, name="manager-collector", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
