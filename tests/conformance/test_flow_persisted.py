"""Pauses outlive the app that set them (file and server stores)."""

from __future__ import annotations

import pytest

from conveyor import Conveyor


def test_pause_is_persisted(store_url: str) -> None:
    if store_url.startswith("memory"):
        pytest.skip("a memory store does not outlive its app")
    with Conveyor(store_url) as first:
        first.queue("kept")
        first.pause(queue="kept")
    with Conveyor(store_url) as second:
        assert {q.name: q.paused for q in second.queues()}["kept"] is True
