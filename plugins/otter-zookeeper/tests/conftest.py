"""Shared helpers of the otter-zookeeper tests (real ZooKeeper and MariaDB from otter_core.testing)."""

import itertools
import time

import pytest
from kazoo.client import KazooClient

_roots = itertools.count(1)


@pytest.fixture
def zk_root() -> str:
    """A fresh root per test, so tests never see each other's znodes."""
    return f"/otter-test-{next(_roots)}-{int(time.time() * 1000) % 10**8}"


@pytest.fixture
def zk(zookeeper_server):
    client = KazooClient(hosts=zookeeper_server.hosts, timeout=5.0)
    client.start(timeout=15)
    yield client
    client.stop()
    client.close()
