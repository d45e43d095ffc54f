"""Fixtures for dashboard tests: a demo app on a real store and HTTP clients for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient

from conveyor import Conveyor
from conveyor.dashboard import create_app

from .helpers import BASE, define_demo_jobs


@pytest.fixture
def demo(store_url: str) -> Iterator[Conveyor]:
    """A Conveyor with the demo jobs, on each kind of store."""
    application = Conveyor(store_url, lease=2)
    define_demo_jobs(application)
    yield application
    application.close()


@pytest.fixture
def sqlite_demo(tmp_path: Any) -> Iterator[Conveyor]:
    """A Conveyor with the demo jobs on a SQLite file (for tests that need one store)."""
    application = Conveyor(f"sqlite:///{tmp_path}/dash.db", lease=2)
    define_demo_jobs(application)
    yield application
    application.close()


ClientFactory = Callable[..., TestClient]


@pytest.fixture
def make_client() -> Iterator[ClientFactory]:
    clients: list[TestClient] = []

    def make(app: Conveyor, token: str | None = None, **kwargs: Any) -> TestClient:
        client = TestClient(create_app(app, token=token), base_url=BASE, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
