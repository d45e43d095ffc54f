"""slugify, JobHandle and its waiting helpers (conveyor.jobs)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from conveyor import Conveyor, JobFailed, JobHandle, slugify
from conveyor.jobs import poll_pauses


@pytest.mark.parametrize(("text", "slug"), [
    ("retry-request", "retry-request"),
    ("Retry Request", "retry-request"),
    ("save-image/local", "save-image-local"),
    ("sendEmail", "sendemail"),
    ("  Café  Ünïcode!! ", "cafe-unicode"),
    ("a__b..c", "a-b-c"),
    ("---", ""),
    ("Отчёт за_Май", "отчёт-за-май"),  # no Latin letter or digit: its own letters
    ("日本語 ジョブ", "日本語-ジョブ"),
])
def test_slugify_makes_lowercase_ascii_words_joined_by_dashes(text: str, slug: str) -> None:
    assert slugify(text) == slug


@pytest.fixture
def app() -> Iterator[Conveyor]:
    with Conveyor("memory://") as application:
        application.job("echo")(lambda x=None: x)
        yield application


def test_handles_of_one_job_are_equal_and_hash_alike(app: Conveyor) -> None:
    h = app.jobs["echo"]().run_now()
    same = JobHandle(app, h.id)
    assert h == same and hash(h) == hash(same) and len({h, same}) == 1
    assert h != JobHandle(app, h.id + 1)
    assert repr(h) == f"<JobHandle {h.id}>"


def test_a_handle_gives_its_record_state_and_cancel(app: Conveyor) -> None:
    h = app.jobs["echo"](3).run_now()
    record = h.record()
    assert record is not None and record.args == [3]
    assert h.state == "queued"
    assert h.cancel() is True and h.state == "cancelled"


def test_a_handle_for_a_missing_job(app: Conveyor) -> None:
    h = JobHandle(app, 123456)
    assert h.state is None and h.record() is None
    with pytest.raises(JobFailed, match="no longer exists"):
        h.result(timeout=30)


def test_result_waits_for_a_job_finished_by_another_thread(app: Conveyor) -> None:
    h = app.jobs["echo"]("later").run_now()
    worker = threading.Thread(target=app.run_worker, kwargs={"burst": True})
    worker.start()
    try:
        assert h.result(timeout=10) == "later"
    finally:
        worker.join(10)


def test_result_with_zero_timeout_checks_once(app: Conveyor) -> None:
    h = app.jobs["echo"]().run_now()
    with pytest.raises(TimeoutError, match="state: queued"):
        h.result(timeout=0)


def test_pauses_grow_by_half_up_to_a_tenth_of_a_second() -> None:
    pauses = poll_pauses(60)
    steps = [next(pauses) for _ in range(15)]
    assert steps[:3] == pytest.approx([0.002, 0.003, 0.0045])
    assert steps[-1] == 0.1


def test_pauses_end_with_none_once_the_timeout_passed() -> None:
    assert list(poll_pauses(0)) == [None]


def test_pauses_without_a_timeout_never_end() -> None:
    pauses = poll_pauses(None)
    steps = [next(pauses) for _ in range(50)]
    assert None not in steps and steps[-1] == 0.1
