"""The typed options (TypedDicts mypy checks user calls against) name exactly what the
run-time checks accept."""

from __future__ import annotations

import pytest

from conveyor import ConfigurationError, Conveyor
from conveyor.definitions import JOB_OPTIONS, JobDefinitionOptions
from conveyor.options import OPTION_NAMES, CallOptions, ScheduleJobOptions, TriggerOptions


def test_trigger_options_are_the_accepted_names() -> None:
    assert set(TriggerOptions.__optional_keys__) == set(OPTION_NAMES)
    assert set(CallOptions.__optional_keys__) == {*OPTION_NAMES, "connection", "depends_on"}
    assert set(JobDefinitionOptions.__optional_keys__) == set(JOB_OPTIONS)
    # schedule_job names retry, priority, owner and key as parameters of its own
    assert set(ScheduleJobOptions.__optional_keys__) >= set(OPTION_NAMES) - {
        "retry", "priority", "owner", "key"}


def test_a_misspelt_option_is_refused_at_run_time_with_what_is_accepted() -> None:
    with Conveyor("memory://") as app:
        job = app.job("echo")(lambda: None)
        with pytest.raises(ConfigurationError, match=r"unknown trigger option 'priorty'; "
                                                     r"accepted: priority, queue"):
            job().run_now(priorty="high")  # type: ignore[call-arg]
        with pytest.raises(ConfigurationError, match=r"unknown job option 'retries'"):
            app.job("other", retries=3)(lambda: None)  # type: ignore[call-overload]
