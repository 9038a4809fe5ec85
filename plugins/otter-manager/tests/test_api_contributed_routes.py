"""Plugins add routes and pages to the manager through the ``otter.manager_routes`` entry points
(otter_manager/routers.py), and the manager works without its optional plugins (otter-dynamic,
otter-zookeeper): those features answer with the package to install, everything else is unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from fastapi.testclient import TestClient
from manager_support import ADMIN_PASSWORD, login

from otter_manager.app import create_app
from otter_manager.security import set_user
from otter_manager.settings import load_settings

HELLO = """
from fastapi import APIRouter, Depends

from otter_manager.security import Actor, current_user

router = APIRouter()
NAV = [("Operations", "hello", "/api/hello", "Hello hook"), ("Plugins", "greet", "/api/hello", "Greeter")]
events = []


@router.get("/api/hello")
def hello(actor: Actor = Depends(current_user)):
    return {"hello": actor.username, "started": events}


async def start(app):
    events.append("start")


async def stop(app):
    events.append("stop")
"""


def install_routes(site: Path, dist: str, module: str, source: str) -> None:
    """A minimal installed distribution: the module and a dist-info with its ``otter.manager_routes``
    entry point (what ``pip install`` of a plugin with that entry point leaves in site-packages)."""
    (site / f"{module}.py").write_text(source)
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"  # as a wheel names it
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[otter.manager_routes]\n{dist} = {module}\n")


def test_a_plugin_contributes_a_route_a_page_link_and_background_work(tmp_path, monkeypatch, caplog):
    site = tmp_path / "site"
    site.mkdir()
    install_routes(site, "otter-hello", "otter_hello_routes", HELLO)
    install_routes(
        site, "otter-broken", "otter_broken_routes", "raise ImportError('no module named kazoo')\n"
    )
    monkeypatch.syspath_prepend(str(site))
    app = create_app(load_settings(tmp_path / "state"))
    try:
        with app.state.db.session_scope() as session:
            set_user(session, "admin", ADMIN_PASSWORD, "ADMIN")
        with TestClient(app) as client:
            assert client.get("/api/hello").status_code == 401  # the manager's login applies
            login(client, "admin", ADMIN_PASSWORD)
            assert client.get("/api/hello").json() == {"hello": "admin", "started": ["start"]}
            page = client.get("/").text
            assert '<a href="/api/hello" class="">Hello hook</a>' in page
            assert '<div class="nav-group">Plugins</div>' in page and "Greeter" in page
            assert "Dynamic hooks" in page  # the manager's own optional feature, mounted the same way
    finally:
        app.state.db.dispose()
    assert sys.modules["otter_hello_routes"].events == ["start", "stop"]
    assert app.state.route_failures == [
        "otter.manager_routes otter-broken = otter_broken_routes failed to load: "
        "ImportError('no module named kazoo')"
    ]
    assert "a plugin's routes are missing" in caplog.text and "otter_broken_routes" in caplog.text


WITHOUT_PLUGINS = """
import json, sys, tempfile
from fastapi.testclient import TestClient
from otter_manager.app import create_app
from otter_manager.security import set_user
from otter_manager.settings import load_settings

state = tempfile.mkdtemp()
app = create_app(load_settings(state))
with app.state.db.session_scope() as session:
    set_user(session, "admin", "admin-password-1", "ADMIN")
out = {}
with TestClient(app) as client:
    login = client.post("/api/login", json={"username": "admin", "password": "admin-password-1"})
    client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    source = {"name": "src", "type": "mysql", "host": "127.0.0.1", "port": 3306, "user": "otter"}
    out["create_source"] = client.post("/api/sources", json=source).status_code
    out["channels"] = client.get("/api/channels").json()
    dynamic = client.get("/api/dynamic")
    out["dynamic"] = [dynamic.status_code, dynamic.json()["detail"]]
    out["dynamic_page"] = client.get("/dynamic").status_code
zk = create_app(load_settings(tempfile.mkdtemp(), zk_hosts="127.0.0.1:1"))
try:
    with TestClient(zk):
        out["zk"] = "started"
except Exception as exc:
    out["zk"] = str(exc)
out["imported"] = sorted(m for m in sys.modules if m.split(".")[0] in ("otter_dynamic", "otter_zookeeper"))
print(json.dumps(out))
"""


def test_the_manager_works_without_otter_dynamic_and_otter_zookeeper(tmp_path):
    """Both plugins made unimportable (shadowed by packages that raise ImportError, as when absent)."""
    for package in ("otter_dynamic", "otter_zookeeper"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(f"raise ImportError('{package} is not installed')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    env.pop("PYTHONSAFEPATH", None)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(WITHOUT_PLUGINS)],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["create_source"] == 201 and out["channels"] == []
    assert out["dynamic"] == [501, "dynamic hooks need the otter-dynamic plugin: pip install otter-dynamic"]
    assert out["dynamic_page"] == 200
    assert out["zk"] == "--zk needs the otter-zookeeper plugin: pip install otter-zookeeper"
    assert out["imported"] == []
