"""Dynamic processors and file resolvers (otter-dynamic) pushed through the manager: versions in the store,
validated (parsed, never run) before they are kept; pushing and activating is an ADMIN's right (routes)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from otter_core.spi import ConfigError
from otter_manager.errors import ObjectNotFound
from otter_manager.security import Actor, ValidationProblem, audit

STORE_ENV = "OTTER_DYNAMIC_STORE"


class DynamicUnavailable(RuntimeError):
    """otter-dynamic is not installed next to the manager."""


def store_root(state_dir: Path) -> Path:
    """``$OTTER_DYNAMIC_STORE`` (which channel processes started by this manager inherit), else
    ``<state_dir>/dynamic``."""
    return Path(os.environ.get(STORE_ENV) or Path(state_dir) / "dynamic")


def _store(state_dir: Path) -> Any:
    try:
        from otter_dynamic import DynamicStore
    except ImportError:
        raise DynamicUnavailable(
            "dynamic hooks need the otter-dynamic plugin: pip install otter-dynamic"
        ) from None
    return DynamicStore(store_root(state_dir))


def _known(store: Any, name: str) -> list[Any]:
    versions = store.versions(name)
    if not versions:
        raise ObjectNotFound("dynamic hook", name)
    return versions


def list_hooks(state_dir: Path) -> list[dict[str, Any]]:
    store = _store(state_dir)
    rows = []
    for name in store.names():
        versions = store.versions(name)
        if versions:
            rows.append(
                {
                    "name": name,
                    "kind": versions[-1].kind,
                    "versions": len(versions),
                    "active": store.active_version(name),
                    "loaded": store.loaded(name),
                }
            )
    return rows


def hook_view(state_dir: Path, name: str) -> dict[str, Any]:
    store = _store(state_dir)
    versions = _known(store, name)
    return {
        "name": name,
        "kind": versions[-1].kind,
        "store": str(store.root),
        "active": store.active_version(name),
        "loaded": store.loaded(name),
        "versions": [v.to_dict() for v in versions],
    }


def version_source(state_dir: Path, name: str, version: int) -> str:
    store = _store(state_dir)
    if version not in {v.version for v in _known(store, name)}:
        raise ObjectNotFound(f"version of dynamic hook {name}", version)
    return store.source(name, version)


def push(db: Session, actor: Actor, state_dir: Path, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """Validate and store ``body['source']`` as the next version of ``name``; activate it when asked."""
    from otter_dynamic import InvalidSource
    from otter_dynamic.store import NAME_RE

    if not NAME_RE.match(name):
        raise ValidationProblem(
            "name",
            f"{name!r} is not a valid hook name: use letters, digits, '_', '.', '-' "
            "(at most 64, starting with a letter or digit)",
        )
    source, kind = body.get("source"), body.get("kind", "processor")
    if not isinstance(source, str) or not source.strip():
        raise ValidationProblem("source", "the hook's Python source text is required")
    if kind not in ("processor", "resolver"):
        raise ValidationProblem("kind", f"expected processor or resolver, got {kind!r}")
    comment = str(body.get("comment") or "")
    store = _store(state_dir)
    try:
        version = store.push(
            name,
            kind,
            source,
            author=actor.username,
            comment=comment,
            activate=bool(body.get("activate", False)),
        )
    except InvalidSource as exc:
        raise ValidationProblem("source", "; ".join(str(p) for p in exc.problems)) from None
    except ConfigError as exc:  # the name already holds the other kind
        raise ValidationProblem("kind", str(exc)) from None
    info = next(v for v in store.versions(name) if v.version == version)
    audit(
        db,
        actor,
        "push dynamic",
        f"dynamic {name}",
        {
            "version": version,
            "kind": kind,
            "sha256": info.sha256,
            "comment": comment,
            "activated": bool(body.get("activate", False)),
        },
    )
    db.commit()
    return info.to_dict()


def activate(db: Session, actor: Actor, state_dir: Path, name: str, version: Any) -> dict[str, Any]:
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValidationProblem("version", f"expected a version number, got {version!r}")
    store = _store(state_dir)
    if version not in {v.version for v in _known(store, name)}:
        raise ObjectNotFound(f"version of dynamic hook {name}", version)
    store.activate(name, version)
    audit(db, actor, "activate dynamic", f"dynamic {name}", {"version": version})
    db.commit()
    return hook_view(state_dir, name)
