"""The JSON HTTP API under ``/api/`` (described by ``/api/openapi.json``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conveyor.dashboard import actions
from conveyor.dashboard.actions import MISSING, BadInput
from conveyor.dashboard.context import MOUNTED_AT, Dashboard
from conveyor.dashboard.openapi import openapi_document
from conveyor.dashboard.security import json_error
from conveyor.queries.arguments import decimal_int
from conveyor.redaction import redact
from conveyor.stores.base import STATES

Handler = Callable[[Request], Awaitable[Response]]


def api_endpoint(fn: Callable[[Dashboard, Request], Awaitable[Any]], status: int = 200) -> Handler:
    """Wrap ``fn`` so BadInput and bad bodies become JSON errors with a message."""

    async def handler(request: Request) -> Response:
        dash: Dashboard = request.app.state.dashboard
        try:
            result = await fn(dash, request)
        except BadInput as exc:
            return json_error(exc.status, exc.message)
        return SafeJSONResponse(result, status_code=status)

    return handler


async def _body(request: Request, sanitised: Collection[str] = ()) -> dict[str, Any]:
    """The JSON object in the body ({} when empty); its size is capped by the guard.
    ``sanitised``: fields whose text is made storable where it is stored, not refused."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if not raw.strip():
        return {}
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise BadInput("send the body as JSON with 'Content-Type: application/json'", 415)
    data = actions.load_json(raw, "body", sanitised=sanitised)
    if not isinstance(data, dict):
        raise BadInput("body must be a JSON object")
    return data


class SafeJSONResponse(JSONResponse):
    """JSON that always renders: stored text with lone surrogates, non-finite numbers or
    deep nesting is shown made safe (by :func:`conveyor.redaction.redact`) instead."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except (ValueError, UnicodeEncodeError, RecursionError):
            return super().render(_finite(redact(content)))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), -float("inf"))):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _int_param(request: Request, name: str, default: int | None, lo: int, hi: int) -> int | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    value = decimal_int(text)
    if value is None:
        raise BadInput(f"{name} must be an integer, not {text[:40]!r}")
    if not lo <= value <= hi:
        raise BadInput(f"{name} must be between {lo} and {hi}")
    return value


def runs_query(request: Request) -> dict[str, Any]:
    """The runs filter from query parameters (shared with the runs page)."""
    q = request.query_params
    states = [s.strip() for v in q.getlist("state") for s in v.split(",") if s.strip()]
    for name in states:  # ?state=failed,cancelled or ?state=failed&state=cancelled
        if name not in STATES:
            raise BadInput(f"unknown state {name[:40]!r}; accepted: {', '.join(STATES)}")
    state: str | list[str] | None = (states[0] if len(states) == 1 else states) or None
    for name in ("job", "owner", "q", "text"):
        actions.check_name(name, q.get(name, ""))
    return {
        "state": state,
        "job": _job_id(request, q.get("job") or None),
        "owner": q.get("owner") or None,
        "text": q.get("q") or q.get("text") or None,
        "before": _int_param(request, "before", None, 1, 2**63 - 1),
        "limit": _int_param(request, "limit", 50, 1, 500),
        "parent": _int_param(request, "parent", None, 1, 2**63 - 1),
    }


def _job_id(request: Request, job: str | None) -> str | None:
    """A job named by its id or by the slug its URLs use (``/api/jobs/{slug}``)."""
    app = request.app.state.dashboard.app
    if job is None or app.definition(job) is not None:
        return job
    found = app.definition_by_slug_or_id(job)
    return job if found is None else str(found.id)


def _run_url(request: Request, run_id: int) -> str:
    """The run's page, under the prefix the dashboard is mounted at (if any)."""
    return f"{request.scope.get(MOUNTED_AT, '')}/runs/{run_id}"


def _run_id(request: Request) -> int:
    return actions.parse_run_id(request.path_params["run_id"])


async def overview(dash: Dashboard, request: Request) -> Any:
    return await run_in_threadpool(dash.views.overview)


async def counts(dash: Dashboard, request: Request) -> Any:
    return await run_in_threadpool(dash.views.counts)


async def workers(dash: Dashboard, request: Request) -> Any:
    return {"workers": await run_in_threadpool(dash.views.workers)}


async def jobs(dash: Dashboard, request: Request) -> Any:
    return {"jobs": dash.views.definitions()}


async def job(dash: Dashboard, request: Request) -> Any:
    definition = actions.find_definition(dash.app, request.path_params["slug"])
    return dash.views.definition(definition)


