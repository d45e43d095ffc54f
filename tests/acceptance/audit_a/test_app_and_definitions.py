"""SPEC §1 (the app's options) and §2 (defining jobs), clause by clause, with odd but valid
inputs and bad ones whose errors must say what was wrong and what is accepted."""

from __future__ import annotations

import asyncio
import time
import types
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conveyor import Conveyor, Fail, Retry, slugify
from conveyor.testing import FakeClock, run_until_idle

START = datetime(2030, 1, 4, 8, 7, tzinfo=UTC)


# -- §1 keyword options ----------------------------------------------------------------------


@pytest.mark.parametrize("lease", ["30 seconds", timedelta(milliseconds=500)])
def test_lease_takes_seconds_a_timedelta_or_text(
    open_app: Callable[..., Conveyor], lease: object
) -> None:
    app = open_app(lease=lease)

    @app.job
    def echo(x: str) -> str:
        return x

    handle = echo("ok ✓").run_now()
    run_until_idle(app)
    assert handle.result(timeout=30) == "ok ✓"


@pytest.mark.parametrize(("options", "accepted"), [
    ({"lease": True}, "seconds"), ({"lease": float("inf")}, "seconds"),
    ({"timezone": "europe/paris"}, "Europe/Paris"), ({"timezone": ""}, "IANA"),
    ({"retention": "forever"}, "7 days"), ({"retention": -5}, ">= 0"),
])
def test_bad_options_say_what_is_accepted(tmp_path: Path, options: dict[str, object],
                                          accepted: str) -> None:
    with pytest.raises(ValueError, match=accepted):
        Conveyor(f"sqlite:///{tmp_path}/x.db", **options)  # type: ignore[arg-type]


def test_every_spelling_of_utc_reads_a_naive_run_at_as_utc(
    open_app: Callable[..., Conveyor],
) -> None:
    for zone in ("UTC", "Etc/UTC", ZoneInfo("UTC"), UTC, None):
        app = open_app(timezone=zone)

        @app.job(f"noop-{zone}")
        def noop() -> None: ...

        record = app.get_job(noop().run_at(datetime(2031, 2, 28, 23, 59, 59, 999999)).id)
        assert record is not None
        assert record.run_at == datetime(2031, 2, 28, 23, 59, 59, 999999, tzinfo=UTC)


def test_a_naive_run_at_under_a_zone_that_is_utc_in_winter_is_still_refused(
    open_app: Callable[..., Conveyor],
) -> None:
    app = open_app(timezone="Europe/London")  # +00:00 in January, but not UTC

    @app.job
    def noop() -> None: ...

    with pytest.raises(ValueError, match="Europe/London") as caught:
        noop().run_at(datetime(2031, 1, 1, 12))
    assert "aware" in str(caught.value)
    assert app.count() == 0


