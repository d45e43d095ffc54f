"""The dashboard's Starlette application factory."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp

from conveyor.dashboard import api, flow, pages
from conveyor.dashboard.context import Dashboard
from conveyor.dashboard.data import Views
from conveyor.dashboard.guard import DEFAULT_MAX_BODY, HeadersMiddleware, InputGuardMiddleware
from conveyor.dashboard.prom import metrics
from conveyor.dashboard.security import Security, SecurityMiddleware, refusal
from conveyor.dashboard.sessions import DEFAULT_SESSION_LIFETIME
from conveyor.dashboard.unavailable import MissingStoreMiddleware, store_error
from conveyor.errors import ConfigurationError, StoreError
from conveyor.priority import Priority

if TYPE_CHECKING:
    from collections.abc import Iterable

    from conveyor.app import Conveyor

HERE = Path(__file__).parent


class _DashboardApp(Starlette):
    """Starlette with the security headers outside everything, error pages included."""

    def build_middleware_stack(self) -> ASGIApp:
        return HeadersMiddleware(super().build_middleware_stack())


def create_app(
    conveyor_app: Conveyor,
    token: str | None = None,
    allowed_hosts: Iterable[str] | None = None,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    session_lifetime: float = DEFAULT_SESSION_LIFETIME,
) -> Starlette:
    """The dashboard and JSON API for ``conveyor_app`` as an ASGI app.

    ``token`` protects every page and API call (``Authorization: Bearer`` or the sign-in
    form); ``allowed_hosts`` are the Host names accepted (default: loopback names;
    ``"*"`` accepts any). Request bodies over ``max_body`` bytes are refused (413);
    a sign-in lasts ``session_lifetime`` seconds (default 12 hours).
    """
    security = Security.build(token, allowed_hosts, session_lifetime)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
    )
    env.filters.update(pretty=_pretty, compact=_compact, when=_when, ago=_ago,
                       priority=_priority)
    templates = Jinja2Templates(env=env)
    hidden = (token,) if token else ()
    dashboard = Dashboard(conveyor_app, Views(conveyor_app, hidden), security, templates)
    app = _DashboardApp(
        routes=[
            *api.routes(),
            *pages.routes(),
            *flow.routes(),
            Route("/metrics", metrics, methods=["GET"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        middleware=[
            Middleware(InputGuardMiddleware, max_body=max_body),
            Middleware(SecurityMiddleware, security=security),
            Middleware(MissingStoreMiddleware, conveyor_app=conveyor_app),
        ],
        exception_handlers={404: _not_found, 405: _not_allowed, 500: _server_error,
                            HTTPException: _http_error, StoreError: store_error},
    )
    app.state.dashboard = dashboard
    return app


async def _not_found(request: Request, exc: Exception) -> Response:
    return refusal(request, 404, f"not found: {request.url.path}")


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return refusal(request, 405, f"method {request.method} not allowed here")


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 400)
    return refusal(request, status, str(getattr(exc, "detail", "")) or "bad request")


async def _server_error(request: Request, exc: Exception) -> Response:
    return refusal(request, 500, f"internal error ({type(exc).__name__}); see the server log")


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _priority(value: Any) -> str:
    """A priority as lists show it: its level name, else the number."""
    try:
        return Priority(value).label
    except ConfigurationError:
        return str(value)


def _when(value: str | float | None) -> str:
    if value is None or value == "":
        return "—"
    try:
        if isinstance(value, (int, float)):
            moment = datetime.fromtimestamp(value, UTC)
        else:
            moment = datetime.fromisoformat(str(value)).astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _ago(value: str | None) -> str:
    if not value:
        return ""
    seconds = (datetime.now(UTC) - datetime.fromisoformat(value)).total_seconds()
    future, seconds = seconds < 0, abs(seconds)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min"), (1, "s")):
        if seconds >= size or unit == "s":
            text = f"{int(seconds // size)} {unit}"
            return f"in {text}" if future else f"{text} ago"
    return ""
