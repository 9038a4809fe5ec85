"""The config store: SQLAlchemy 2 models of users, the otter config (sources, media, channels, pipelines,
pairs) and the audit log. Config columns keep the YAML's shapes (JSON) so export and import are exact."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ROLES = ("ADMIN", "OPERATOR")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base of every manager table (mgr-ops's monitoring tables too)."""


class User(Base):
    __tablename__ = "manager_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # ADMIN or OPERATOR
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class LoginSession(Base):
    """A browser or API session, kept here so that it can be ended: the cookie holds only a random id, the
    row its SHA-256 (a copy of the store yields no usable cookie), the user and the session's data."""

    __tablename__ = "manager_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("manager_user.id", ondelete="CASCADE"), nullable=True, index=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class DataSource(Base):
    """A DataMediaSource: a database endpoint."""

    __tablename__ = "data_source"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(255), default="127.0.0.1")
    port: Mapped[int] = mapped_column(Integer, default=3306)
    user: Mapped[str] = mapped_column(String(128), default="root")
    password: Mapped[str] = mapped_column(String(255), default="")
    password_env: Mapped[str | None] = mapped_column(String(128), nullable=True)
    encoding: Mapped[str] = mapped_column(String(32), default="utf8mb4")
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DataMedia(Base):
    """A table (or pattern of tables) on a source."""

    __tablename__ = "data_media"
    __table_args__ = (UniqueConstraint("source_id", "schema_name", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("data_source.id"))
    schema_name: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))

    source: Mapped[DataSource] = relationship()

    @property
    def full_name(self) -> str:
        return f"{self.schema_name}.{self.name}"


class Channel(Base):
    """One business sync: one pipeline (one-way) or two (two-way)."""

    __tablename__ = "channel"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")

    pipelines: Mapped[list[Pipeline]] = relationship(
        back_populates="channel", order_by="Pipeline.id", cascade="all, delete-orphan"
    )


class Pipeline(Base):
    """One direction of flow of a channel; JSON columns hold the YAML's values as written."""

    __tablename__ = "pipeline"
    __table_args__ = (UniqueConstraint("channel_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id"))
    name: Mapped[str] = mapped_column(String(128))
    source_id: Mapped[int] = mapped_column(ForeignKey("data_source.id"))
    target_id: Mapped[int] = mapped_column(ForeignKey("data_source.id"))
    start: Mapped[Any] = mapped_column(JSON, default="current")  # "current" | {file,pos} | {gtid}
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    selector: Mapped[str | None] = mapped_column(String(64), nullable=True)
    loader: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pipe: Mapped[str] = mapped_column(String(64), default="memory")
    arbitrator: Mapped[str] = mapped_column(String(64), default="memory")
    exclude: Mapped[list[str]] = mapped_column(JSON, default=list)
    home: Mapped[bool] = mapped_column(Boolean, default=False)
    snapshot: Mapped[Any] = mapped_column(JSON, nullable=True)  # None | true | {chunk_rows, tables}

    channel: Mapped[Channel] = relationship(back_populates="pipelines")
    source: Mapped[DataSource] = relationship(foreign_keys=[source_id])
    target: Mapped[DataSource] = relationship(foreign_keys=[target_id])
    pairs: Mapped[list[Pair]] = relationship(
        back_populates="pipeline", order_by="Pair.id", cascade="all, delete-orphan"
    )


class Pair(Base):
    """A DataMediaPair of a pipeline: source media -> target media with its mapping and policies."""

    __tablename__ = "pair"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipeline.id"))
    source_media_id: Mapped[int] = mapped_column(ForeignKey("data_media.id"))
    target_media_id: Mapped[int] = mapped_column(ForeignKey("data_media.id"))
    columns: Mapped[Any] = mapped_column(JSON, nullable=True)  # list of names or {source: target}
    column_mode: Mapped[str] = mapped_column(String(16), default="include")
    column_groups: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    push_weight: Mapped[int] = mapped_column(Integer, default=5)
    processors: Mapped[list[str]] = mapped_column(JSON, default=list)
    processor_options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    filter: Mapped[str | None] = mapped_column(Text, nullable=True)
    file_resolver: Mapped[Any] = mapped_column(JSON, nullable=True)  # name | {name, options}
    conflict: Mapped[Any] = mapped_column(JSON, nullable=True)  # "home_wins" | "newer_wins(col)" | ...

    pipeline: Mapped[Pipeline] = relationship(back_populates="pairs")
    source_media: Mapped[DataMedia] = relationship(foreign_keys=[source_media_id])
    target_media: Mapped[DataMedia] = relationship(foreign_keys=[target_media_id])


class AuditLog(Base):
    """Who changed what, when (secrets masked in ``detail``)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    object: Mapped[str] = mapped_column(String(255))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
