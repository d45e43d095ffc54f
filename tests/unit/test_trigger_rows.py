"""The rows of triggers without options are made by a builder kept per job: it follows
the app's and the job's settings as they change, and gives each call a row of its own."""

from __future__ import annotations

import dataclasses

import pytest

from conveyor import Conveyor, PayloadError
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
