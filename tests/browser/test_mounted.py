"""The dashboard mounted under /jobs in the FastAPI example, browsed in Chromium: links,
forms, static files, redirects and htmx requests all stay under the mount point."""

from __future__ import annotations

import importlib
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import ROOT

pytestmark = pytest.mark.browser
pytest.importorskip("fastapi")
MODULE = "examples.fastapi_app.main"


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, browser: Any) -> Iterator[str]:
    import uvicorn

    monkeypatch.setenv("CONVEYOR_URL", f"sqlite:///{tmp_path}/shop.db")
    monkeypatch.delenv("CONVEYOR_TOKEN", raising=False)
    monkeypatch.syspath_prepend(str(ROOT))
    sys.modules.pop(MODULE, None)
    module = importlib.import_module(MODULE)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(module.api, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the app did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(20)
    sock.close()
    module.app.close()
    sys.modules.pop(MODULE, None)


def test_browse_the_dashboard_mounted_under_jobs(shop: str, page: Any) -> None:
    requested: list[str] = []
    failed: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    job_id = httpx.post(f"{shop}/orders/5").json()["job"]

    page.goto(f"{shop}/jobs/")
    page.locator(".count-completed .n").filter(has_text="1").wait_for()
    assert page.evaluate(
        "[...document.styleSheets].some(s => s.href && s.href.endsWith('/jobs/static/style.css'))"
    )
    page.get_by_role("link", name="Runs").first.click()
    page.wait_for_url(f"{shop}/jobs/runs")
    page.locator(f"a[href='/jobs/runs/{job_id}']").first.click()
    page.wait_for_url(f"{shop}/jobs/runs/{job_id}")
    assert "receipt for order 5 sent" in page.content()

    page.goto(f"{shop}/jobs/jobs")
    page.get_by_role("link", name="send_receipt").first.click()
    page.wait_for_url(re.compile(r"/jobs/jobs/send.receipt$"))
    page.locator("textarea[name=payload]").fill("6")
    page.get_by_role("button", name="Run now").click()
    page.wait_for_url(re.compile(r"/jobs/runs/\d+$"))
    page.locator(".run-head .state").filter(has_text="completed").wait_for()  # htmx polls
    assert "receipt for order 6 sent" in page.content()

    ours = [u for u in requested if u.startswith(shop) and "/orders/" not in u]
    assert ours and all(u.startswith(f"{shop}/jobs/") for u in ours), ours
    assert not failed, failed
