"""The demo app that ``make run`` serves: a few lively jobs and a traffic generator.

Run it by hand::

    python examples/demo.py                        # seed: store demo work (and the traffic job)
    conveyor worker examples/demo.py               # run the jobs
    conveyor dashboard examples/demo.py            # watch them at http://127.0.0.1:8750

The store is ``$CONVEYOR_URL``, else ``sqlite:///conveyor-demo.db`` in the current folder.
To add a job, define it below and give ``traffic`` a line that triggers it.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from typing import Any

from conveyor import Conveyor, Fail, Retry

app = Conveyor(os.environ.get("CONVEYOR_URL", "sqlite:///conveyor-demo.db"), retention="1 day")

FILES = ["cat.png", "harbour.jpg", "invoice-2024.pdf", "team-photo.png", "logo.svg"]
SYMBOLS = ["ACME", "GLOBEX", "INITECH", "UMBRELLA"]


# -- jobs ----------------------------------------------------------------------------
@app.job(version="1.1.0")
def resize(path: str, meta) -> dict[str, Any]:
    """Pretend to resize an image in a few steps, reporting progress and log lines."""
    sizes = [1600, 800, 400, 128]
    for done, width in enumerate(sizes, start=1):
        time.sleep(random.uniform(0.2, 0.6))
        meta.log.info("%s: wrote %dpx wide copy", path, width)
        meta.progress(done / len(sizes), f"{width}px")
    return {"path": path, "sizes": sizes}


@app.job(retry=Retry(retries=4, wait=1, backoff="exponential", max_wait=10), priority="high")
def charge_card(order: dict[str, Any], meta) -> str:
    """Fails about half the time; retried after 1, 2, 4, 8 seconds."""
    meta.log.info("charging order %s (attempt %d)", order["id"], meta.attempt)
    if order.get("amount", 0) > 900:
        raise Fail(f"order {order['id']}: amount {order['amount']} needs manual review")
    if random.random() < 0.5:
        raise ConnectionError("payment gateway timed out")
    return f"charged {order['amount']} for order {order['id']}"


@app.job(queue="reports", timeout=60)
def monthly_report(month: str, meta) -> dict[str, Any]:
    """A slow job: about 8 seconds of work in steps."""
    steps = 8
    for step in range(1, steps + 1):
        time.sleep(1)
        meta.progress(step / steps, f"section {step} of {steps}")
    meta.log.info("report for %s ready", month)
    return {"month": month, "pages": random.randint(3, 40)}


@app.job(priority="low")
async def fetch_price(symbol: str) -> float:
    """An async job: runs on the worker's event loop."""
    await asyncio.sleep(random.uniform(0.1, 0.5))
    return round(random.uniform(10, 500), 2)


@app.job
def process_upload(upload: dict[str, Any], meta) -> str:
    """Triggers other jobs through ``meta.jobs``."""
    for path in upload["files"]:
        meta.jobs.resize(path).run_now()
    meta.jobs.fetch_price(random.choice(SYMBOLS)).run_in(2, "seconds")
    meta.log.info("upload %s: queued %d resizes", upload["id"], len(upload["files"]))
    return f"{len(upload['files'])} files"


@app.job(trigger=app.every("30 seconds"))
def heartbeat_check() -> str:
    """A recurring job: runs at :00 and :30 of every minute (see `conveyor schedules`)."""
    return f"all {random.randint(3, 5)} services answered"


# -- live activity ---------------------------------------------------------------------
@app.job
def traffic(meta) -> int:
    """Stores a little demo work, then triggers itself again in a few seconds."""
    n = random.randint(1, 10_000)
    work = [resize(random.choice(FILES)), fetch_price(random.choice(SYMBOLS))]
    if random.random() < 0.6:
        work.append(charge_card({"id": n, "amount": random.choice([20, 45, 120, 999])}))
    if random.random() < 0.3:
        work.append(process_upload({"id": n, "files": random.sample(FILES, 2)}))
    if random.random() < 0.1:
        work.append(monthly_report(time.strftime("%Y-%m")))
    app.enqueue_many(work)
    meta.jobs.traffic().run_in(3, "seconds", key="demo", unique=True)
    return len(work)


def seed() -> None:
    """Store a first batch of work and start the traffic generator (once)."""
    app.enqueue_many([resize(path) for path in FILES[:3]])
    charge_card({"id": 1, "amount": 45}).run_now()
    monthly_report(time.strftime("%Y-%m")).run_in(5, "seconds")
    traffic().run_now(key="demo", unique=True)


if __name__ == "__main__":
    seed()
    print(f"seeded demo jobs in {app.url}")
