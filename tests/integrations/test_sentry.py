"""The Sentry recipe: failed jobs reach Sentry (through a fake transport) once each."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import Conveyor, Retry

sentry_sdk = pytest.importorskip("sentry_sdk")
from sentry_sdk.transport import Transport  # noqa: E402


class FakeTransport(Transport):
    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Any) -> None:
        for item in envelope.items:
            if item.type == "event":
                self.events.append(item.payload.json)


@pytest.fixture
def sent() -> Any:
    transport = FakeTransport()
    sentry_sdk.init(dsn="https://public@sentry.example.org/1", transport=transport,
                    default_integrations=False)
    yield transport.events
    sentry_sdk.init()  # no DSN: reporting off again


def test_failed_jobs_are_reported_once_with_their_exception(sent: list[Any]) -> None:
    from conveyor.contrib.sentry import install

    app = Conveyor("memory://")
    install(app)

    @app.job(retry=Retry(retries=1, wait=0), queue="billing")
    def charge(order: int) -> None:
        raise ValueError(f"card declined for order {order}")

    @app.job
    def fine() -> str:
        return "ok"

    h = charge(7).run_now()
    fine().run_now()
    app.run_worker(burst=True)
    sentry_sdk.flush()
    assert len(sent) == 1
    event = sent[0]
    [exc] = event["exception"]["values"]
    assert exc["type"] == "ValueError" and exc["value"] == "card declined for order 7"
    assert event["tags"]["conveyor.job"] == "charge"
    assert event["tags"]["conveyor.queue"] == "billing"
    assert event["contexts"]["conveyor"]["run_id"] == h.id
    assert event["contexts"]["conveyor"]["attempts"] == 2
    app.close()


def test_retrying_attempts_can_be_reported_too(sent: list[Any]) -> None:
    from conveyor.contrib.sentry import install

    app = Conveyor("memory://")
    install(app, retries=True)

    @app.job(retry=Retry(retries=2, wait=0))
    def flaky() -> None:
        raise RuntimeError("down")

    flaky().run_now()
    app.run_worker(burst=True)
    sentry_sdk.flush()
    assert len(sent) == 3
    app.close()
