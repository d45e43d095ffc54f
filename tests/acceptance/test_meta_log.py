"""SPEC §2 — ``meta.log`` is a logger whose lines are stored with the run: the methods of
Python's ``logging.Logger`` a job may call all work (none fails the job)."""

from __future__ import annotations

import logging
from typing import Any

from conveyor import Conveyor
from conveyor.testing import run_until_idle


def test_every_logger_method_stores_its_line_at_its_level(app: Conveyor) -> None:
    @app.job
    def chatty(meta: object) -> None:
        log = meta.log  # type: ignore[attr-defined]
        log.debug("d %s", 1)
        log.info("i")
        log.warning("w")
        log.warn("w2")
        log.error("e %d%%", 5)
        log.critical("c")
        log.fatal("f")
        log.log(logging.INFO, "by number")
        log.log(logging.ERROR + 5, "between levels")
        log.log("warning", "by name")

    handle = chatty().run_now()
    run_until_idle(app)
    record = app.get_job(handle.id)
    assert record is not None and record.state == "completed"
    assert [(line.level, line.message) for line in record.logs] == [
        ("debug", "d 1"), ("info", "i"), ("warning", "w"), ("warning", "w2"),
        ("error", "e 5%"), ("critical", "c"), ("critical", "f"), ("info", "by number"),
        ("error", "between levels"), ("warning", "by name"),
    ]


def test_exception_stores_the_traceback_being_handled(app: Conveyor) -> None:
    @app.job
    def careful(meta: object) -> str:
        try:
            {}["missing"]
        except KeyError:
            meta.log.exception("lookup failed for %s", "missing")  # type: ignore[attr-defined]
        return "went on"

    handle = careful().run_now()
    run_until_idle(app)
    assert handle.result(timeout=30) == "went on"
    [line] = app.get_job(handle.id).logs  # type: ignore[union-attr]
    assert line.level == "error"
    assert line.message.startswith("lookup failed for missing\nTraceback")
    assert "KeyError: 'missing'" in line.message


def test_an_async_job_may_await_its_progress_report(app: Conveyor) -> None:
    """meta.progress stores with the next batch; awaiting it (natural in async code) works."""

    @app.job
    async def halfway(meta: Any) -> str:
        assert meta.progress(0.25) is not None  # not awaited: fine as well
        await meta.progress(50, "half way")
        return "done"

    handle = halfway().run_now()
    run_until_idle(app)
    record = app.get_job(handle.id)
    assert record is not None and record.state == "completed", record
    assert (record.progress, record.progress_message) == (1.0, "half way")  # completed
