"""Flow control in the dashboard: the queues page (pause/resume buttons) and its API.

Pages: ``GET /queues``, ``POST /queues/{name}/pause|resume``,
``POST /jobs/{slug}/pause|resume`` (forms with the CSRF token, like every action).
API: ``GET /api/queues``, ``POST /api/queues/{name}/pause|resume``,
``POST /api/jobs/{id}/pause|resume``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from conveyor.dashboard import actions
from conveyor.dashboard.actions import BadInput
from conveyor.dashboard.api import api_endpoint
from conveyor.dashboard.context import Dashboard
from conveyor.dashboard.pages import html_page, render
from conveyor.dashboard.security import read_form
from conveyor.errors import ConveyorError, StoreError, UnknownJobError

if TYPE_CHECKING:
    from conveyor.app import Conveyor

ACTIONS = ("pause", "resume")


def queues_data(app: Conveyor) -> dict[str, Any]:
    held = app.paused_counts()
    return {
        "queues": [{**dataclasses.asdict(q), "paused_runs": held.get(q.name, 0)}
                   for q in app.queues()],
        "paused_jobs": app.paused_jobs(),
        "jobs": sorted(app.jobs),
    }


def act(app: Conveyor, kind: str, name: str, action: str) -> dict[str, Any]:
    """Pause or resume the queue or job ``name``; BadInput for what a user can fix."""
    if action not in ACTIONS:
        raise BadInput("unknown action; accepted: pause, resume", 404)
    actions.check_name(kind, name)
    target: dict[str, Any] = {"queue": name}
    if kind == "job":  # by slug or id; or a job only the store knows, by its id
        found = app.definition_by_slug_or_id(name)
        target = {"job": found.id if found is not None else name}
    try:
        (app.pause if action == "pause" else app.resume)(**target)
    except UnknownJobError:
        raise BadInput(f"no job {name[:100]!r} is defined", 404) from None
    except StoreError:  # not the input: a 503 (conveyor.dashboard.unavailable)
        raise
    except ConveyorError as exc:
        raise BadInput(str(exc)) from None
    return {"ok": True, kind: target[kind], "paused": action == "pause"}


async def queues_page(dash: Dashboard, request: Request) -> Response:
    data = await run_in_threadpool(queues_data, dash.app)
    return render(dash, request, "queues.html", data)


def _page_action(kind: str) -> Any:
    async def handler(dash: Dashboard, request: Request) -> Response:
        await read_form(request, dash.security)
        name = request.path_params["name"]
        await run_in_threadpool(act, dash.app, kind, name, request.path_params["action"])
        return RedirectResponse("/queues", status_code=303)

    return handler


def _api_action(kind: str, action: str) -> Any:
    async def handler(dash: Dashboard, request: Request) -> Any:
        return await run_in_threadpool(act, dash.app, kind, request.path_params["name"],
                                       action)

    return handler


async def api_queues(dash: Dashboard, request: Request) -> Any:
    return await run_in_threadpool(queues_data, dash.app)


def routes() -> list[Route]:
    """Routes to add after the pages' own (``/jobs/{slug}/run`` stays theirs)."""
    post = ["POST"]
    found = [
        Route("/queues", html_page(queues_page), methods=["GET"]),
        # queue names and job ids are any text, "/" included ("exports/eu"): the path
        # convertor (a job only the store knows has no slug: its id is in the URL)
        Route("/queues/{name:path}/{action}", html_page(_page_action("queue")), methods=post),
        Route("/jobs/{name:path}/{action}", html_page(_page_action("job")), methods=post),
        Route("/api/queues", api_endpoint(api_queues), methods=["GET"]),
    ]
    for action in ACTIONS:
        found += [
            Route(f"/api/queues/{{name:path}}/{action}",
                  api_endpoint(_api_action("queue", action)), methods=post),
            Route(f"/api/jobs/{{name:path}}/{action}", api_endpoint(_api_action("job", action)),
                  methods=post),
        ]
    return found
