"""A worker run from the main thread handles SIGTERM/SIGINT while it runs, and gives the
program its own handlers back when it returns (the event loop's close would otherwise
leave the defaults)."""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

import pytest

from conveyor import Conveyor


@pytest.fixture
def own_handlers() -> list[int]:
    """SIGTERM and SIGINT handled by the test (``seen`` lists what arrived); the handlers
    before it are back after it."""
    assert threading.current_thread() is threading.main_thread()
    seen: list[int] = []

    def mine(signum: int, frame: FrameType | None) -> None:
        seen.append(signum)

    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for sig in before:
            signal.signal(sig, mine)
        yield seen
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def test_the_handlers_found_are_back_after_the_worker_returns(
    own_handlers: list[int],
) -> None:
    app = Conveyor("memory://")
    during: list[object] = []

    @app.job
    def look() -> None:
        during.append(signal.getsignal(signal.SIGTERM))

    look().run_now()
    app.run_worker(burst=True)
    assert during and during[0] is not signal.getsignal(signal.SIGTERM)  # the worker's
    assert signal.getsignal(signal.SIGTERM) is signal.getsignal(signal.SIGINT)  # mine
    assert callable(signal.getsignal(signal.SIGTERM))
    os.kill(os.getpid(), signal.SIGTERM)
    os.kill(os.getpid(), signal.SIGINT)
    assert own_handlers == [signal.SIGTERM, signal.SIGINT]
    app.close()
