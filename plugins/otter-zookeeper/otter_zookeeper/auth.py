"""ZooKeeper digest authentication and ACLs: who may read the deployed config (it holds passwords).

With credentials (``--zk-auth-file FILE`` holding ``user:password``, or ``$OTTER_ZK_AUTH``), every otter
client authenticates with the ``digest`` scheme and every znode it creates carries one ACL: all rights for
that identity, none for anybody else. Without credentials nothing changes (open ACLs, as before).
"""

from __future__ import annotations

import os

from attrs import define, field
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import make_digest_acl

from otter_core.spi import ConfigError

ENV = "OTTER_ZK_AUTH"


@define(frozen=True)
class ZooKeeperAuth:
    user: str
    password: str = field(repr=False)

    @classmethod
    def parse(cls, text: str, origin: str) -> ZooKeeperAuth:
        user, sep, password = text.strip().partition(":")
        if not sep or not user or not password:
            raise ConfigError(
                f"{origin}: expected one line 'user:password' for ZooKeeper digest authentication"
            )
        return cls(user, password)

    @classmethod
    def resolve(cls, auth_file: str | None = None) -> ZooKeeperAuth | None:
        """Credentials from ``auth_file``, else from ``$OTTER_ZK_AUTH``, else None (open ACLs)."""
        if auth_file:
            try:
                with open(auth_file, encoding="utf-8") as handle:
                    return cls.parse(handle.read(), auth_file)
            except OSError as exc:
                raise ConfigError(
                    f"cannot read the ZooKeeper credentials file {auth_file}: {exc.strerror}"
                ) from None
        text = os.environ.get(ENV, "")
        return cls.parse(text, f"${ENV}") if text else None


def make_client(hosts: str, timeout: float, auth: ZooKeeperAuth | None) -> KazooClient:
    """A kazoo client (not started) that authenticates and protects what it creates when ``auth`` is set."""
    if auth is None:
        return KazooClient(hosts=hosts, timeout=timeout)
    return KazooClient(
        hosts=hosts,
        timeout=timeout,
        auth_data=[("digest", f"{auth.user}:{auth.password}")],
        default_acl=[make_digest_acl(auth.user, auth.password, all=True)],
    )


def check_access(zk: KazooClient, root: str) -> None:
    """Fail clearly when ``root`` exists but this client may not read it (missing or wrong credentials)."""
    if not zk.exists(root):
        return
    try:
        zk.get_children(root)
    except NoAuthError:
        raise ConfigError(
            f"ZooKeeper denied access to {root}: it is protected by a digest ACL; give the "
            f"credentials with --zk-auth-file FILE or ${ENV}=user:password"
        ) from None
