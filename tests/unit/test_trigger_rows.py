"""The rows triggers store: made by a builder kept per job for triggers without options,
which follows the app's and the job's settings as they change and gives each call a row of
its own; every option in the field of its name (the builder passes them positionally)."""

from __future__ import annotations

import dataclasses

import pytest

from conveyor import Conveyor, PayloadError, Retry
from conveyor.serialization import Limits


def test_the_kept_builder_follows_the_settings_it_was_made_of() -> None:
    with Conveyor("memory://") as app:
        echo = app.job("echo", queue="first")(lambda text: text)
        made = app.triggering.new_job
        assert (made(echo("x")).queue, made(echo("x")).retention) == ("first", None)

        app.retention = 60.0
        echo.options = dataclasses.replace(echo.options, queue="second")
        assert (made(echo("x")).queue, made(echo("x")).retention) == ("second", 60.0)

        app.limits = Limits(max_payload=16)
        with pytest.raises(PayloadError):
            made(echo("a payload longer than sixteen bytes"))


def test_each_call_gets_a_row_of_its_own() -> None:
    with Conveyor("memory://") as app:
        echo = app.job("echo")(lambda text: text)
        first, second = app.triggering.new_job(echo("a")), app.triggering.new_job(echo("b"))
        first.depends_on = [1]  # (what a trigger with depends_on= does to its row)
        assert first is not second and not second.depends_on
        assert (first.args, second.args) == ('["a"]', '["b"]')


def test_a_row_built_positionally_has_each_option_in_its_named_field() -> None:
    with Conveyor("memory://") as app:
        shop = app.job("shop", concurrency_key="shop", version="1.2.0")(lambda data: data)
        options = {"priority": "high", "queue": "q", "key": "k", "owner": 7, "unique": True,
                   "retry": Retry(retries=2), "timeout": 9, "retention": 60, "remove_delay": 30}
        row = dataclasses.asdict(app.triggering.new_job(shop({"shop": 3}), None, 5.0, options))
        assert row | {"retry": None} == {
            "job": "shop", "args": '[{"shop":3}]', "kwargs": "{}", "payload": '{"shop":3}',
            "queue": "q", "priority": 10, "run_at": None, "delay": 5.0, "key": "k",
            "owner": "7", "dedupe": "unique", "max_attempts": 3, "retry": None,
            "timeout": 9.0, "retention": 60.0, "remove_delay": 30.0, "version": "1.2.0",
            "schedule_id": None, "fire_at": None, "rescheduled_from": None, "event_id": None,
            "concurrency_key": "3", "trace_context": None, "owner_int": True,
            "depends_on": None, "after": None, "pipe": None, "parent_id": None,
            "parent_seq": None, "child_index": None}
        assert '"retries": 2' in row["retry"]
