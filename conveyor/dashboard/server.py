"""Serving the dashboard with uvicorn, refusing unsafe binds."""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from conveyor.dashboard.security import check_token
from conveyor.errors import ConfigurationError

if TYPE_CHECKING:
    from conveyor.app import Conveyor

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8750
MIN_TOKEN_LENGTH = 16  # characters below which a token beyond loopback is warned about

log = logging.getLogger("conveyor.dashboard")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts_for(host: str, token: str | None) -> list[str]:
    """Host header names to accept when bound to ``host``.

    ``CONVEYOR_ALLOWED_HOSTS`` (comma-separated) adds names; bound to every interface
    with a token and no list, any name is accepted (the token is the protection).
    """
    hosts = ["127.0.0.1", "localhost", "::1"]
    extra = [h.strip() for h in os.environ.get("CONVEYOR_ALLOWED_HOSTS", "").split(",")]
    hosts += [h for h in extra if h]
    if host in ("0.0.0.0", "::", ""):
        if token and not any(extra):
            hosts.append("*")
    elif not is_loopback(host):
        hosts.append(host)
    return hosts


def check_bind(host: str, token: str | None) -> str | None:
    """Refuse a token clients could not send, and serving beyond this machine without a
    token; returns a warning for a short one (served all the same: the token is set, as
    asked). Called before anything is printed, so a refusal is the only line."""
    check_token(token)
    if is_loopback(host):
        return None
    if not token:
        raise ConfigurationError(
            f"refusing to serve the dashboard on {host} without a token: set CONVEYOR_TOKEN "
            "to a long random secret, or bind to 127.0.0.1"
        )
    if len(token) < MIN_TOKEN_LENGTH:
        return (
            f"the dashboard on {host} is protected by a {len(token)}-character token; use "
            f"at least {MIN_TOKEN_LENGTH} random characters (e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return None


def serve(
    conveyor_app: Conveyor,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    token: str | None = None,
    stopper: Callable[[Callable[[], None]], None] | None = None,
) -> None:
    """Serve the dashboard until interrupted. ``token`` defaults to ``$CONVEYOR_TOKEN``.
    ``stopper`` receives a function that stops the server (e.g. from a signal handler
    installed by the caller)."""
    import uvicorn

    from conveyor.dashboard.app import create_app

    token = token if token is not None else os.environ.get("CONVEYOR_TOKEN") or None
    warning = check_bind(host, token)
    if warning:
        log.warning(warning)
    asgi = create_app(conveyor_app, token=token, allowed_hosts=allowed_hosts_for(host, token))
    # X-Forwarded-Proto/-For are honoured only from the addresses in uvicorn's
    # forwarded_allow_ips ($FORWARDED_ALLOW_IPS, default 127.0.0.1): behind a TLS proxy
    # there, the session cookie is marked Secure; from anyone else the headers are ignored.
    config = uvicorn.Config(
        asgi, host=host, port=port, log_level="warning", proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1")
    server = uvicorn.Server(config)
    if stopper is not None:
        stopper(lambda: setattr(server, "should_exit", True))
    server.run()
