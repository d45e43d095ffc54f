"""conveyor (SQLite or PostgreSQL from CONVEYOR_URL): `conveyor worker
bench.peers.apps.conveyor_app:app` with default flags (concurrency 10)."""

import os

from bench.peers import work as body
from conveyor import Conveyor

app = Conveyor(os.environ["CONVEYOR_URL"])


@app.job
def work(t: float) -> None:
    body.work(t)
