"""Server-rendered HTML pages (htmx only refreshes parts of them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from conveyor.dashboard import actions, api
from conveyor.dashboard.actions import BadInput
from conveyor.dashboard.api import runs_query
from conveyor.dashboard.context import Dashboard
from conveyor.dashboard.security import (
    SESSION_COOKIE,
    Forbidden,
    client_address,
    read_form,
    safe_next,
    session_cookie_response,
    throttled,
)
from conveyor.stores.base import STATES

Page = Callable[[Dashboard, Request], Awaitable[Response]]


def render(
    dash: Dashboard, request: Request, name: str, context: dict[str, Any], status: int = 200
) -> Response:
    """Render ``name``; an htmx request for a live part gets ``_<name>`` alone."""
    context.setdefault("nav", name.split(".")[0])
    context["csrf"] = request.scope.get("state", {}).get("csrf", "")
    context["signed_in"] = request.scope.get("state", {}).get("auth") in ("cookie", "bearer")
    if request.headers.get("hx-request") and request.headers.get("hx-target") == "live":
        name = f"_{name}"
    return dash.templates.TemplateResponse(request, name, context, status_code=status)


def html_page(fn: Page) -> Callable[[Request], Awaitable[Response]]:
    async def handler(request: Request) -> Response:
        dash: Dashboard = request.app.state.dashboard
        try:
            return await fn(dash, request)
        except (BadInput, Forbidden) as exc:
            status = exc.status if exc.status < 500 else 400
            return render(dash, request, "error.html", {"message": exc.message}, status)

    return handler


async def overview(dash: Dashboard, request: Request) -> Response:
    data = await run_in_threadpool(dash.views.overview)
    peak = max([b["completed"] + b["failed"] for b in data["throughput"]] + [1])
    return render(dash, request, "overview.html", {**data, "peak": peak, "states": STATES})


async def jobs(dash: Dashboard, request: Request) -> Response:
    return render(dash, request, "jobs.html", {"jobs": dash.views.definitions()})


async def job(dash: Dashboard, request: Request, form: dict[str, str] | None = None,
              error: str | None = None) -> Response:
    definition = actions.find_definition(dash.app, request.path_params["slug"])
    recent = await run_in_threadpool(lambda: dash.views.runs(job=definition.id, limit=10))
    return render(dash, request, "job.html", {
        "job": dash.views.definition(definition), "runs": recent["runs"],
        "form": form or {}, "error": error, "nav": "jobs",
    }, status=400 if error else 200)


async def run_job(dash: Dashboard, request: Request) -> Response:
    definition = actions.find_definition(dash.app, request.path_params["slug"])
    form = await read_form(request, dash.security)
    fields = {k: str(form.get(k) or "") for k in ("payload", "args", "kwargs")}
    try:
        args, kwargs = actions.call_arguments(
            *(actions.parse_json_field(k, fields[k]) for k in ("payload", "args", "kwargs"))
        )
        run_id = await run_in_threadpool(actions.run_now, dash.app, definition, args, kwargs)
    except BadInput as exc:
        return await job(dash, request, fields, exc.message)
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


async def runs(dash: Dashboard, request: Request) -> Response:
    try:
        query = runs_query(request)
        error = None
    except BadInput as exc:
        query, error = {}, exc.message
    page = await run_in_threadpool(lambda: dash.views.runs(**query))
    filters = {k: request.query_params.get(k, "")
               for k in ("state", "job", "owner", "q", "parent")}
    next_url = None
    if page["next_before"]:
        kept = {k: v for k, v in filters.items() if v}
        next_url = "/runs?" + urlencode({**kept, "before": page["next_before"]})
    return render(dash, request, "runs.html", {
        **page, "filters": filters, "states": STATES, "error": error,
        "job_ids": list(dash.app.jobs), "next_url": next_url,
        "first_page": query.get("before") is None,
    }, status=400 if error else 200)


async def run(dash: Dashboard, request: Request) -> Response:
    detail = await api.run(dash, request)
    return render(dash, request, "run.html", {"run": detail, "nav": "runs"})


_RUN_ACTIONS: dict[str, Callable[[Any, int], Any]] = {
    "cancel": actions.cancel, "retry": actions.retry, "rerun": actions.rerun,
    "cancel-cascade": actions.cancel_cascade,
}


async def run_action(dash: Dashboard, request: Request) -> Response:
    run_id = actions.parse_run_id(request.path_params["run_id"])
    action = _RUN_ACTIONS.get(request.path_params["action"])
    if action is None:
        raise BadInput("unknown action; accepted: cancel, cancel-cascade, retry, rerun", 404)
    await read_form(request, dash.security)
    result = await run_in_threadpool(action, dash.app, run_id)
    target = result if isinstance(result, int) and not isinstance(result, bool) else run_id
    return RedirectResponse(f"/runs/{target}", status_code=303)


async def schedules(dash: Dashboard, request: Request) -> Response:
    found = await run_in_threadpool(dash.views.schedules)
    return render(dash, request, "schedules.html", {"schedules": found})


async def schedule_action(dash: Dashboard, request: Request) -> Response:
    action = request.path_params["action"]
    if action not in ("pause", "resume"):
        raise BadInput("unknown action; accepted: pause, resume", 404)
    await read_form(request, dash.security)
    await run_in_threadpool(
        actions.set_paused, dash.app, request.path_params["schedule_id"], action == "pause"
    )
    return RedirectResponse("/schedules", status_code=303)


async def events(dash: Dashboard, request: Request, form: dict[str, str] | None = None,
                 error: str | None = None, sent: str | None = None) -> Response:
    found = await run_in_threadpool(dash.views.events)
    return render(dash, request, "events.html", {
        "events": found, "form": form or {}, "error": error, "sent": sent,
    }, status=400 if error else 200)


async def send_event(dash: Dashboard, request: Request) -> Response:
    form = await read_form(request, dash.security)
    fields = {k: str(form.get(k) or "") for k in ("name", "payload", "id")}
    try:
        payload = actions.parse_json_field("payload", fields["payload"])
        await run_in_threadpool(
            actions.send_event, dash.app, fields["name"].strip(),
            None if payload is actions.MISSING else payload, fields["id"].strip() or None,
        )
    except BadInput as exc:
        return await events(dash, request, fields, exc.message)
    return await events(dash, request, sent=fields["name"].strip())


async def login(dash: Dashboard, request: Request) -> Response:
    target = safe_next(request.query_params.get("next"))
    if dash.security.token is None:
        return RedirectResponse(target, status_code=303)
    error = None
    if request.method == "POST":
        blocked = throttled(request, dash.security)
        if blocked is not None:
            return blocked
        form = await read_form(request, dash.security)
        target = safe_next(str(form.get("next") or ""))
        if dash.security.check_token(str(form.get("token") or "")):
            # The scheme is https behind a TLS proxy only when the server trusts the
            # proxy's X-Forwarded-Proto (uvicorn's forwarded_allow_ips).
            secure = request.url.scheme == "https"
            return session_cookie_response(target, dash.security, secure)
        dash.security.throttle.failed(client_address(request))
        error = "wrong token: use the value of CONVEYOR_TOKEN the server was started with"
    return render(dash, request, "login.html", {"next": target, "error": error, "nav": ""},
                  status=401 if error else 200)


async def logout(dash: Dashboard, request: Request) -> Response:
    await read_form(request, dash.security)
    dash.security.sessions.revoke(request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def routes() -> list[Route]:
    get, post = ["GET"], ["POST"]
    return [
        Route("/", html_page(overview), methods=get, name="overview"),
        Route("/jobs", html_page(jobs), methods=get),
        Route("/jobs/{slug}", html_page(job), methods=get),
        Route("/jobs/{slug}/run", html_page(run_job), methods=post),
        Route("/runs", html_page(runs), methods=get),
        Route("/runs/{run_id}", html_page(run), methods=get),
        Route("/runs/{run_id}/{action}", html_page(run_action), methods=post),
        Route("/schedules", html_page(schedules), methods=get),
        Route("/schedules/{schedule_id:path}/{action}", html_page(schedule_action), methods=post),
        Route("/events", html_page(events), methods=get),
        Route("/events", html_page(send_event), methods=post),
        Route("/login", html_page(login), methods=["GET", "POST"]),
        Route("/logout", html_page(logout), methods=post),
    ]
