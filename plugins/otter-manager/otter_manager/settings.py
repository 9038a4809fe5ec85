"""Where the manager keeps its state, and how it listens."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from attrs import field, frozen

DB_FILE = "manager.db"
SESSION_IDLE_S = 2 * 3600
SESSION_MAX_S = 12 * 3600


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    """A tuple of the given strings (attrs converter: mypy cannot type a bare ``tuple`` one)."""
    return tuple(values)


@frozen
class ManagerSettings:
    """The manager's settings. Sessions are stored server-side (random ids in the config store), so the
    manager keeps no signing secret; a ``manager.secret`` left by an older version is not read.

    ``session_idle_s`` / ``session_max_s``: a session ends after that long without a request, and that long
    after the login whatever happens. ``forwarded_allow_ips``: the peers (addresses, networks, or ``*``)
    whose X-Forwarded-For / X-Forwarded-Proto are believed; nobody's by default."""

    state_dir: Path = field(converter=Path)
    db_url: str = field(default="", repr=False)
    host: str = "127.0.0.1"
    port: int = 8090
    zk_hosts: str | None = None
    session_idle_s: int = SESSION_IDLE_S
    session_max_s: int = SESSION_MAX_S
    forwarded_allow_ips: tuple[str, ...] = field(default=(), converter=_strings)

    @property
    def database_url(self) -> str:
        """The config store: ``db_url``, else SQLite at ``<state_dir>/manager.db``."""
        return self.db_url or f"sqlite:///{self.state_dir / DB_FILE}"


def make_private(path: Path, mode: int) -> None:
    """Take group and other permissions off ``path`` (it may hold passwords): ``mode`` at most."""
    current = stat.S_IMODE(path.stat().st_mode)
    if current & ~mode:
        path.chmod(current & mode)


def private_state_dir(state_dir: Path, sqlite: bool = True) -> None:
    """Create ``state_dir`` 0700 and make its store (``manager.db`` with SQLite's -wal/-shm) 0600: it holds
    the sources' and SMTP passwords. SQLite gives its side files the mode of the database file."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    make_private(state_dir, 0o700)
    if not sqlite:
        return
    store = state_dir / DB_FILE
    os.close(os.open(store, os.O_WRONLY | os.O_CREAT, 0o600))
    for path in (store, state_dir / f"{DB_FILE}-wal", state_dir / f"{DB_FILE}-shm"):
        if path.exists():
            make_private(path, 0o600)


def load_settings(
    state_dir: str | os.PathLike,
    db_url: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8090,
    zk_hosts: str | None = None,
    session_idle_s: int = SESSION_IDLE_S,
    session_max_s: int = SESSION_MAX_S,
    forwarded_allow_ips: tuple[str, ...] | list[str] = (),
) -> ManagerSettings:
    """Settings for ``state_dir`` (created 0700 if missing, its store made private)."""
    state = Path(state_dir)
    private_state_dir(state, sqlite=not db_url)
    return ManagerSettings(
        state_dir=state,
        db_url=db_url or "",
        host=host,
        port=port,
        zk_hosts=zk_hosts or None,
        session_idle_s=session_idle_s,
        session_max_s=session_max_s,
        forwarded_allow_ips=forwarded_allow_ips,
    )
