"""§1-2: opening apps, defining jobs (ids, slugs, registry, meta) and refusals."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from conveyor import Conveyor
from conveyor.testing import run_until_idle
from tests.acceptance.support import record_of


def test_default_url_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONVEYOR_URL", raising=False)
    with Conveyor() as app:
        app.count()
    assert (tmp_path / "conveyor.db").exists()
    monkeypatch.setenv("CONVEYOR_URL", f"sqlite:///{tmp_path}/other.db")
    with Conveyor() as app:
        app.count()
    assert (tmp_path / "other.db").exists()


def test_opening_twice_is_idempotent_and_async_with_works(store_url: str) -> None:
    if store_url == "memory://":
        pytest.skip("a memory store lives in its app")

    async def scenario() -> int:
        async with Conveyor(store_url) as app:
            @app.job("x")
            def x(n):  # type: ignore[no-untyped-def]
                return n

            handle = await x(1).run_now()
            assert handle.id == (await handle).id
            return int(handle.id)

    first = asyncio.run(scenario())
    with Conveyor(store_url) as again:
        assert record_of(again, first).job == "x"


@pytest.mark.parametrize(
    "options",
    [{"lease": 0}, {"lease": -5}, {"lease": float("nan")}, {"timezone": "Mars/Olympus"},
     {"retention": "forever-ish"}, {"retention": -1}],
)
def test_bad_app_options_are_clear_value_errors(
    tmp_path: Path, options: dict[str, object]
) -> None:
    with pytest.raises(ValueError) as caught:
        Conveyor(f"sqlite:///{tmp_path}/x.db", **options).close()  # type: ignore[arg-type]
    assert next(iter(options)) in str(caught.value)


def test_bad_urls_are_refused(tmp_path: Path) -> None:
    for url in ("mysql://localhost/db", "nonsense"):
        with pytest.raises(ValueError) as caught:
            Conveyor(url).close()
        assert "sqlite" in str(caught.value) and "postgresql" in str(caught.value)
    with pytest.raises(ValueError, match="sqlite:///"):
        Conveyor("sqlite://relative-without-slash").close()


def test_ids_slugs_and_the_registry(sqlite_app: Conveyor) -> None:
    app = sqlite_app

    @app.job
    def plain(x):  # type: ignore[no-untyped-def]
        return x

    @app.job("retry-request", name="Retry a request")
    async def retry_request(req):  # type: ignore[no-untyped-def]
        return req

    assert app.jobs["plain"] is app.jobs.plain
    assert app.jobs["retry-request"] is app.jobs.retry_request
    assert "retry-request" in app.jobs
    with pytest.raises(KeyError):
        app.jobs["nope"]
    with pytest.raises(ValueError) as caught:
        @app.job("Retry Request")
        def clash(x):  # type: ignore[no-untyped-def]
            return x
    assert "retry-request" in str(caught.value)
    with pytest.raises(ValueError):
        @app.job("plain")
        def plain_again(x):  # type: ignore[no-untyped-def]
            return x


@pytest.mark.parametrize(
    "options",
    [{"priority": "urgent"}, {"timeout": -1}, {"retention": "soon"}, {"queue": ""},
     {"version": "not a version"}],
)
def test_bad_definition_options_are_refused(
    sqlite_app: Conveyor, options: dict[str, object]
) -> None:
    with pytest.raises(ValueError) as caught:
        @sqlite_app.job("bad", **options)  # type: ignore[call-overload]
        def bad():  # type: ignore[no-untyped-def]
            return None
    assert next(iter(options)) in str(caught.value)


def test_misspelt_trigger_option_and_wrong_arguments(sqlite_app: Conveyor) -> None:
    @sqlite_app.job("two")
    def two(a, b):  # type: ignore[no-untyped-def]
        return a + b

    with pytest.raises(TypeError) as caught:  # as Python refuses an unexpected keyword
        two(1, 2).run_now(priorty="high")  # type: ignore[call-arg]
    assert isinstance(caught.value, ValueError), "and a ConfigurationError, as documented"
    assert "priorty" in str(caught.value) and "priority" in str(caught.value)
    with pytest.raises(TypeError):
        two(1).run_now()
    with pytest.raises(TypeError):
        two(1, 2, c=3).run_now()
    assert sqlite_app.jobs_list() == []


def test_meta_jobs_log_progress_attempt(app: Conveyor) -> None:
    @app.job("child-job")
    def child_job(n):  # type: ignore[no-untyped-def]
        return n * 2

    @app.job("parent")
    def parent(meta):  # type: ignore[no-untyped-def]
        meta.log.info("hello %s", "wörld")
        meta.progress(0.25)
        a = meta.jobs.child_job(1).run_now()
        b = meta.jobs["child-job"](2).run_in(0, "seconds")
        return [meta.attempt, meta.job.id, a.id, b.id]

    handle = parent().run_now()
    run_until_idle(app)
    attempt, own_id, a_id, b_id = handle.result(timeout=30)
    assert (attempt, own_id) == (1, handle.id)
    assert [record_of(app, i).result for i in (a_id, b_id)] == [2, 4]
    record = record_of(app, handle.id)
    assert any("hello wörld" in entry.message for entry in record.logs)
    assert record.progress == 1.0, "a completed run is at 100%"


def test_progress_as_fraction_or_percent(app: Conveyor) -> None:
    from conveyor import Fail

    @app.job("halfway")
    def halfway(value, meta):  # type: ignore[no-untyped-def]
        meta.progress(value, message=f"at {value}")
        raise Fail("stop here")

    fraction, percent = halfway(0.5).run_now(), halfway(50).run_now()
    run_until_idle(app)
    assert record_of(app, fraction.id).progress == record_of(app, percent.id).progress
    assert record_of(app, percent.id).progress in (0.5, 50)
