"""Where the manager keeps its state, and how it listens."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from attrs import field, frozen

SECRET_FILE = "manager.secret"


@frozen
class ManagerSettings:
    """The manager's settings. ``secret_key`` signs session cookies; it lives in
    ``<state_dir>/manager.secret`` (mode 0600) so sessions survive a restart."""

    state_dir: Path = field(converter=Path)
    secret_key: str = field(repr=False)
    db_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8090
    zk_hosts: str | None = None

    @property
    def database_url(self) -> str:
        """The config store: ``db_url``, else SQLite at ``<state_dir>/manager.db``."""
        return self.db_url or f"sqlite:///{self.state_dir / 'manager.db'}"


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


def load_settings(
    state_dir: str | os.PathLike,
    db_url: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8090,
    zk_hosts: str | None = None,
) -> ManagerSettings:
    """Settings for ``state_dir`` (created if missing), with its secret read or generated."""
    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True)
    return ManagerSettings(
        state_dir=state,
        secret_key=read_or_create_secret(state),
        db_url=db_url or "",
        host=host,
        port=port,
        zk_hosts=zk_hosts or None,
    )
