"""Where the manager keeps its state, and how it listens."""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path

from attrs import field, frozen

SECRET_FILE = "manager.secret"
DB_FILE = "manager.db"
SESSION_IDLE_S = 2 * 3600
SESSION_MAX_S = 12 * 3600


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    """A tuple of the given strings (attrs converter: mypy cannot type a bare ``tuple`` one)."""
    return tuple(values)


@frozen
class ManagerSettings:
    """The manager's settings. ``secret_key`` lives in ``<state_dir>/manager.secret`` (mode 0600).

    ``session_idle_s`` / ``session_max_s``: a session ends after that long without a request, and that long
    after the login whatever happens. ``forwarded_allow_ips``: the peers (addresses, networks, or ``*``)
    whose X-Forwarded-For / X-Forwarded-Proto are believed; nobody's by default."""

    state_dir: Path = field(converter=Path)
    secret_key: str = field(repr=False)
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


def read_or_create_secret(state_dir: Path) -> str:
    """The signing secret of ``state_dir``, generated (0600) on first use."""
    path = Path(state_dir) / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text().strip()
        if len(secret) < 32:
            raise ValueError(
                f"{path}: the secret is shorter than 32 characters; delete the file to make a new one"
            ) from None
        return secret
    secret = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    return secret


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
    """Settings for ``state_dir`` (created 0700 if missing), with its secret read or generated."""
    state = Path(state_dir)
    private_state_dir(state, sqlite=not db_url)
    return ManagerSettings(
        state_dir=state,
        secret_key=read_or_create_secret(state),
        db_url=db_url or "",
        host=host,
        port=port,
        zk_hosts=zk_hosts or None,
        session_idle_s=session_idle_s,
        session_max_s=session_max_s,
        forwarded_allow_ips=forwarded_allow_ips,
    )
