"""Helpers of the blind acceptance tests of the async API, §11 and §12."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from conveyor import Conveyor, JobHandle

START = datetime(2033, 3, 31, 22, 45, tzinfo=UTC)


def state(app: Conveyor, handle: Any) -> str:
    found = app.get_job(handle.id if isinstance(handle, JobHandle) else handle)
    assert found is not None
    return found.state


def error_type(app: Conveyor, handle: JobHandle) -> str:
    found = app.get_job(handle.id)
    assert found is not None and found.error is not None, found
    error = found.error
    return str(error["type"] if isinstance(error, dict) else error.type)


class Ticker:
    """Measures how long the event loop goes without running a 5 ms ticker task."""

    def __init__(self) -> None:
        self.max_gap = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            self.max_gap = max(self.max_gap, now - last)
            last = now

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self._task


async def _await(call: Any) -> JobHandle:
    handle: JobHandle = await call.run_now()
    return handle


class Abort(BaseException):
    """A user's own BaseException subclass (not an Exception)."""


class _maybe:
    """Context manager that swallows ``kind`` if raised (either outcome is allowed)."""

    def __init__(self, kind: type[BaseException]) -> None:
        self.kind = kind

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, *rest: object) -> bool:
        return kind is not None and issubclass(kind, self.kind)


DJANGO_SCRIPT = r'''
import json, os
import django
from django.conf import settings

settings.configure(INSTALLED_APPS=["conveyor.contrib.django", "blindapp"], USE_TZ=True,
                   DATABASES={"default": json.loads(os.environ["BLIND_DB"])})
django.setup()
from django.core.management import call_command
from django.db import transaction
from conveyor.contrib.django import app
from blindapp.jobs import shout


class Boom(Exception):
    pass


try:
    with transaction.atomic():
        shout("rolled back").run_now()
        raise Boom
except Boom:
    pass
with transaction.atomic():
    kept = shout("grüß").run_now()
    with transaction.atomic():  # a savepoint that rolls back alone
        try:
            with transaction.atomic():
                shout("inner").run_now()
                raise Boom
        except Boom:
            pass
print("COUNT", app.count())
call_command("conveyor", "worker", "--burst")
print("RESULT", json.dumps(kept.result(timeout=10), ensure_ascii=False))
call_command("conveyor", "runs")
'''
