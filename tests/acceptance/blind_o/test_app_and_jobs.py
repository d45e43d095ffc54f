"""§1/§2 the app and its jobs: a ``clock=`` of the user's own (also one answering in
another zone), ``$CONVEYOR_URL``, async use, option refusals, the registry, ``meta``."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from conveyor import Conveyor, Fail, slugify
from conveyor.testing import run_until_idle
from tests.acceptance.support import record_of

TOKYO = timezone(timedelta(hours=9))


class FixedClock:
    """A user's clock: stands at ``at`` (any aware datetime) until moved."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def test_a_user_clock_answering_in_another_zone_decides_due_times(open_app) -> None:  # type: ignore[no-untyped-def]
    user_clock = FixedClock(datetime(2040, 6, 1, 18, 0, tzinfo=TOKYO))  # 09:00 UTC
    app = open_app(clock=user_clock)

    @app.job
    def stamp(x):  # type: ignore[no-untyped-def]
        return x

    past = stamp("past").run_at(datetime(2040, 6, 1, 8, 59, tzinfo=UTC))
    later = stamp("later").run_in(1, "hour")
    assert record_of(app, later.id).run_at == datetime(2040, 6, 1, 10, 0, tzinfo=UTC)
    assert record_of(app, later.id).run_at.utcoffset() == timedelta(0)
    assert record_of(app, past.id).created_at == datetime(2040, 6, 1, 9, 0, tzinfo=UTC)
    run_until_idle(app)
    assert record_of(app, past.id).state == "completed"
    assert record_of(app, later.id).state == "scheduled"
    user_clock.at += timedelta(hours=1)
    run_until_idle(app)
    assert record_of(app, later.id).result == "later"
    assert record_of(app, later.id).finished_at == datetime(2040, 6, 1, 10, 0, tzinfo=UTC)


