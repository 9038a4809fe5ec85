"""The FastAPI application factory of ``otter-run manager``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from otter_manager import __version__, migrate, routers
from otter_manager.errors import ConfigConflict, ObjectNotFound
from otter_manager.http_guard import SecurityHeadersMiddleware, TrustedProxyMiddleware
from otter_manager.login_throttle import LoginThrottle
from otter_manager.security import ValidationProblem
from otter_manager.services.dynamic_service import DynamicUnavailable
from otter_manager.sessions import ServerSessionMiddleware
from otter_manager.settings import ManagerSettings
from otter_manager.store import Database

WEB = Path(__file__).with_name("web")


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    started = []
    try:
        for module in routers.lifespan_modules(app.state.contributed_routes):
            await module.start(app)
            started.append(module)
        yield
    finally:
        for module in reversed(started):
            await module.stop(app)
        app.state.db.dispose()


def create_app(settings: ManagerSettings) -> FastAPI:
    """The manager app for ``settings``: the store migrated to head, the routers of ``routers.py`` (its own
    and those plugins contribute through ``otter.manager_routes``) mounted,
    server-side sessions, security headers, the trusted proxy, static files and templates set up."""
    app = FastAPI(
        title="otter manager",
        version=__version__,
        lifespan=_lifespan,
        description="Config, control and monitoring of otter channels. Log in with POST /api/login; "
        "unsafe methods need the X-CSRF-Token header from GET /api/session.",
    )
    app.state.settings = settings
    app.state.login_throttle = LoginThrottle()
    app.state.db = Database(settings.database_url)
    migrate.upgrade(app.state.db.engine)
    app.state.templates = Jinja2Templates(directory=str(WEB / "templates"))
    # Outermost last: the proxy's client and scheme first, then the headers, then the session.
    app.add_middleware(
        ServerSessionMiddleware,
        db=app.state.db,
        idle_s=settings.session_idle_s,
        max_s=settings.session_max_s,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(TrustedProxyMiddleware, trusted=settings.forwarded_allow_ips)
    _add_error_handlers(app)
    for router in routers.load(app):
        app.include_router(router)
    app.state.templates.env.globals["plugin_nav"] = routers.navigation(app.state.contributed_routes)
    app.mount("/static", StaticFiles(directory=str(WEB / "static"), check_dir=False), name="static")
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        broken = [e for e in errors if e.get("type") == "json_invalid"]
        if broken:
            where = broken[0].get("loc", ["body", "?"])[-1]
            reason = (broken[0].get("ctx") or {}).get("error", "not valid JSON")
            return JSONResponse(
                {"detail": f"malformed JSON body: {reason} (at character {where})"}, status_code=400
            )
        return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)

    @app.exception_handler(ValidationProblem)
    async def _validation(_request: Request, exc: ValidationProblem) -> JSONResponse:
        return JSONResponse(
            {"detail": [{"loc": ["body", exc.field], "msg": exc.message, "type": "value_error"}]},
            status_code=422,
        )

    @app.exception_handler(OverflowError)
    async def _out_of_range(request: Request, _exc: OverflowError) -> JSONResponse:
        # An id in the URL beyond what the store holds (64 bits): it names nothing; say which one.
        return JSONResponse({"detail": [_out_of_range_problem(request)]}, status_code=422)

    @app.exception_handler(ObjectNotFound)
    async def _not_found(_request: Request, exc: ObjectNotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(DynamicUnavailable)
    async def _unavailable(_request: Request, exc: DynamicUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=501)

    @app.exception_handler(ConfigConflict)
    async def _conflict(_request: Request, exc: ConfigConflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)


def _out_of_range_problem(request: Request) -> dict:
    """The 422 problem of a number too big for the store, located at the path or query parameter."""
    params = [("path", k, v) for k, v in request.path_params.items()]
    params += [("query", k, v) for k, v in request.query_params.items()]
    for where, name, value in params:
        try:
            number = int(str(value))
        except ValueError:
            continue
        if not -(2**63) <= number < 2**63:
            return {
                "loc": [where, name],
                "msg": f"{number} is out of range: ids are below 2^63",
                "type": "value_error",
            }
    return {
        "loc": ["request"],
        "msg": "a number in the request is out of range (at most 2^63 - 1)",
        "type": "value_error",
    }
