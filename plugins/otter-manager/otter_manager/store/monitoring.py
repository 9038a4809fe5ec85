"""Monitoring tables (mgr-ops): pipeline status samples over time, alarm rules, alarm events and the SMTP
server email alarms go through. Created by migration 0002_monitoring."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from otter_manager.store.models import Base, utcnow


class PipelineSample(Base):
    """One pipeline's figures at one instant, as the collector read them from the runtime."""

    __tablename__ = "pipeline_sample"
    __table_args__ = (Index("ix_pipeline_sample_channel_pipeline_at", "channel", "pipeline", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    channel: Mapped[str] = mapped_column(String(128))
    pipeline: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(32))
    delay_s: Mapped[float] = mapped_column(Float, default=0.0)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)  # loaded since the process started
    rows_per_s: Mapped[float] = mapped_column(Float, default=0.0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_per_s: Mapped[float] = mapped_column(Float, default=0.0)
    tables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # "schema.table" -> {I, U, D}
    stage_ms: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict
    )  # stage -> ms per batch since last sample
    error: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[str] = mapped_column(String(255), default="")
    position_detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class AlarmRuleRow(Base):
    """An alarm rule (see ``manager/ops/alarms.py`` for the kinds)."""

    __tablename__ = "alarm_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    threshold: Mapped[float] = mapped_column(Float, default=0.0)
    pattern: Mapped[str] = mapped_column(Text, default="")
    window: Mapped[str] = mapped_column(String(16), default="")
    channel: Mapped[str] = mapped_column(String(128), default="")
    pipeline: Mapped[str] = mapped_column(String(128), default="")
    notifiers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    auto_recover: Mapped[bool] = mapped_column(Boolean, default=False)
    recover_max: Mapped[int] = mapped_column(Integer, default=3)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AlarmEventRow(Base):
    """A fired alarm: what, where, the action taken and the notifiers that failed."""

    __tablename__ = "alarm_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("alarm_rule.id", ondelete="SET NULL"), nullable=True
    )
    rule: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(128))
    pipeline: Mapped[str] = mapped_column(String(128), default="")
    message: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text, default="")
    failures: Mapped[list[str]] = mapped_column(JSON, default=list)


class SmtpSettingsRow(Base):
    """The SMTP server of email alarms (one row, id 1); the password is never returned by the API."""

    __tablename__ = "smtp_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host: Mapped[str] = mapped_column(String(255), default="")
    port: Mapped[int] = mapped_column(Integer, default=25)
    user: Mapped[str] = mapped_column(String(255), default="")
    password: Mapped[str] = mapped_column(String(255), default="")
    tls: Mapped[str] = mapped_column(String(16), default="none")
    sender: Mapped[str] = mapped_column(String(255), default="otter@localhost")