class OffsetClock:
    """``now()`` in a fixed +05:30 offset: the app must store it as UTC."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at.astimezone(timezone(timedelta(hours=5, minutes=30)))


def test_a_clock_object_decides_when_a_worker_may_run_a_job(
    open_app: Callable[..., Conveyor],
) -> None:
    clock = OffsetClock(datetime(2030, 6, 1, tzinfo=UTC))
    app = open_app(clock=clock)

    @app.job
    def noop() -> str:
        return "ran"

    handle = noop().run_in(1.5, "seconds")
    record = app.get_job(handle.id)
    assert record is not None and record.created_at == datetime(2030, 6, 1, tzinfo=UTC)
    assert record.run_at == datetime(2030, 6, 1, 0, 0, 1, 500000, tzinfo=UTC)
    run_until_idle(app)
    assert app.get_job(handle.id).state == "scheduled"  # type: ignore[union-attr]
    clock.at += timedelta(seconds=2)
    run_until_idle(app)
    assert handle.result(timeout=30) == "ran"


async def test_async_with_and_an_async_worker(url: str) -> None:
    async with Conveyor(url) as app:
        @app.job
        async def echo(x: object) -> object:
            await asyncio.sleep(0)
            return x

        handle = await echo({"ключ": ["ü", 0, None]}).run_now()
        await app.run_worker_async(burst=True)
        assert await handle.wait(timeout=30) == {"ключ": ["ü", 0, None]}


# -- §2 ids, slugs, versions --------------------------------------------------------------


@pytest.mark.parametrize(("first", "second"), [
    ("Resume", "résumé"), ("a_b", "a-b"), ("X", "x"), ("日本", "日本 "),
    ("save-image/local", "save image local"),
])
def test_two_ids_with_one_slug_are_refused_naming_both(
    sqlite_app: Conveyor, first: str, second: str
) -> None:
    assert slugify(first) == slugify(second)
    sqlite_app.job(first)(lambda: None)
    with pytest.raises(ValueError) as caught:
        sqlite_app.job(second)(lambda: None)
    message = str(caught.value)
    assert repr(first) in message and repr(second) in message
    assert slugify(first) in message


def test_the_same_id_twice_says_it_is_already_defined(sqlite_app: Conveyor) -> None:
    sqlite_app.job("dup-é")(lambda: None)
    with pytest.raises(ValueError, match="already defined"):
        sqlite_app.job("dup-é")(lambda: None)
    with pytest.raises(ValueError, match="already defined"):
        sqlite_app.add_worker(type="dup-é", worker=lambda job: None)


@pytest.mark.parametrize("job_id", ["", "   ", "😀", "--"])
def test_an_id_without_letters_or_digits_is_refused(sqlite_app: Conveyor, job_id: str) -> None:
    with pytest.raises(ValueError, match="letters or digits"):
        sqlite_app.job(job_id)(lambda: None)


@pytest.mark.parametrize("version", ["1.2", "v1.2.3", "one", "1.2.3.4"])
def test_a_version_that_is_not_semver_is_refused_showing_one(
    sqlite_app: Conveyor, version: str
) -> None:
    with pytest.raises(ValueError, match=r"1\.2\.0"):
        sqlite_app.job("versioned", version=version)(lambda: None)


def test_a_prerelease_version_is_recorded_on_the_run(app: Conveyor) -> None:
    @app.job(version="2.0.0-beta.1+build.5", name="Nice ✓ name")
    def beta() -> None: ...

    handle = beta().run_now()
    run_until_idle(app)
    assert app.get_job(handle.id).version == "2.0.0-beta.1+build.5"  # type: ignore[union-attr]


def test_a_misspelled_job_option_names_the_real_ones(sqlite_app: Conveyor) -> None:
    with pytest.raises(ValueError, match="retires") as caught:
        sqlite_app.job("x", retires=3)(lambda: None)
    assert "retry" in str(caught.value)


# -- §2 meta.jobs, in sync and async jobs ---------------------------------------------------


def test_meta_jobs_by_attribute_and_by_id_in_sync_and_async_jobs(app: Conveyor) -> None:
    @app.job("retry-request")
    def retry_request(req: str) -> str:
        return req

    @app.job
    def sync_parent(meta: object) -> list[int]:
        later = meta.jobs.retry_request("a").run_in(30, "seconds")  # type: ignore[attr-defined]
        now = meta.jobs["retry-request"]("b").run_now(priority="high")  # type: ignore[attr-defined]
        return [later.id, now.id]

    @app.job
    async def async_parent(meta: object) -> list[int]:
        later = await meta.jobs.retry_request("c").run_in(30, "seconds")  # type: ignore[attr-defined]
        now = await meta.jobs["retry-request"]("d").run_now()  # type: ignore[attr-defined]
        return [later.id, now.id]

    with FakeClock(app, start=START) as clock:
        handles = [sync_parent().run_now(), async_parent().run_now()]
        run_until_idle(app, clock)
        for handle, (later, now) in zip(handles, (("a", "b"), ("c", "d")), strict=True):
            children = [app.get_job(i) for i in handle.result(timeout=30)]
            assert [(c.state, c.args) for c in children] == [  # type: ignore[union-attr]
                ("scheduled", [later]), ("completed", [now])]
            assert children[0].run_at == START + timedelta(seconds=30)  # type: ignore[union-attr]


# -- §2 add_worker and include ------------------------------------------------------------------


def test_add_worker_fail_is_retried_and_conveyor_fail_is_not(app: Conveyor) -> None:
    def work(job: object) -> None:
        data = job.data  # type: ignore[attr-defined]
        if data.get("fail"):
            job.fail("bad ✗")  # type: ignore[attr-defined]
        elif data.get("raise"):
            raise ValueError("raised ✗")
        elif data.get("final"):
            raise Fail("for good")
        else:
            job.done("fine")  # type: ignore[attr-defined]

    app.add_worker(type="someUniqueJobType", worker=work, retry=Retry(retries=1, wait=60))
    handles = {k: app.schedule_job(type="someUniqueJobType", data={k: True})
               for k in ("ok", "fail", "raise", "final")}
    with FakeClock(app, start=START) as clock:
        run_until_idle(app, clock)
        clock.advance(1, "minute")
        run_until_idle(app, clock)
    found = {k: app.get_job(h.id) for k, h in handles.items()}
    assert {k: (r.state, r.attempts) for k, r in found.items()} == {  # type: ignore[union-attr]
        "ok": ("completed", 1), "fail": ("failed", 2), "raise": ("failed", 2),
        "final": ("failed", 1)}
    assert found["fail"].error["message"] == "bad ✗"  # type: ignore[union-attr,index]
    assert found["raise"].error["message"] == "raised ✗"  # type: ignore[union-attr,index]


def test_an_async_add_worker_function_completes_without_done(app: Conveyor) -> None:
    seen: list[object] = []

    async def work(job: object) -> None:
        await asyncio.sleep(0)
        seen.append(job.data)  # type: ignore[attr-defined]

    app.add_worker(type="async/type", worker=work)
    handle = app.schedule_job(type="async/type", data={"ü": [1, None]})
    run_until_idle(app)
    assert seen == [{"ü": [1, None]}]
    assert app.get_job(handle.id).state == "completed"  # type: ignore[union-attr]


def test_include_takes_camel_case_ids_and_a_zero_day_policy(app: Conveyor) -> None:
    plugin = types.ModuleType("plugin")

    def retry_request(data: dict[str, int]) -> int:
        return data["n"] * 2

    plugin.jobs = {"retryRequest": retry_request}  # type: ignore[attr-defined]
    plugin.cleanup = [{"type": "retryRequest", "purgeAfterDays": 0}]  # type: ignore[attr-defined]
    app.include(plugin)
    kept = app.jobs["retryRequest"]({"n": 0}).run_in(1, "day")
    done = app.jobs["retryRequest"]({"n": 21}).run_now()
    run_until_idle(app)
    app.purge()
    assert app.get_job(done.id) is None  # finished: purged at once (0 days)
    assert app.get_job(kept.id) is not None  # not finished: kept


def _connections(url: str) -> int:
    """Open connections to ``url``'s database (PostgreSQL) or file (SQLite, /proc)."""
    if url.startswith("postgresql"):
        import psycopg

        database = url.split("?")[0].rsplit("/", 1)
        with psycopg.connect(f"{database[0]}/postgres", autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                               (database[1],)).fetchone()
        return int(row[0]) if row else 0
    path = url.removeprefix("sqlite:///")
    fds = Path("/proc/self/fd")
    if not fds.exists():  # pragma: no cover - Linux CI has /proc
        pytest.skip("no /proc to count open files")
    found = 0
    for fd in list(fds.iterdir()):
        try:
            found += fd.readlink().as_posix().startswith(path)
        except OSError:  # closed meanwhile
            continue
    return found


@pytest.mark.parametrize("worker", ["sync", "async"])
def test_closing_the_app_after_a_worker_releases_every_connection(url: str,
                                                                  worker: str) -> None:
    Conveyor(url).close()  # the schema exists before counting
    before = _connections(url)
    with Conveyor(url) as app:
        @app.job
        async def noop() -> None: ...

        noop().run_now()
        if worker == "sync":
            app.run_worker(burst=True)
        else:
            asyncio.run(app.run_worker_async(burst=True))
    # SQLite: at once. PostgreSQL: a backend whose client has gone is listed until it
    # exits (milliseconds); a connection a thread closes later (up to a second) is not.
    deadline = time.monotonic() + (0.3 if url.startswith("postgresql") else 0.0)
    while _connections(url) != before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _connections(url) == before
