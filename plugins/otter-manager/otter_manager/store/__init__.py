"""The config store: models and sessions."""

from otter_manager.store import monitoring  # noqa: F401  -- imported so mgr-ops's tables join Base.metadata
from otter_manager.store.models import (
    ROLES,
    AuditLog,
    Base,
    Channel,
    DataMedia,
    DataSource,
    LoginSession,
    Pair,
    Pipeline,
    User,
)
from otter_manager.store.session import Database, get_db, make_engine

__all__ = [
    "ROLES",
    "AuditLog",
    "Base",
    "Channel",
    "LoginSession",
    "DataMedia",
    "DataSource",
    "Pair",
    "Pipeline",
    "User",
    "Database",
    "get_db",
    "make_engine",
]