def test_conveyor_without_a_url_opens_conveyor_url(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVEYOR_URL", url)
    with Conveyor() as first:

        @first.job("probe")
        def probe():  # type: ignore[no-untyped-def]
            return None

        handle = probe().run_now()
    with Conveyor(url) as second:
        assert record_of(second, handle.id).job == "probe"


def test_async_with_and_awaited_triggers_inside_it(url: str) -> None:
    async def main() -> Any:
        async with Conveyor(url) as app:

            @app.job
            async def add(a, b):  # type: ignore[no-untyped-def]
                return a + b

            handle = await add(2, 3).run_now()
            await app.run_worker_async(burst=True)
            return await handle.wait(timeout=5)

    assert asyncio.run(main()) == 5


def test_a_trigger_not_awaited_in_async_code_is_stored_all_the_same(app: Conveyor) -> None:
    @app.job
    def note(x):  # type: ignore[no-untyped-def]
        return x

    async def forgetful() -> int:
        return note("kept").run_now().id  # type: ignore[no-any-return]

    job_id = asyncio.run(forgetful())
    assert record_of(app, job_id).state == "queued"


@pytest.mark.parametrize("lease", [0, -5, float("nan"), "soon"])
def test_an_impossible_lease_is_refused_when_opening(tmp_path, lease: object) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises((ValueError, TypeError)) as caught:
        Conveyor(f"sqlite:///{tmp_path}/x.db", lease=lease)  # type: ignore[arg-type]
    assert "lease" in str(caught.value)


def test_a_clock_without_now_or_answering_naive_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises((ValueError, TypeError)):
        Conveyor(f"sqlite:///{tmp_path}/x.db", clock=object())  # type: ignore[arg-type]
    naive = FixedClock(datetime(2040, 1, 1))
    with (
        pytest.raises((ValueError, TypeError)),
        Conveyor(f"sqlite:///{tmp_path}/y.db", clock=naive) as app,
    ):

        @app.job
        def one():  # type: ignore[no-untyped-def]
            return 1

        one().run_in(1, "second")


def test_ids_with_one_slug_clash_at_definition(sqlite_app: Conveyor) -> None:
    @sqlite_app.job("Send Email")
    def first():  # type: ignore[no-untyped-def]
        return None

    assert slugify("Send Email") == slugify("send-email")
    with pytest.raises(ValueError) as caught:

        @sqlite_app.job("send-email")
        def second():  # type: ignore[no-untyped-def]
            return None

    assert "Send Email" in str(caught.value)


def test_the_registry_by_id_and_by_attribute_gives_callable_jobs(app: Conveyor) -> None:
    @app.job("retry-request")
    def retry_request(request):  # type: ignore[no-untyped-def]
        return request

    @app.job("Ünïcode Job")
    def unicode_job():  # type: ignore[no-untyped-def]
        return "ü"

    by_attr = app.jobs.retry_request("a").run_now()
    by_key = app.jobs["retry-request"]("b").run_now()
    unicode = app.jobs["Ünïcode Job"]().run_now()
    run_until_idle(app)
    assert [by_attr.result(timeout=5), by_key.result(timeout=5)] == ["a", "b"]
    assert unicode.result(timeout=5) == "ü"
    assert record_of(app, unicode.id).job == "Ünïcode Job"
    with pytest.raises(KeyError):
        app.jobs["no-such-job"]


def test_sync_jobs_run_off_the_event_loop_and_async_ones_on_it(app: Conveyor) -> None:
    @app.job
    def sync_probe():  # type: ignore[no-untyped-def]
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return {"loop": False, "main": threading.current_thread() is threading.main_thread()}
        return {"loop": True}

    @app.job
    async def async_probe():  # type: ignore[no-untyped-def]
        return {"loop": asyncio.get_running_loop() is not None}

    sync_handle, async_handle = sync_probe().run_now(), async_probe().run_now()
    run_until_idle(app)
    assert sync_handle.result(timeout=5) == {"loop": False, "main": False}
    assert async_handle.result(timeout=5) == {"loop": True}


def test_meta_triggers_by_attribute_and_by_id_with_options(app: Conveyor) -> None:
    @app.job("child-job")
    def child_job(x):  # type: ignore[no-untyped-def]
        return x * 2

    @app.job
    async def parent(meta):  # type: ignore[no-untyped-def]
        first = await meta.jobs.child_job(1).run_now(priority="high")
        second = meta.jobs["child-job"](2).run_in(0, "seconds", queue="default")
        return [first.id, second.id]

    handle = parent().run_now()
    run_until_idle(app)
    child_ids = handle.result(timeout=5)
    assert [record_of(app, i).result for i in child_ids] == [2, 4]


def test_progress_as_a_fraction_or_a_percent_reads_alike(app: Conveyor) -> None:
    @app.job
    def halfway(kind, meta):  # type: ignore[no-untyped-def]
        if kind == "fraction":
            meta.progress(0.5, message="half — ½")
        else:
            meta.progress(50, message="half — ½")
        meta.log.info("logged ✓ %s", kind)
        raise Fail("stop halfway")  # a completed job reads 100 %

    handles = [halfway(kind).run_now() for kind in ("fraction", "percent")]
    run_until_idle(app)
    records = [record_of(app, h.id) for h in handles]
    assert records[0].progress == records[1].progress
    assert records[0].progress in (0.5, 50)
    for record, kind in zip(records, ("fraction", "percent"), strict=True):
        assert any(f"logged ✓ {kind}" in entry.message for entry in record.logs)


def test_a_version_is_recorded_on_every_run_and_follows_a_redeploy(open_app) -> None:  # type: ignore[no-untyped-def]
    handles = []
    for version in ("1.0.0", "1.1.0-rc.1+build.5"):
        app = open_app()

        @app.job("versioned", version=version, name="Versioned ✓")
        def versioned():  # type: ignore[no-untyped-def]
            return None

        handles.append(versioned().run_now())
        run_until_idle(app)
    assert [record_of(app, h.id).version for h in handles] == ["1.0.0", "1.1.0-rc.1+build.5"]
