"""The manager: web console and JSON API over a config store (``otter-run manager``).

Its own distribution, ``pip install otter-manager``. Layout: ``settings`` (where state lives), ``app`` (the
FastAPI factory), ``routers`` (the mounted routers: the manager's own and those plugins contribute),
``store`` (SQLAlchemy models, sessions) with Alembic ``migrations``, ``security`` (users, login, CSRF,
roles, audit), ``services`` (the logic the API and the pages share) and ``api`` (JSON endpoints).
"""

__version__ = "0.1.0"
