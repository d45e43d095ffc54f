"""A FastAPI app that triggers conveyor jobs, runs a worker in its lifespan and mounts
the dashboard at /jobs.

    CONVEYOR_URL=sqlite:///shop.db uvicorn examples.fastapi_app.main:api
    curl -X POST localhost:8000/orders/7   # then open http://localhost:8000/jobs/
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from conveyor import Conveyor

app = Conveyor(os.environ.get("CONVEYOR_URL", "sqlite:///shop.db"))


@app.job(retry={"retries": 3, "wait": 5, "backoff": "exponential"})
async def send_receipt(order_id: int) -> str:
    return f"receipt for order {order_id} sent"


@app.on("failed")
def alert(record, error=None):  # type: ignore[no-untyped-def]
    print(f"job {record.id} ({record.job}) failed: {error}")


api = FastAPI(lifespan=app.lifespan(concurrency=4))
api.mount("/jobs", app.asgi(token=os.environ.get("CONVEYOR_TOKEN")))


@api.post("/orders/{order_id}")
async def place_order(order_id: int) -> dict[str, int]:
    handle = await send_receipt(order_id).run_now()  # stored before the response
    return {"job": handle.id}


@api.get("/orders/{order_id}/receipt")
async def receipt(order_id: int, job: int) -> dict[str, object]:
    record = app.get_job(job)
    return {"state": record.state if record else None, "result": record and record.result}
