"""Bad input is refused at trigger time with one clear error (every store)."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import ArgumentsError, ConfigurationError, Conveyor
from conveyor.errors import StoreError

from .helpers import NewApp


def test_wrong_arguments_are_refused_when_triggered(app: Conveyor) -> None:
    @app.job
    def resize(path: str, width: int = 100, meta: object = None) -> None: ...

    with pytest.raises(ArgumentsError, match=r"job 'resize' cannot be called .*'path'.*"
                       r"it takes \(path: .*, width: .* = 100\)"):
        resize().run_now()  # resize() alone is valid: a chain hands it the path
    with pytest.raises(ArgumentsError, match="unexpected keyword argument 'height'"):
        resize("a.png", height=3)
    assert app.count() == 0


def test_arguments_error_is_a_type_error(app: Conveyor) -> None:
    @app.job
    def one(a: int) -> None: ...

    with pytest.raises(TypeError):
        one(1, 2)


def test_text_search_treats_percent_and_underscore_literally(app: Conveyor) -> None:
    @app.job
    def note(text: str) -> None: ...

    for text in ("100%", "1000", "a_b", "axb"):
        note(text).run_now()
    assert app.count(text="100%") == 1
    assert app.count(text="a_b") == 1
    assert app.count(text="0") == 2


def test_blank_store_url_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="invalid store URL ''; accepted: sqlite:///"):
        Conveyor("")


def test_a_closed_app_refuses_triggers_reads_and_workers(new_app: NewApp) -> None:
    app = new_app()

    @app.job
    def work(n: int) -> int:
        return n

    handle = work(0).run_now()
    app.close()
    calls: list[Any] = [
        lambda: work(1).run_now(), lambda: work(2).run_in(1, "hour"),
        lambda: app.enqueue_many([work(3)]), lambda: app.send_event("closed.app", {}),
        lambda: app.schedule_job(type="work", data=4, schedule="every day"),
        lambda: app.get_job(handle.id), lambda: app.count(), lambda: app.cancel_jobs(),
        lambda: app.run_worker(burst=True),
    ]
    for call in calls:
        with pytest.raises(StoreError, match="store is closed"):
            call()
