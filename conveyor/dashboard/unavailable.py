"""A store that does not exist yet, or cannot be used: every page and API call says so
(503, never a 500), and the dashboard works as soon as the store is there."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from conveyor.dashboard.context import Dashboard
from conveyor.dashboard.guard import error_response, local_path, wants_json
from conveyor.dashboard.pages import render
from conveyor.errors import StoreError
from conveyor.redaction import redact_text
from conveyor.stores.missing import MissingStore

if TYPE_CHECKING:
    from conveyor.app import Conveyor

# What needs no store: the page's assets, signing in and out, the API's description.
NO_STORE_NEEDED = ("/static/", "/login", "/logout", "/api/openapi.json")
RETRY_AFTER = 5  # seconds: the page reloads itself, clients are told to wait this long


class MissingStoreMiddleware:
    """While the app's store does not exist yet (an app opened read-only before any
    worker or ``conveyor migrate`` created it), each request looks for it again: once it
    exists the app uses it; until then the answer is a 503 saying so. Nothing is
    created."""

    def __init__(self, app: ASGIApp, conveyor_app: Conveyor) -> None:
        self.app = app
        self.conveyor = conveyor_app
        self.looking = threading.Lock()  # one look at a time, however many requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and isinstance(self.conveyor.store, MissingStore)
                and not local_path(scope).startswith(NO_STORE_NEEDED)):
            problem = await run_in_threadpool(self.look_again)
            if problem is not None:
                await unavailable(Request(scope, receive), problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def look_again(self) -> str | None:
        """None once the store exists (the app now uses it), else why it cannot be used."""
        if self.looking.acquire(blocking=False):
            try:
                store = self.conveyor.store
                if isinstance(store, MissingStore):
                    self.conveyor.reopen(store.url, read_only=True, **store.options)
            except StoreError as exc:  # e.g. the server is unreachable
                return str(exc)
            finally:
                self.looking.release()
        store = self.conveyor.store
        return store.message if isinstance(store, MissingStore) else None


def unavailable(request: Request, message: str) -> Response:
    """The 503 answer: JSON under /api/ (and a line for htmx's refreshes, which keep what
    they show), else a page that reloads itself until the store is there."""
    dash: Dashboard = request.app.state.dashboard
    message = redact_text(message, dash.views.hidden)
    headers = {"Retry-After": str(RETRY_AFTER)}
    if wants_json(request.scope) or request.headers.get("hx-request"):
        return error_response(request.scope, 503, message, headers=headers)
    response = render(dash, request, "unavailable.html",
                      {"message": message, "reload": RETRY_AFTER, "nav": ""}, 503)
    response.headers.update(headers)
    return response


async def store_error(request: Request, exc: Exception) -> Response:
    """A store that cannot be used (opened with ``migrate=False`` before its tables exist,
    a server that is down) is a 503 saying why, not an internal error."""
    return unavailable(request, str(exc))
