"""The README's 30-second example and key snippets of docs/ run as written, in this process,
on a temporary SQLite file. Each is the fenced block right after a ``<!-- readme-test: NAME
-->`` or ``<!-- doc-test: NAME -->`` marker, so the docs and this test cannot drift apart:
an edited example is what runs here, and a lost marker fails the test."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conveyor import Conveyor, Fail, Retry, chain
from conveyor.testing import FakeClock, run_until_idle
from conveyor.testing.conformance.helpers import worker_thread
from tests.support import ROOT, JsonHandler, serving

Namespace = dict[str, Any]


def block(doc: str, name: str) -> str:
    """The python block after ``name``'s marker in ``doc`` (a path under the project)."""
    text = (ROOT / doc).read_text()
    marker = rf"<!-- (?:readme|doc)-test: {re.escape(name)} -->\n```python\n(.*?)```"
    found = re.search(marker, text, re.S)
    assert found, f"{doc} lost its doc-test marker {name!r} (or the python block after it)"
    return found.group(1)


def swap(code: str, old: str, new: str) -> str:
    """``code`` with a placeholder the docs show (a URL) replaced for the test."""
    assert old in code, f"the example no longer contains {old!r}"
    return code.replace(old, new)


def run(code: str, namespace: Namespace) -> Namespace:
    exec(compile(code, "<doc example>", "exec"), namespace)
    return namespace


@pytest.fixture
def namespace() -> Iterator[Namespace]:
    """Globals for the examples; every app they open is closed afterwards."""
    names: Namespace = {"__name__": "doc_example"}
    yield names
    for value in names.values():
        if isinstance(value, Conveyor):
            value.close()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Conveyor]:
    with Conveyor(f"sqlite:///{tmp_path}/docs.db") as opened:
        yield opened


def test_the_30_second_example_prints_what_the_readme_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    namespace: Namespace,
) -> None:
    claim = re.search(r"`python tasks.py` prints `(.*?)`", (ROOT / "README.md").read_text())
    assert claim, "the README no longer says what `python tasks.py` prints"
    code = block("README.md", "tasks.py")
    assert f"# {claim.group(1)}" in code, "the example's comment and the text disagree"
    monkeypatch.setenv("CONVEYOR_URL", f"sqlite:///{tmp_path}/conveyor.db")
    namespace["__name__"] = "__main__"
    run(code, namespace)
    assert capsys.readouterr().out == claim.group(1) + "\n"
    record = namespace["handle"].record()
    assert [line.message for line in record.logs] == ["resizing cat.png"]
    assert record.progress_message == "half way"


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[str]]]:
    """A local stand-in for the durable example's API: its URL and the auth headers seen."""
    seen: list[str] = []

    class Echo(JsonHandler):
        def do_POST(self) -> None:
            seen.append(self.headers["Authorization"])
            body = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_json(200, {"received": json.loads(body)})

    monkeypatch.setenv("API_TOKEN", "doc-example-secret")
    with serving(Echo) as address:
        yield f"http://{address}/x", seen


def durable_example(tmp_path: Path, url: str, namespace: Namespace) -> Conveyor:
    code = block("docs/durable.md", "durable")
    code = swap(code, '"sqlite:///jobs.db"', f'"sqlite:///{tmp_path}/jobs.db"')
    app: Conveyor = run(swap(code, "https://api.example.com/x", url), namespace)["app"]
    return app


def test_the_durable_example_waits_three_days_then_calls_the_api(
    tmp_path: Path, api: tuple[str, list[str]], namespace: Namespace
) -> None:
    url, seen = api
    app = durable_example(tmp_path, url, namespace)
    clock = FakeClock(app)
    run_until_idle(app)
    [started] = app.jobs_list(job="send-welcome")
    assert (started.state, started.event_id) == ("waiting", "signup-7")
    clock.advance(3, "days")
    run_until_idle(app)
    assert app.get_job(started.id).result == {"sent": True, "status": 200}
    steps = app.steps(started.id)
    assert [s.kind for s in steps] == ["task", "wait", "log", "fetch", "send_event"]
    assert seen == ["Bearer doc-example-secret"]
    assert steps[3].input["headers"] == {"Authorization": "[redacted]"}
    sent = app.get_event(f"run-{started.id}-welcome-sent")
    assert sent is not None and sent.payload == {"id": 7}


def test_the_events_example_delivers_now_and_later(
    tmp_path: Path, api: tuple[str, list[str]], namespace: Namespace
) -> None:
    app = durable_example(tmp_path, api[0], namespace)
    run(block("docs/durable.md", "events"), namespace)
    assert len(app.jobs_list(job="send-welcome")) == 2  # both user.created events
    later = app.get_event("inv-3")
    assert later is not None and later.delivered_at is None


