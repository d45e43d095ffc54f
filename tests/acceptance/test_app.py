"""SPEC §1 — the app: URLs, schema creation, keyword options, clock=, closing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from conveyor import Conveyor
from conveyor.testing import run_until_idle


class StillClock:
    """A clock object as SPEC §1 describes it: ``now()`` returning an aware datetime."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def test_no_url_and_no_env_opens_conveyor_db_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONVEYOR_URL", raising=False)
    with Conveyor() as app:
        @app.job
        def noop() -> None: ...

        noop().run_now()
    assert (tmp_path / "conveyor.db").exists()


def test_conveyor_url_environment_variable_is_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "ünïcode dir" / "from-env.db"
    target.parent.mkdir()
    monkeypatch.setenv("CONVEYOR_URL", f"sqlite:///{target}")
    with Conveyor() as app:
        @app.job
        def noop() -> None: ...

        handle = noop().run_now()
    assert target.exists()
    assert not (tmp_path / "conveyor.db").exists()
    with Conveyor(f"sqlite:///{target}") as again:
        assert again.get_job(handle.id) is not None


def test_memory_url_runs_jobs() -> None:
    with Conveyor("memory://") as app:
        @app.job
        def double(x: int) -> int:
            return 2 * x

        handle = double(21).run_now()
        run_until_idle(app)
        assert handle.result(timeout=30) == 42


def test_opening_an_existing_store_again_keeps_its_jobs(
    url: str, open_app: Callable[..., Conveyor]
) -> None:
    first = open_app()

    @first.job
    def keep(text: str) -> str:
        return text

    handle = keep("ß∂ƒ 😀").run_now()
    second = open_app(url)  # schema creation is idempotent
    record = second.get_job(handle.id)
    assert record is not None and record.state == "queued"
    assert record.args == ["ß∂ƒ 😀"]


def test_several_apps_opening_a_new_store_at_once_all_succeed(
    url: str, open_app: Callable[..., Conveyor]
) -> None:
    errors: list[BaseException] = []
    apps: list[Conveyor] = []
    lock = threading.Lock()

    def start() -> None:
        try:
            opened = Conveyor(url)
        except BaseException as exc:  # pragma: no cover - the failure being tested
            errors.append(exc)
        else:
            with lock:
                apps.append(opened)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for opened in apps:
        opened.close()
    assert errors == []
    assert len(apps) == 4


def test_with_block_returns_the_app(url: str) -> None:
    with Conveyor(url) as app:
        assert isinstance(app, Conveyor)

        @app.job
        def noop() -> None: ...

        assert noop().run_now().id is not None


async def test_async_with_block_returns_the_app(url: str) -> None:
    async with Conveyor(url) as app:
        assert isinstance(app, Conveyor)

        @app.job
        async def noop() -> None: ...

        handle = await noop().run_now()
        assert app.get_job(handle.id) is not None


def test_close_twice_is_harmless(url: str) -> None:
    app = Conveyor(url)
    app.close()
    app.close()


# -- clock= ------------------------------------------------------------------------------


def test_clock_decides_due_times_in_the_store_too(open_app: Callable[..., Conveyor]) -> None:
    # The app's clock says it is 2000: a job due in 2001 is not due yet, although the real
    # (and database) time is long past it.
    clock = StillClock(datetime(2000, 1, 1, tzinfo=UTC))
    app = open_app(clock=clock)
    ran: list[str] = []

    @app.job
    def note(text: str) -> None:
        ran.append(text)

    handle = note("later").run_at(datetime(2001, 1, 1, tzinfo=UTC))
    record = app.get_job(handle.id)
    assert record is not None and record.state == "scheduled"
    assert record.created_at == clock.at
    run_until_idle(app)
    assert ran == []
    clock.at = datetime(2001, 1, 1, 0, 0, 1, tzinfo=UTC)
    run_until_idle(app)
    assert ran == ["later"]
    done = app.get_job(handle.id)
    assert done is not None and done.state == "completed"
    assert done.finished_at == clock.at


def test_clock_in_another_zone_is_stored_as_utc(open_app: Callable[..., Conveyor]) -> None:
    kolkata = timezone(timedelta(hours=5, minutes=30))
    clock = StillClock(datetime(2031, 6, 1, 5, 30, tzinfo=kolkata))
    app = open_app(clock=clock)

    @app.job
    def noop() -> None: ...

    record = app.get_job(noop().run_in(90, "minutes").id)
    assert record is not None
    assert record.run_at == datetime(2031, 6, 1, 1, 30, tzinfo=UTC)
    assert record.run_at.utcoffset() == timedelta(0)
    assert record.created_at.utcoffset() == timedelta(0)


def test_clock_run_in_counts_from_the_clock_not_from_real_time(
    open_app: Callable[..., Conveyor]
) -> None:
    clock = StillClock(datetime(2040, 2, 29, 12, tzinfo=UTC))
    app = open_app(clock=clock)

    @app.job
    def noop() -> None: ...

    record = app.get_job(noop().run_in(1, "year").id)
    assert record is not None
    assert record.run_at == datetime(2041, 2, 28, 12, tzinfo=UTC)


