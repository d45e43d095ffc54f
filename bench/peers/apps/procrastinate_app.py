"""Procrastinate on PostgreSQL (PEERS_PG_URL): `procrastinate --app=
bench.peers.apps.procrastinate_app.app worker --concurrency 10`."""

import os

import procrastinate

from bench.peers import work as body

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=os.environ["PEERS_PG_URL"])
)


@app.task(name="work")
def work(t: float) -> None:
    body.work(t)
