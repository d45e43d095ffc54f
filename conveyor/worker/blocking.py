"""Running the worker's coroutine to its end from synchronous code, whether or not an
event loop already runs in the calling thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

Run = Callable[..., Coroutine[Any, Any, None]]


def run_to_end(run: Run) -> None:
    """``asyncio.run(run(handle_signals=...))`` in this thread (signals handled in the main
    thread); from async code (a loop runs here), on a loop of its own in a new thread,
    waited for, its error raised here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        main = threading.current_thread() is threading.main_thread()
        asyncio.run(run(handle_signals=main))
        return
    failed: list[BaseException] = []

    def capture() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:  # re-raised in the caller's thread
            failed.append(exc)

    thread = threading.Thread(target=capture, name="conveyor-worker")
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
