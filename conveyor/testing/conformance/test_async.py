"""Awaited triggers and async queries (SPEC §3): ``await job(x).run_now()`` gives the
handle of a committed job, many at once, and fails exactly as the plain call does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from conveyor import ArgumentsError, Conveyor, JobHandle, PayloadError

from .helpers import NewApp

N = 200


@pytest.fixture
def echo(app: Conveyor) -> object:
    @app.job
    async def echo(value: object = None) -> object:
        return value

    return echo


async def test_concurrent_awaited_triggers_each_return_once_committed(app: Conveyor,
                                                                      echo) -> None:
    seen: list[tuple[int, bool]] = []

    async def trigger(i: int) -> JobHandle:
        handle: JobHandle = await echo({"i": i}).run_now(priority=i % 3)
        seen.append((handle.id, app.get_job(handle.id) is not None))  # read elsewhere
        return handle

    handles = await asyncio.gather(*(trigger(i) for i in range(N)))
    assert all(type(h) is JobHandle for h in handles)
    assert len({h.id for h in handles}) == N
    assert all(visible for _, visible in seen) and len(seen) == N
    records = {r.id: r for r in app.jobs_list(limit=N + 1)}
    assert [records[h.id].payload for h in handles] == [{"i": i} for i in range(N)]
    assert [records[h.id].priority for h in handles] == [i % 3 for i in range(N)]
    await app.run_worker_async(burst=True)
    assert await handles[7].wait(timeout=5) == {"i": 7}


def _outcome(fn: Callable[[], Any]) -> Any:
    try:
        return ("stored", fn())
    except Exception as exc:
        return (type(exc), str(exc))


async def _awaited(make: Callable[[], Any]) -> Any:
    try:
        return ("stored", await make())
    except Exception as exc:
        return (type(exc), str(exc))


@pytest.mark.parametrize("value", [object(), {1, 2}, float("nan"), "nul \x00 inside",
                                   {"deep": [[[[1]]]]}])
async def test_an_awaited_trigger_fails_as_the_plain_call_does(app: Conveyor, echo,
                                                               value: object) -> None:
    plain = _outcome(lambda: echo(value).run_now())
    awaited = await _awaited(lambda: echo(value).run_now())
    if plain[0] == "stored":
        assert awaited[0] == "stored", awaited
        assert app.get_job(awaited[1].id).args == app.get_job(plain[1].id).args  # type: ignore[union-attr]
    else:
        assert awaited == plain
        assert issubclass(plain[0], PayloadError | ValueError), plain
    # A bad trigger among good ones fails alone.
    async def trigger(v: object) -> JobHandle:
        handle: JobHandle = await echo(v).run_now()
        return handle

    results = await asyncio.gather(trigger(1), trigger(value), trigger(3),
                                   return_exceptions=True)
    assert all(isinstance(r, JobHandle) for r in (results[0], results[2]))
    assert isinstance(results[1], JobHandle if plain[0] == "stored" else plain[0])


async def test_awaited_triggers_refuse_bad_arguments_as_plain_calls_do(app: Conveyor,
                                                                       echo) -> None:
    with pytest.raises(ArgumentsError) as plain:
        echo(1, 2).run_now()
    with pytest.raises(ArgumentsError) as awaited:
        await echo(1, 2).run_now()
    assert str(awaited.value) == str(plain.value)
    with pytest.raises(ValueError, match="unknown time unit") as bad_unit:
        await echo(1).run_in(1, "fortnights")
    assert "millisecond" in str(bad_unit.value)
    assert app.count() == 0


async def test_concurrent_unique_awaited_triggers_store_one_job_per_key(app: Conveyor,
                                                                        echo) -> None:
    first = echo("sync").run_now(key="k0", unique=True)
    async def trigger(i: int) -> JobHandle:
        handle: JobHandle = await echo(i).run_now(key=f"k{i % 5}", unique=True)
        return handle

    handles = await asyncio.gather(*(trigger(i) for i in range(50)))
    by_key: dict[str, set[int]] = {}
    for i, handle in enumerate(handles):
        by_key.setdefault(f"k{i % 5}", set()).add(handle.id)
    assert all(len(ids) == 1 for ids in by_key.values())
    assert by_key["k0"] == {first.id}
    assert app.count() == 5
    replaced = await echo("new").run_now(key="k0", replace=True)
    assert replaced.id != first.id and first.state == "cancelled"
    assert echo("again").run_now(key="k0", unique=True).id == replaced.id


async def test_awaited_triggers_on_a_closed_app_fail_as_plain_calls_do(new_app: NewApp) -> None:
    app = new_app()

    @app.job
    async def noop() -> None: ...

    await noop().run_now()  # the async face (if any) is open now
    app.close()
    plain = _outcome(lambda: noop().run_now())
    awaited = await _awaited(lambda: noop().run_now())
    assert awaited[0] == plain[0], (plain, awaited)  # refused alike (or stored alike)
