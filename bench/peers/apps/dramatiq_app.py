"""Dramatiq on Redis (db 2): `dramatiq bench.peers.apps.dramatiq_app -p 1 -t 10`."""

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from bench.peers import work as body

broker = RedisBroker(host=body.HOST, db=2)
dramatiq.set_broker(broker)


@dramatiq.actor
def work(t: float) -> None:
    body.work(t)
