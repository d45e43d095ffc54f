"""Huey on Redis (db 1): `huey_consumer bench.peers.apps.huey_app.huey -w 10 -k thread`."""

from huey import RedisHuey

from bench.peers import work as body

huey = RedisHuey("peers", host=body.HOST, db=1)


@huey.task()
def work(t: float) -> None:
    body.work(t)
