"""HTTP for ``io.background_fetch``: an SSRF guard, redirects checked hop by hop, retries by
status code, and secret headers redacted before anything is stored.

Unless the app allows private fetches, every hop's host is resolved here, each address
must be public, and the connection goes to the checked address (the name is kept for the
Host header and TLS), so DNS rebinding between the check and the request cannot slip in.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import math
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.durable.bodies import ACCEPT_ENCODING, read_capped
from conveyor.durable.engine import ABSURD_DELAY, RetryAfter
from conveyor.errors import ConfigurationError, FetchRefused
from conveyor.redaction import is_secret_name, redact_headers, redact_text
from conveyor.redaction import redact as redact_value

if TYPE_CHECKING:  # imported where used: an app that never fetches starts without httpx
    import httpx

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10
MAX_BODY = 1_000_000  # bytes of a response body kept in the step
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_secret(name: str) -> bool:
    """A secret header (by :data:`conveyor.redaction.SECRET_NAMES`)."""
    return is_secret_name(name)


def redact(headers: dict[str, str]) -> dict[str, str]:
    """Headers with secret values replaced, as stored in steps."""
    return redact_headers(headers)


def check_url(url: str) -> httpx.URL:
    """Parse ``url``; only absolute http(s) URLs are accepted."""
    import httpx

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise FetchRefused(f"invalid URL {url!r}: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FetchRefused(
            f"refusing to fetch {url!r}: only absolute http:// and https:// URLs are accepted"
        )
    return parsed


def blocked(ip: Address) -> bool:
    """Private, loopback, link-local, multicast, reserved or otherwise non-public."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        not ip.is_global or ip.is_private or ip.is_loopback or ip.is_link_local
        or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )


async def resolve_public(url: httpx.URL) -> Address:
    """The address to connect to; refuses a host with any non-public address."""
    host = url.host
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, url.port or 0, type=socket.SOCK_STREAM)
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    bad = [a for a in addresses if blocked(a)]
    if bad or not addresses:
        raise FetchRefused(
            f"refusing to fetch {str(url)!r}: {host} resolves to the non-public address "
            f"{bad[0] if bad else 'none'} (private, loopback, link-local, multicast and "
            "reserved addresses are refused: the app was opened with allow_private_fetch=False)"
        )
    return addresses[0]


@dataclass
class FetchRequest:
    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    timeout: float = 30.0

    def __post_init__(self) -> None:
        check_url(self.url)
        if not isinstance(self.method, str) or not self.method.isalpha():
            raise ConfigurationError(f"invalid HTTP method {self.method!r}; e.g. 'GET', 'POST'")
        self.method = self.method.upper()
        if not isinstance(self.headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.headers.items()
        ):
            raise ConfigurationError("headers must be a dict of str -> str")

    def describe(self) -> str:
        """The request as stored in the step (secret headers redacted)."""
        return json.dumps({
            "method": self.method, "url": redact_text(self.url),
            "headers": redact(self.headers), "json": redact_value(self.json),
        }, sort_keys=True)


async def perform(request: FetchRequest, allow_private: bool, last: bool) -> dict[str, Any]:
    """One attempt: follow redirects (checking each hop), return the final response as a
    dict; a retryable status raises :class:`RetryAfter` unless this is the last attempt."""
    import httpx

    url, method = check_url(request.url), request.method
    headers, body = dict(request.headers), request.json
    async with httpx.AsyncClient(timeout=request.timeout, trust_env=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            response, content = await _send(client, url, method, headers, body, allow_private)
            location = response.headers.get("location")
            if response.status_code not in REDIRECTS or not location:
                break
            target = check_url(str(url.join(location)))
            if (target.scheme, target.host, target.port) != (url.scheme, url.host, url.port):
                headers = {k: v for k, v in headers.items() if not is_secret(k)}
            if response.status_code == 303 or (
                response.status_code in (301, 302) and method == "POST"
            ):
                method, body = "GET", None
            url = target
        else:
            raise FetchRefused(f"too many redirects (more than {MAX_REDIRECTS}) from {request.url}")
    result = {
        "status": response.status_code, "url": redact_text(str(url)),
        "headers": redact(dict(response.headers)), "body": _body(response, content),
    }
    if response.status_code in RETRY_STATUSES and not last:
        raise RetryAfter(
            f"HTTP {response.status_code} from {url}", _retry_after(response.headers)
        )
    return result


async def _send(
    client: httpx.AsyncClient, url: httpx.URL, method: str, headers: dict[str, str],
    body: Any, allow_private: bool,
) -> tuple[httpx.Response, bytes]:
    target, extensions = url, {}
    headers = dict(headers)
    if not any(k.lower() == "accept-encoding" for k in headers):
        headers["Accept-Encoding"] = ACCEPT_ENCODING
    if not allow_private:
        address = await resolve_public(url)
        target = url.copy_with(host=str(address))
        headers["Host"] = url.netloc.decode("ascii")
        if url.scheme == "https":
            extensions["sni_hostname"] = url.host
    request = client.build_request(
        method, target, headers=headers, json=body, extensions=extensions
    )
    response = await client.send(request, stream=True)
    try:
        return response, await read_capped(response, MAX_BODY)
    finally:
        await response.aclose()


def _body(response: httpx.Response, content: bytes) -> Any:
    text = content.decode(response.encoding or "utf-8", errors="replace")
    if "json" in response.headers.get("content-type", ""):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the server asks to wait: delta-seconds or an HTTP date; None when absent
    or absurd (non-finite, negative-infinite, past :data:`ABSURD_DELAY`). The engine
    caps a hint by the step's ``max_wait``."""
    value = headers.get("retry-after")
    if not value or len(value) > 100:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
            seconds = when.timestamp() - time.time()
        except (TypeError, ValueError, OverflowError, OSError, IndexError):
            return None
    if not math.isfinite(seconds) or seconds > ABSURD_DELAY:
        return None
    return max(seconds, 0.0)
