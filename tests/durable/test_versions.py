"""Versions of a durable job on every store: a run finishes on the version it started on when
that version is kept, fails with a clear message when it is not, and a run not yet started
runs on the current one."""

from __future__ import annotations

from typing import Any

from conveyor import Conveyor, JobHandle
from tests.durable.helpers import (
    NAP,
    clocked_app,  # noqa: F401 (the app fixture)
    finish,
    settle,
)


def upgrade_v1_waiting(app: Conveyor) -> tuple[Any, JobHandle]:
    """Job "upgrade" on version 1.0.0 and a run of it asleep after its first step."""

    @app.job("upgrade", version="1.0.0")
    async def v1(payload: Any, io: Any) -> str:
        await io.task("a", lambda: 1)
        await io.wait("nap", NAP, "seconds")
        return "v1"

    handle = v1(None).run_now()
    assert settle(app, handle).state == "waiting"
    return v1, handle



def test_a_run_started_on_an_unregistered_version_fails_with_a_clear_message(
    app: Conveyor,
) -> None:
    v1, handle = upgrade_v1_waiting(app)
    v1.version = "2.0.0"  # a deploy of new code, without the old version kept
    record = finish(app, handle)
    assert record.state == "failed"
    assert record.error is not None
    assert "started on version '1.0.0'" in record.error["message"]
    assert "@app.job_version('upgrade', '1.0.0')" in record.error["message"]



def test_a_kept_version_finishes_the_runs_that_started_on_it(app: Conveyor) -> None:
    v1, old_run = upgrade_v1_waiting(app)

    @app.job_version("upgrade", "1.0.0")
    async def kept(payload: Any, io: Any) -> str:
        await io.task("a", lambda: 1)
        await io.wait("nap", NAP, "seconds")
        return "v1 (kept)"

    async def v2(payload: Any, io: Any) -> str:
        await io.task("b", lambda: 2)
        return "v2"

    v1.fn, v1.version = v2, "2.0.0"
    new_run = v1(None).run_now()
    old, new = finish(app, old_run), finish(app, new_run)
    assert (old.state, old.result, old.version) == ("completed", "v1 (kept)", "1.0.0")
    assert (new.state, new.result, new.version) == ("completed", "v2", "2.0.0")



def test_a_kept_version_with_io_first_gets_the_runs_arguments(app: Conveyor) -> None:
    v1, old_run = upgrade_v1_waiting(app)

    @app.job_version("upgrade", "1.0.0")
    async def kept(io: Any, payload: Any) -> str:  # its parameters in another order
        await io.task("a", lambda: 1)
        await io.wait("nap", NAP, "seconds")
        return f"v1 (kept) {payload!r}"

    v1.version = "2.0.0"
    old = finish(app, old_run)
    assert (old.state, old.result) == ("completed", "v1 (kept) None")



def test_a_run_that_has_not_started_runs_on_the_current_version(app: Conveyor) -> None:
    @app.job("fresh", version="1.0.0")
    async def v1(payload: Any, io: Any) -> str:
        return "v1"

    handle = v1(None).run_now()

    async def v2(payload: Any, io: Any) -> str:
        return "v2"

    v1.fn, v1.version = v2, "2.0.0"
    record = finish(app, handle)
    assert (record.state, record.result, record.version) == ("completed", "v2", "2.0.0")
