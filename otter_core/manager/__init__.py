"""The manager: web console and JSON API over a config store (``otter-run manager``).

Needs the extra ``otter-core[manager]``. Layout: ``settings`` (where state lives), ``app`` (the FastAPI
factory), ``routers`` (the list of mounted routers), ``store`` (SQLAlchemy models, sessions) with Alembic
``migrations``, ``security`` (users, login, CSRF, roles, audit), ``services`` (the logic the API and the
pages share) and ``api`` (JSON endpoints).
"""
