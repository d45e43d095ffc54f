"""``GET /metrics`` on the dashboard (Prometheus text format)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response


async def metrics(request: Request) -> Response:
    """Prometheus text format: attempt counters and histograms, jobs by state and queue,
    workers alive."""
    from conveyor.observe import metrics as prom

    if not prom.available():
        return PlainTextResponse(
            "metrics need prometheus_client: pip install 'conveyor[metrics]'", 501
        )
    body = await run_in_threadpool(prom.render, request.app.state.dashboard.app)
    return Response(body, media_type=prom.CONTENT_TYPE)
