"""Defining jobs: ids, options, the app.jobs registry, slug collisions (SPEC §2)."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from conveyor import (
    ConfigurationError,
    Conveyor,
    JobCall,
    JobDefinition,
    Retry,
    UnknownJobError,
)
from conveyor.testing import inline


@pytest.fixture
def app() -> Iterator[Conveyor]:
    with Conveyor("memory://") as application:
        yield application


def test_bare_decorator_registers_the_function_under_its_name(app: Conveyor) -> None:
    @app.job
    def resize(path: str) -> None:
        """Resize an image."""

    assert isinstance(resize, JobDefinition)
    assert resize.id == "resize" and resize.display_name == "resize"
    assert resize.__doc__ == "Resize an image."
    assert app.jobs["resize"] is resize


def test_decorator_with_an_id_and_every_option(app: Conveyor) -> None:
    @app.job("retry-request", name="Retry request", version="1.2.0",
             retry=Retry(retries=5, wait=60, backoff="exponential"), priority="high",
             timeout=300, retention="7 days", remove_delay="1 hour", queue="exports")
    async def retry_request(request: dict[str, Any]) -> None: ...

    assert retry_request.id == "retry-request"
    assert retry_request.name == "Retry request" and retry_request.version == "1.2.0"
    assert retry_request.is_async
    opts = retry_request.options
    assert opts.retry == Retry(retries=5, wait=60, backoff="exponential")
    assert (opts.priority, opts.queue, opts.timeout) == (10, "exports", 300.0)
    assert (opts.retention, opts.remove_delay) == (7 * 86400.0, 3600.0)


def test_calling_a_job_returns_a_call_with_its_arguments(app: Conveyor) -> None:
    @app.job
    def resize(path: str, *, width: int = 100) -> None: ...

    call = resize("a.png", width=50)
    assert isinstance(call, JobCall)
    assert (call.args, call.kwargs, call.definition) == (("a.png",), {"width": 50}, resize)


def test_the_registry_finds_jobs_by_id_and_by_attribute(app: Conveyor) -> None:
    @app.job("retry-request")
    def first() -> None: ...

    @app.job
    def save_image() -> None: ...

    assert app.jobs["retry-request"] is first
    assert app.jobs.retry_request is first  # the id's slug, written as an attribute
    assert app.jobs.save_image is save_image
    assert "retry-request" in app.jobs and len(app.jobs) == 2
    assert list(app.jobs) == ["retry-request", "save_image"]
    assert app.jobs.definition_by_slug("save-image") is save_image


def test_jobs_named_like_the_registry_methods_are_found_by_attribute(app: Conveyor) -> None:
    """``def add(x, y)`` (Celery's first example), ``def get(url)``...: app.jobs.add is
    the job, and the mapping's methods still work while no job takes their name."""
    assert app.jobs.get("add") is None and list(app.jobs.items()) == []

    @app.job
    def add(x: int, y: int) -> int:
        return x + y

    @app.job
    def get(url: str) -> str:
        return url

    @app.job
    def items() -> list[int]:
        return []

    assert (app.jobs.add, app.jobs.get, app.jobs.items) == (add, get, items)
    assert app.jobs["add"] is add and app.jobs.definition("add") is add
    assert list(app.jobs.values()) == [add, get, items]  # values: no job of that name
    with inline(app):
        assert app.jobs.add(2, 3).run_now().result(timeout=30) == 5
        assert app.jobs.get("https://x").run_now().result(timeout=30) == "https://x"


def test_an_unknown_job_id_lists_the_defined_jobs(app: Conveyor) -> None:
    app.job("alpha")(lambda: None)
    with pytest.raises(UnknownJobError, match="no job 'beta' is defined; defined jobs: alpha"):
        app.jobs["beta"]
    with pytest.raises(AttributeError, match="no job 'beta' is defined"):
        app.jobs.beta  # noqa: B018


def test_an_unknown_job_id_on_an_empty_app_says_none_are_defined(app: Conveyor) -> None:
    with pytest.raises(KeyError, match="defined jobs: none"):
        app.jobs["x"]


@pytest.mark.parametrize(("first", "second"), [
    ("send-email", "Send Email"), ("save_image", "save-image"), ("a/b", "a.b"),
    ("report", "report"), ("café", "cafe"),
])
def test_two_ids_with_one_slug_are_refused_at_definition(
    app: Conveyor, first: str, second: str
) -> None:
    app.job(first)(lambda: None)
    with pytest.raises(ConfigurationError) as info:
        app.job(second)(lambda: None)
    message = str(info.value)
    assert repr(second) in message and repr(first) in message and "unique" in message
    assert list(app.jobs) == [first]


@pytest.mark.parametrize("job_id", ["--/--", ""])
def test_an_id_without_letters_or_digits_is_refused(app: Conveyor, job_id: str) -> None:
    # An empty id is refused too, not replaced by the function's name.
    with pytest.raises(ConfigurationError, match="no letters or digits"):
        app.job(job_id)(lambda: None)


def test_a_non_string_id_is_refused(app: Conveyor) -> None:
    with pytest.raises(ConfigurationError, match="job id must be a str, not int"):
        app.job(42)  # type: ignore[call-overload]


def test_an_unknown_option_is_refused_listing_the_accepted(app: Conveyor) -> None:
    with pytest.raises(ConfigurationError) as info:
        app.job("x", retries=3)(lambda: None)
    assert "unknown job option 'retries'" in str(info.value)
    for name in ("name", "version", "retry", "priority", "timeout", "retention", "queue"):
        assert name in str(info.value)
    assert len(app.jobs) == 0


@pytest.mark.parametrize(("option", "value", "match"), [
    ("version", 1.2, "invalid version 1.2; accepted: a semantic version"),
    ("priority", "urgent", "invalid priority"),
    ("queue", "", "invalid queue"),
    ("queue", "\x1f", r"invalid queue '\\x1f'; accepted: a str that is not blank"),
    ("timeout", -5, "invalid timeout"),
    ("retry", "lots", "retry"),
    ("trigger", "every day", "invalid trigger"),
])
def test_bad_option_values_are_refused(
    app: Conveyor, option: str, value: Any, match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        app.job("x", **{option: value})(lambda: None)


def test_add_worker_registers_a_reaction_style_job(app: Conveyor) -> None:
    def worker(job: Any) -> None: ...

    handle = app.add_worker(type="someUniqueJobType", worker=worker)
    assert handle.kind == "reaction" and handle.type == "someUniqueJobType"
    assert app.jobs["someUniqueJobType"] is handle.definition


def test_include_registers_every_function_of_a_module_like_object(app: Conveyor) -> None:
    def retry_request(data: Any) -> None: ...

    def save_image(data: Any) -> None: ...

    added = app.include(SimpleNamespace(
        jobs={"retryRequest": retry_request, "save-image/local": save_image},
        cleanup=[{"type": "save-image/local", "purge_after_days": 7}],
    ))
    assert [d.id for d in added] == ["retryRequest", "save-image/local"]
    assert app.jobs["retryRequest"].fn is retry_request
    assert app.cleanup == {"save-image/local": 7 * 86400.0}


def test_include_of_an_object_without_jobs_adds_nothing(app: Conveyor) -> None:
    assert app.include(SimpleNamespace()) == []


def test_a_job_named_like_an_injected_parameter_is_not_part_of_its_payload(
    app: Conveyor,
) -> None:
    @app.job
    def with_meta(x: int, meta: Any = None) -> None: ...

    assert with_meta.wants == frozenset({"meta"})
    with pytest.raises(ConfigurationError, match="'meta' is filled in by the worker"):
        with_meta(1, meta="mine")


def test_include_accepts_a_module(app: Conveyor) -> None:
    import types

    plugin = types.ModuleType("reaction_plugin")
    plugin.jobs = {"plugin/job": lambda data: data}  # type: ignore[attr-defined]
    plugin.cleanup = [{"type": "plugin/job", "purge_after_days": 1.5}]  # type: ignore[attr-defined]
    assert [d.id for d in app.include(plugin)] == ["plugin/job"]
    assert app.cleanup["plugin/job"] == 1.5 * 86400
