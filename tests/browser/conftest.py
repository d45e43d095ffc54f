"""Browser tests: Playwright driving Debian's Chromium against a live dashboard.

Chromium is ``/usr/bin/chromium`` (``$CONVEYOR_CHROMIUM`` overrides; ``make test``
installs it with apt). Playwright's own browser downloads are never used. When ``CI``
is set a missing Chromium FAILS these tests; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dashboard.helpers import define_demo_jobs  # tests/dashboard (tests/ is on sys.path)

from conveyor import Conveyor
from tests.support import fail_in_ci_else_skip

CHROMIUM = os.environ.get("CONVEYOR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def _unavailable(reason: str) -> None:
    fail_in_ci_else_skip(
        f"browser tests need Chromium in CI: {reason}", f"browser tests skipped: {reason}"
    )


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One headless Chromium for these tests. Package scope: sync Playwright keeps an
    event loop running in the main thread, which breaks every later asyncio.run()."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"playwright is not installed ({exc})")
    with sync_playwright() as pw:
        try:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as exc:
            _unavailable(f"Chromium at {CHROMIUM} did not start: {exc}")
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(str(e)))
    yield tab
    context.close()
    # A script error or a blocked resource (the CSP) would break the live parts quietly;
    # 4xx answers are expected (a bad form comes back 400, a wrong token 401).
    expected = "the server responded with a status of 4"
    assert not [p for p in problems if expected not in p], problems


class WorkerThread:
    """A worker running in a thread of this process until stopped."""

    def __init__(self, app: Conveyor) -> None:
        from conveyor.worker import Worker

        self.worker = Worker(app, concurrency=4, poll_interval=0.2, grace=2.0)
        self.thread = threading.Thread(target=self.worker.run_blocking, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.worker.stop()
        self.thread.join(10)


@dataclass
class Live:
    app: Conveyor
    url: str


def live_dashboard(path: str, token: str | None = None) -> Iterator[Live]:
    """A demo app on a SQLite file, a worker thread and the dashboard on a free port."""
    from conveyor.dashboard.background import BackgroundServer

    app = Conveyor(f"sqlite:///{path}", lease=5)
    define_demo_jobs(app)
    worker = WorkerThread(app)
    with BackgroundServer(app, token=token) as server:
        yield Live(app, server.url)
    worker.stop()
    app.close()


@pytest.fixture
def live(tmp_path: Path, browser: Any) -> Iterator[Live]:
    yield from live_dashboard(str(tmp_path / "live.db"))


@pytest.fixture
def live_with_token(tmp_path: Path, browser: Any) -> Iterator[Live]:
    yield from live_dashboard(str(tmp_path / "token.db"), token=TOKEN)


TOKEN = "browser-test-token-" + "k" * 24