# -- timezone= and retention= -------------------------------------------------------------


def test_default_timezone_reads_a_naive_run_at_as_utc(app: Conveyor) -> None:
    @app.job
    def noop() -> None: ...

    record = app.get_job(noop().run_at(datetime(2035, 3, 1, 8, 15)).id)
    assert record is not None
    assert record.run_at == datetime(2035, 3, 1, 8, 15, tzinfo=UTC)


def test_non_utc_timezone_refuses_a_naive_run_at(open_app: Callable[..., Conveyor]) -> None:
    app = open_app(timezone="America/St_Johns")

    @app.job
    def noop() -> None: ...

    with pytest.raises(ValueError) as caught:
        noop().run_at(datetime(2035, 3, 1, 8, 15))
    message = str(caught.value).lower()
    assert "naive" in message or "timezone" in message or "tzinfo" in message
    # aware datetimes are still fine under that timezone
    record = app.get_job(noop().run_at(datetime(2035, 3, 1, 8, 15, tzinfo=UTC)).id)
    assert record is not None and record.run_at == datetime(2035, 3, 1, 8, 15, tzinfo=UTC)


def test_app_retention_purges_finished_jobs(open_app: Callable[..., Conveyor]) -> None:
    clock = StillClock(datetime(2030, 1, 1, tzinfo=UTC))
    app = open_app(clock=clock, retention="2 days")

    @app.job
    def noop() -> None: ...

    handle = noop().run_now()
    run_until_idle(app)
    clock.at += timedelta(days=1)
    run_until_idle(app)  # a burst worker's maintenance keeps it: not expired yet
    assert app.get_job(handle.id) is not None
    clock.at += timedelta(days=1, seconds=1)
    app.purge()  # on demand
    assert app.get_job(handle.id) is None


def test_purge_on_demand_deletes_finished_jobs_only(app: Conveyor) -> None:
    @app.job
    def noop() -> None: ...

    done = noop().run_now()
    run_until_idle(app)
    waiting = noop().run_in(1, "day")
    assert app.purge() >= 1
    assert app.get_job(done.id) is None
    assert app.get_job(waiting.id) is not None


def test_lease_option_accepts_fractional_seconds(open_app: Callable[..., Conveyor]) -> None:
    app = open_app(lease=1.5)

    @app.job
    def noop() -> str:
        return "ok"

    handle = noop().run_now()
    run_until_idle(app)
    assert handle.result(timeout=30) == "ok"


def test_async_code_can_trigger_and_wait(url: str) -> None:
    async def main() -> object:
        async with Conveyor(url) as app:
            @app.job
            async def echo(value: object) -> object:
                await asyncio.sleep(0)
                return value

            handle = await echo({"ключ": [1, 2.5, None, True, ""]}).run_now()
            await asyncio.to_thread(run_until_idle, app)
            return await handle.wait(timeout=30)

    assert asyncio.run(main()) == {"ключ": [1, 2.5, None, True, ""]}


# -- options that cannot work: clear errors --------------------------------------------------


@pytest.mark.parametrize("bad", ["mysql://localhost/db", "sqlite", "", "redis://x"])
def test_an_unknown_url_is_a_clear_error(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError) as caught:
        Conveyor(bad)
    message = str(caught.value)
    assert "sqlite" in message and "postgres" in message


@pytest.mark.parametrize("options", [
    {"timezone": "Mars/Olympus_Mons"}, {"lease": 0}, {"lease": -5}, {"lease": float("nan")},
    {"retention": "a fortnight"}, {"retention": -1}, {"clock": object()},
], ids=["timezone", "lease0", "lease-", "lease-nan", "retention-text", "retention-",
        "clock"])
def test_bad_options_are_clear_errors(tmp_path: Path, options: dict[str, object]) -> None:
    with pytest.raises(ValueError) as caught:
        Conveyor(f"sqlite:///{tmp_path}/x.db", **options)  # type: ignore[arg-type]
    assert str(caught.value)


def test_a_clock_returning_a_naive_datetime_is_a_clear_error(tmp_path: Path) -> None:
    clock = StillClock(datetime(2030, 1, 1))
    with pytest.raises(ValueError) as caught, Conveyor(f"sqlite:///{tmp_path}/x.db",
                                                      clock=clock) as app:
        @app.job
        def noop() -> None: ...

        noop().run_in(1, "second")
    assert "aware" in str(caught.value)


def test_using_a_closed_app_is_a_store_error(open_app: Callable[..., Conveyor]) -> None:
    from conveyor import StoreError

    app = open_app()

    @app.job
    def noop() -> None: ...

    handle = noop().run_now()
    app.close()
    for use in (noop().run_now, lambda: app.get_job(handle.id), app.count, app.jobs_list):
        with pytest.raises(StoreError, match="closed"):
            use()
    app.close()  # still harmless
