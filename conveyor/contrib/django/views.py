"""The dashboard inside a Django site, for staff users: ``urls.py``::

    path("jobs/", include("conveyor.contrib.django.urls")),
"""

from __future__ import annotations

import functools
from typing import Any

from asgiref.sync import async_to_sync
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt


@functools.cache
def _dashboard() -> Any:
    from conveyor.contrib.django import get_app

    return get_app().asgi()


@csrf_exempt  # the dashboard checks its own CSRF token and Origin on every change
@staff_member_required
def dashboard(request: HttpRequest, path: str = "") -> HttpResponse:
    """Serve one dashboard request through its ASGI app."""
    full = request.path
    root = full[: len(full) - len(path)] if path and full.endswith(path) else full
    root = root.rstrip("/")
    host, _, port = request.get_host().partition(":")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": request.method, "scheme": request.scheme,
        "path": full, "raw_path": full.encode(), "root_path": root,
        "query_string": request.META.get("QUERY_STRING", "").encode("latin-1"),
        "headers": [(b"host", request.get_host().encode("latin-1"))] + [
            (k.lower().encode("latin-1"), str(v).encode("latin-1"))
            for k, v in request.headers.items() if k.lower() != "host"
        ],
        "client": (request.META.get("REMOTE_ADDR", ""), 0),
        "server": (host, int(port) if port.isdigit() else 80),
    }
    body = request.body
    sent = False
    status = 500
    headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            headers.extend(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    async_to_sync(_dashboard())(scope, receive, send)
    response = HttpResponse(b"".join(chunks), status=status)
    for name, value in headers:
        key = name.decode("latin-1")
        if key.lower() == "set-cookie":
            _add_cookie(response, value.decode("latin-1"))
        elif key.lower() != "content-length":
            response.headers[key] = value.decode("latin-1")
    return response


def _add_cookie(response: HttpResponse, header: str) -> None:
    from http.cookies import SimpleCookie

    cookie: SimpleCookie = SimpleCookie()
    cookie.load(header)
    for key, morsel in cookie.items():
        response.cookies[key] = morsel.value
        for attr in ("path", "expires", "max-age", "samesite", "httponly", "secure"):
            if morsel[attr]:
                response.cookies[key][attr] = morsel[attr]