def test_the_schedules_example_fires_when_its_comments_say(
    tmp_path: Path, namespace: Namespace
) -> None:
    code = swap(block("docs/schedules.md", "schedules"), '"sqlite:///jobs.db"',
                f'"sqlite:///{tmp_path}/jobs.db"')
    app: Conveyor = run(code, namespace)["app"]
    app.sync_schedules()
    schedules = {s.id: s for s in app.schedules()}
    nightly = schedules["nightly_export"].next_local[0]
    assert (nightly.hour, nightly.minute, str(nightly.tzinfo)) == (3, 0, "Europe/Paris")
    assert schedules["poll_feeds"].next[0].minute % 15 == 0
    morning = schedules["morning_report"].next_local[0]
    assert (morning.hour, morning.minute, morning.weekday() < 5) == (9, 30, True)


def your_code(app: Conveyor) -> Namespace:
    """The project code docs/testing.md's tests are written against."""

    @app.job
    def send_email(message: dict[str, str]) -> str:
        return f"sent to {message['to']}"

    def signup(app: Conveyor, email: str) -> None:
        send_email({"to": email, "template": "welcome"}).run_now()

    @app.job
    def send_receipt(order_id: int) -> None:
        pass

    @app.job
    def checkout(order_id: int, meta: Any) -> dict[str, bool]:
        meta.jobs.send_receipt(order_id=order_id).run_now()
        return {"charged": True}

    @app.job
    def build_report(month: str) -> str:
        return f"report {month}"

    @app.job(retry=Retry(retries=1, wait="1 hour"))
    def flaky_call(meta: Any) -> str:
        if meta.attempt == 1:
            raise ConnectionError("the service is down")
        return "called"

    return {"signup": signup, "send_email": send_email, "send_receipt": send_receipt,
            "checkout": checkout, "build_report": build_report, "flaky_call": flaky_call}


@pytest.mark.parametrize("name", ["enqueued", "inline", "run_until_idle", "fakeclock",
                                  "retry-clock"])
def test_the_testing_guide_tests_pass(name: str, app: Conveyor, namespace: Namespace) -> None:
    namespace.update(your_code(app))
    run(block("docs/testing.md", "testing-imports"), namespace)
    before = set(namespace)
    run(block("docs/testing.md", name), namespace)
    [test] = [value for key, value in namespace.items()
              if key.startswith("test_") and key not in before]
    test(app)
    if name == "retry-clock":
        [call] = app.jobs_list(job="flaky_call")
        assert (call.state, call.attempts) == ("completed", 2)


def test_retrying_a_failed_chain_member_carries_the_chain_on(
    app: Conveyor, namespace: Namespace
) -> None:
    fetched: list[str] = []

    @app.job
    def fetch(url: str) -> str:
        fetched.append(url)
        if len(fetched) == 1:
            raise Fail("the site is down")
        return "<html>"

    @app.job
    def parse(html: str) -> int:
        return len(html)

    @app.job
    def store(size: int) -> dict[str, int]:
        return {"stored": size}

    namespace.update(fetch=fetch, parse=parse, store=store, url="https://example.com",
                     app=app, chain=chain)
    # The example's comment line stands for the worker that ran the chain once.
    failed, retried = block("docs/workflows.md", "chain-retry").split("\n# fetch failed", 1)
    run(failed, namespace)
    app.run_worker(burst=True)

    def states() -> list[str]:
        return [app.get_job(i).state for i in namespace["h"].ids]
    assert states() == ["failed", "cancelled", "cancelled"]
    with worker_thread(app):
        run(retried.split("\n", 1)[1], namespace)
    assert states() == ["completed"] * 3
    assert namespace["h"].result() == {"stored": 6}


def test_the_flow_control_examples_hold_and_pause_what_they_say(
    app: Conveyor, namespace: Namespace
) -> None:
    namespace["app"] = app
    for name in ("concurrency", "queue", "concurrency-key", "rate"):
        run(block("docs/flow-control.md", name), namespace)
    shop = namespace["sync_shop"]({"shop_id": 7, "order": 1}).run_now()
    assert shop.record().concurrency_key == "7"
    namespace["send_sms"]("+100", "hi").run_now()
    run(block("docs/flow-control.md", "pause"), namespace)
    assert app.paused_jobs() == ["send_sms"]  # as the example's comment says
    [exports] = [q for q in app.queues() if q.name == "exports"]
    assert (exports.concurrency, exports.rate, exports.paused) == (2, "10/second", False)
    app.run_worker(burst=True)
    assert shop.state == "completed"
    assert app.count(job="send_sms", state="queued") == 1  # paused: not claimed
