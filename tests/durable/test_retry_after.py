"""A delay a remote server controls (Retry-After) is finite and capped by the step's
max_wait (default one hour); absurd values are no hint at all."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor import Conveyor, Retry
from conveyor.durable.engine import ABSURD_DELAY, DEFAULT_HINT_CAP, hinted_delay
from conveyor.durable.fetch import _retry_after
from tests.durable.helpers import settle


class Busy(BaseHTTPRequestHandler):
    """Answers 503 with the Retry-After given in ``?v=``."""

    def log_message(self, *args: Any) -> None: ...

    def do_GET(self) -> None:
        value = parse_qs(urlparse(self.path).query)["v"][0]
        raw = json.dumps({"busy": True}).encode()
        self.send_response(503)
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Retry-After", value)
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def busy_url() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _hint(value: str) -> float | None:
    return _retry_after(httpx.Headers({"Retry-After": value}))


@pytest.mark.parametrize("value", [
    "nan", "inf", "-inf", "1e308", "9" * 400, "99999999999", "Fri, 31 Dec 9999 23:59:59 GMT",
    "Mon, 01 Jan 0001 00:00:00 GMT", "soon", "", "1" * 200, "\x00",
])
def test_absurd_retry_after_values_are_no_hint(value: str) -> None:
    assert _hint(value) is None or _hint(value) == 0.0


def test_sane_retry_after_values_are_read() -> None:
    assert _hint("120") == 120.0
    assert _hint("-5") == 0.0
    soon = format_datetime(datetime.fromtimestamp(time.time() + 600, UTC), usegmt=True)
    assert 590 <= (_hint(soon) or 0) <= 601


@settings(max_examples=300)
@given(st.one_of(st.floats(), st.integers(), st.none(), st.booleans()),
       st.one_of(st.none(), st.floats(min_value=0, max_value=1e6)))
def test_a_hint_is_always_finite_and_within_max_wait(hint: Any, max_wait: float | None) -> None:
    policy = Retry(retries=3, wait=1, max_wait=max_wait)
    delay = hinted_delay(hint, policy)
    if delay is not None:
        cap = DEFAULT_HINT_CAP if max_wait is None else max_wait
        assert 0.0 <= delay <= cap
    if isinstance(hint, float | int) and not isinstance(hint, bool) and abs(hint) > ABSURD_DELAY:
        assert delay is None or hint < 0


@pytest.mark.parametrize(("value", "max_wait", "lowest", "highest"), [
    ("7200", None, 3590, 3601),          # capped by the default max_wait of one hour
    ("7200", 60, 55, 61),                # capped by the step's max_wait
    ("1e308", None, 0, 3),               # no hint: the policy's own wait (1 s)
    ("Fri, 31 Dec 9999 23:59:59 GMT", None, 0, 3),
    ("9" * 30, 60, 0, 3),
])
def test_a_fetched_retry_after_never_parks_a_run_past_max_wait(
    store_url: str, busy_url: str, value: str, max_wait: float | None, lowest: float,
    highest: float,
) -> None:
    app = Conveyor(store_url, lease=2, allow_private_fetch=True)
    try:
        policy = Retry(retries=3, wait=1, max_wait=max_wait)

        @app.job
        async def fetcher(payload: Any, io: Any) -> Any:
            return await io.background_fetch("call", f"{busy_url}?v={value}", retry=policy)

        record = settle(app, fetcher(None).run_now())
        assert record.state == "waiting"
        (step,) = app.steps(record.id)
        assert step.wake_at is not None
        wait = (step.wake_at - datetime.now(UTC)).total_seconds()
        assert lowest <= wait <= highest
    finally:
        app.close()