async def run_job(dash: Dashboard, request: Request) -> Any:
    definition = actions.find_definition(dash.app, request.path_params["slug"])
    body = await _body(request)
    unknown = sorted(set(body) - {"payload", "args", "kwargs"})
    if unknown:
        raise BadInput(f"unknown field {unknown[0]!r}; accepted: payload, args, kwargs")
    args, kwargs = actions.call_arguments(
        body.get("payload", MISSING), body.get("args", MISSING), body.get("kwargs", MISSING)
    )
    run_id = await run_in_threadpool(actions.run_now, dash.app, definition, args, kwargs)
    return {"id": run_id, "url": _run_url(request, run_id)}


async def runs(dash: Dashboard, request: Request) -> Any:
    query = runs_query(request)
    return await run_in_threadpool(lambda: dash.views.runs(**query))


async def run(dash: Dashboard, request: Request) -> Any:
    """The run the path's ``run_id`` names, as shown (404 when none; shared with the run page)."""
    run_id = _run_id(request)
    record = await run_in_threadpool(dash.app.get_job, run_id)
    if record is None:
        raise BadInput(f"no run {run_id}", 404)
    return await run_in_threadpool(dash.views.run_detail, record)


def _run_action(action: Callable[[Any, int], Any]) -> Callable[[Dashboard, Request], Any]:
    async def act(dash: Dashboard, request: Request) -> Any:
        run_id = _run_id(request)
        result = await run_in_threadpool(action, dash.app, run_id)
        if isinstance(result, int) and not isinstance(result, bool):
            return {"ok": True, "id": result, "url": _run_url(request, result)}
        return {"ok": True, "id": run_id}

    return act


def _listing(capability: str) -> Callable[[Dashboard, Request], Any]:
    """``{capability: dash.views.<capability>()}``."""

    async def listing(dash: Dashboard, request: Request) -> Any:
        return {capability: await run_in_threadpool(getattr(dash.views, capability))}

    return listing


def _schedule_action(paused: bool) -> Callable[[Dashboard, Request], Any]:
    async def act(dash: Dashboard, request: Request) -> Any:
        schedule_id = request.path_params["schedule_id"]
        await run_in_threadpool(actions.set_paused, dash.app, schedule_id, paused)
        return {"ok": True, "id": schedule_id, "paused": paused}

    return act


async def send_event(dash: Dashboard, request: Request) -> Any:
    body = await _body(request, sanitised=("name",))  # sanitised by app.send_event
    unknown = sorted(set(body) - {"name", "payload", "id"})
    if unknown:
        raise BadInput(f"unknown field {unknown[0]!r}; accepted: name, payload, id")
    result = await run_in_threadpool(
        actions.send_event, dash.app, body.get("name"), body.get("payload"), body.get("id")
    )
    return {"ok": True, "event": dash.views.plain(result)}


async def openapi(dash: Dashboard, request: Request) -> Any:
    document = openapi_document()
    mounted = request.scope.get(MOUNTED_AT)
    if mounted:  # the paths are under the mount point
        document["servers"] = [{"url": mounted}]
    return document


def routes() -> list[Route]:
    get, post = ["GET"], ["POST"]
    return [
        Route("/api/openapi.json", api_endpoint(openapi), methods=get),
        Route("/api/overview", api_endpoint(overview), methods=get),
        Route("/api/counts", api_endpoint(counts), methods=get),
        Route("/api/workers", api_endpoint(workers), methods=get),
        Route("/api/jobs", api_endpoint(jobs), methods=get),
        Route("/api/jobs/{slug}", api_endpoint(job), methods=get),
        Route("/api/jobs/{slug}/run", api_endpoint(run_job, 201), methods=post),
        Route("/api/runs", api_endpoint(runs), methods=get),
        Route("/api/runs/{run_id}", api_endpoint(run), methods=get),
        Route("/api/runs/{run_id}/cancel", api_endpoint(_run_action(actions.cancel)), methods=post),
        Route("/api/runs/{run_id}/cancel-cascade",
              api_endpoint(_run_action(actions.cancel_cascade)), methods=post),
        Route("/api/runs/{run_id}/retry", api_endpoint(_run_action(actions.retry)), methods=post),
        Route("/api/runs/{run_id}/rerun", api_endpoint(_run_action(actions.rerun), 201),
              methods=post),
        Route("/api/schedules", api_endpoint(_listing("schedules")), methods=get),
        Route("/api/schedules/{schedule_id:path}/pause", api_endpoint(_schedule_action(True)),
              methods=post),
        Route("/api/schedules/{schedule_id:path}/resume", api_endpoint(_schedule_action(False)),
              methods=post),
        Route("/api/events", api_endpoint(_listing("events")), methods=get),
        Route("/api/events", api_endpoint(send_event, 202), methods=post),
    ]
