"""File sync workloads shared by the tests and bench/filesync.py: rows that point to files of mixed sizes."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path
from typing import Any

import yaml

from otter_core.testing.harness import pipeline_yaml
from otter_core.testing.mariadb import MariaDBServer

SCHEMA = "filesync"
TABLE_DDL = f"CREATE TABLE {SCHEMA}.product (id INT PRIMARY KEY, name VARCHAR(64), image VARCHAR(200))"
MAX_SIZE = 5 * 1024 * 1024


def file_size(rng: random.Random, max_size: int = MAX_SIZE) -> int:
    """Mixed sizes as product images come: most small, some medium, a few up to ``max_size``."""
    pick = rng.random()
    if pick < 0.90:
        return rng.randint(1024, 48 * 1024)
    if pick < 0.98:
        return rng.randint(48 * 1024, 1024 * 1024)
    return rng.randint(1024 * 1024, max_size)


def image_path(row_id: int) -> str:
    return f"img/{row_id // 500:03d}/{row_id}.jpg"


def write_files(root: Path, ids: range, seed: int = 7, max_size: int = MAX_SIZE) -> int:
    """One file per row id under ``root`` (random bytes: images do not compress); return total bytes.
    The largest row id gets a file of exactly ``max_size``."""
    rng = random.Random(seed)
    total = 0
    for row_id in ids:
        size = max_size if row_id == ids[-1] else file_size(rng, max_size)
        path = root / image_path(row_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
        total += size
    return total


def insert_rows(server: MariaDBServer, ids: range, per_transaction: int = 100) -> None:
    conn = server.connect(autocommit=False)
    with conn.cursor() as cur:
        for start in range(ids.start, ids.stop, per_transaction):
            chunk = range(start, min(start + per_transaction, ids.stop))
            cur.executemany(
                f"INSERT INTO {SCHEMA}.product VALUES (%s, %s, %s)",
                [(i, f"product {i}", image_path(i)) for i in chunk],
            )
            conn.commit()
    conn.close()


def file_sync_yaml(
    source: MariaDBServer,
    target: MariaDBServer,
    source_root: Path,
    target_root: Path,
    start: Any,
    pipe: str = "memory",
    **parameters: Any,
) -> str:
    pair = {
        "source": f"{SCHEMA}.product",
        "file_resolver": {
            "name": "template",
            "options": {
                "templates": ["{image}"],
                "source_root": str(source_root),
                "target_root": str(target_root),
                "is_delete_required": True,
            },
        },
    }
    doc = yaml.safe_load(pipeline_yaml(source, target, [pair], start=start, channel="files", **parameters))
    doc["channels"][0]["pipelines"][0]["pipe"] = pipe
    return yaml.safe_dump(doc, sort_keys=False)


def tree_digest(root: Path) -> dict[str, tuple[int, int, str]]:
    """relative path -> (size, mtime_ns, sha256) of every visible file under ``root``."""
    out = {}
    for folder, _, names in os.walk(root):
        for name in names:
            if name.startswith("."):
                continue
            path = Path(folder) / name
            st = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns, digest)
    return out
