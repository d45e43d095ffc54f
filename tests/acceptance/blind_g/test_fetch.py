"""SPEC §5 io.background_fetch against a local HTTP server: once per run and key across
replays, retried on a failing status, any letter case of an http(s) scheme."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conveyor import Conveyor, Retry
from tests.acceptance.blind_g.support import rec, settle
from tests.conformance.helpers import ManualClock
from tests.support import JsonHandler, serving


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    """A local server answering JSON ``{"path": ...}``; a path starting ``/flaky`` gets
    503 on its first two requests. Yields its base URL and the paths it was asked for."""
    hits: list[str] = []

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            status = 503 if self.path.startswith("/flaky") and hits.count(self.path) < 3 \
                else 200
            self.send_json(status, {"path": self.path})

    with serving(Handler) as address:
        yield address, hits


def test_a_fetch_runs_once_per_key_across_replays_in_any_scheme_case(
        capp: Conveyor, clock: ManualClock, server: tuple[str, list[str]]) -> None:
    host, hits = server

    @capp.job
    async def fetcher(io: Any) -> Any:
        got = [await io.background_fetch(f"get-{scheme}", f"{scheme}://{host}/{scheme}")
               for scheme in ("http", "HTTP", "hTtP")]
        await io.wait("nap", 1, "minute")
        return [[r["status"], r["body"]] for r in got]

    h = fetcher().run_now()
    settle(capp, clock, minutes=1)
    assert h.result(timeout=30) == [[200, {"path": f"/{s}"}] for s in ("http", "HTTP", "hTtP")]
    assert hits == ["/http", "/HTTP", "/hTtP"]


def test_a_failing_status_is_retried_durably_until_it_succeeds(
        capp: Conveyor, clock: ManualClock, server: tuple[str, list[str]]) -> None:
    host, hits = server

    @capp.job
    async def fetcher(io: Any) -> Any:
        r = await io.background_fetch("flaky", f"http://{host}/flaky-ü",
                                      retry=Retry(retries=3, wait=60))
        return r["status"]

    h = fetcher().run_now()
    settle(capp, clock)
    assert rec(capp, h).state == "waiting" and len(hits) == 1
    settle(capp, clock, seconds=60)
    settle(capp, clock, seconds=60)
    assert h.result(timeout=30) == 200 and len(hits) == 3
