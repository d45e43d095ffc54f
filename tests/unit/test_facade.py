"""Conveyor is a facade: each public method delegates to a service with the same
signature and docstring (the services carry the logic, the facade the public names)."""

from __future__ import annotations

import inspect

import pytest

from conveyor import Conveyor
from conveyor.delegate import delegate
from conveyor.events import Events
from conveyor.flow import FlowControl
from conveyor.queries import Queries
from conveyor.schedules.api import Scheduling

DELEGATED = {
    Queries: ["get_job", "jobs_list", "count", "counts", "cancel_jobs", "cancel", "retry",
              "purge"],
    FlowControl: ["queue", "pause", "resume", "paused_jobs", "queues", "paused_counts",
                  "declared_limits", "hold"],
    Scheduling: ["cron", "every", "schedule", "schedule_job", "schedule_cron_job",
                 "sync_schedules", "schedules", "get_schedule", "pause_schedule",
                 "resume_schedule", "remove_schedule"],
    Events: ["event", "send_event", "get_event", "events_list"],
}


@pytest.mark.parametrize(("service", "name"), [
    (service, name) for service, names in DELEGATED.items() for name in names
])
def test_the_facade_method_matches_its_service(service: type, name: str) -> None:
    facade, behind = getattr(Conveyor, name), getattr(service, name)
    assert inspect.signature(facade) == inspect.signature(behind), name
    assert inspect.getdoc(facade) == inspect.getdoc(behind), name


def test_the_facade_inherits_nothing() -> None:
    assert Conveyor.__bases__ == (object,)


def test_a_delegated_method_calls_the_service_the_app_holds_now() -> None:
    app = Conveyor("memory://")
    calls: list[tuple[str, str | None]] = []

    class Spy:
        def get_schedule(self, schedule_id: str) -> None:
            calls.append(("get_schedule", schedule_id))

    app.scheduling = Spy()  # type: ignore[assignment]
    assert app.get_schedule("nightly") is None
    assert calls == [("get_schedule", "nightly")]
    app.close()


def test_a_delegate_named_for_another_method_is_refused() -> None:
    with pytest.raises((TypeError, RuntimeError)) as caught:  # 3.11 wraps it in RuntimeError
        class Wrong:
            pause = delegate("flow", FlowControl.resume)
    error = caught.value.__cause__ or caught.value
    assert str(error) == "Wrong.pause delegates to a method named 'resume'"
