"""Celery on Redis (db 5): `celery -A bench.peers.apps.celery_app worker -c 10` (the
default prefork pool; no result backend)."""

from celery import Celery

from bench.peers import work as body

app = Celery("peers", broker=f"redis://{body.HOST}:6379/5")


@app.task
def work(t: float) -> None:
    body.work(t)
