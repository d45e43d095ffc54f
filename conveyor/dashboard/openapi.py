"""The OpenAPI 3.1 document served at ``/api/openapi.json``."""

from __future__ import annotations

from typing import Any

from conveyor.stores.base import STATES

_ERROR = {"$ref": "#/components/schemas/Error"}
_OBJECT: dict[str, Any] = {"type": "object"}


def _responses(ok: dict[str, Any], *errors: int, ok_status: str = "200") -> dict[str, Any]:
    out: dict[str, Any] = {ok_status: {"description": "OK", "content": {
        "application/json": {"schema": ok}}}}
    for status in sorted({*ALWAYS, *errors}):
        out[str(status)] = {"description": _REASONS[status], "content": {
            "application/json": {"schema": _ERROR}}}
    return out


_REASONS = {
    400: "Bad input (the message says what is accepted)",
    401: "Token required",
    403: "Cross-site request refused, or the CSRF token is missing",
    404: "Not found",
    409: "Not possible in the run's current state",
    413: "Request body too large (over 1 MiB by default)",
    414: "Path or query string too long",
    415: "Body is not JSON",
    429: "Too many wrong tokens from this client lately (see Retry-After)",
    503: "The store does not exist yet, or cannot be reached (see Retry-After)",
}
# Answers any operation can give: malformed input, no token, limits, throttling, no store.
ALWAYS = (400, 401, 413, 414, 429, 503)


def _path_param(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


_RUN_ID = _path_param("run_id", {"type": "integer", "minimum": 1})
_SLUG = _path_param("slug", {"type": "string"})
_SCHEDULE_ID = _path_param("schedule_id", {"type": "string"})
_NAME = _path_param("name", {"type": "string"})


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": False, "content": {"application/json": {"schema": schema}}}


def _action(summary: str, param: dict[str, Any], *errors: int,
            status: str = "200") -> dict[str, Any]:
    return {"post": {"summary": summary, "parameters": [param],
                     "responses": _responses(_OBJECT, 404, 415, *errors, ok_status=status)}}


def openapi_document() -> dict[str, Any]:
    run_ref = {"$ref": "#/components/schemas/Run"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "conveyor dashboard API",
            "version": "1",
            "description": "Watch and steer jobs. Send 'Authorization: Bearer <token>' "
            "when the server has CONVEYOR_TOKEN set. Errors are JSON: "
            '{"error": "<message>", "status": <code>}.',
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "status"], "properties": {
                    "error": {"type": "string"}, "status": {"type": "integer"}}},
                "Run": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "job": {"type": "string"},
                    "state": {"type": "string", "enum": list(STATES)},
                    "payload": {}, "attempts": {"type": "integer"},
                    "created_at": {"type": "string"}, "error": {},
                    "result": {"description": "the return value (run detail only)"},
                    "output": {"description": "the same as result"}}},
                "RunRequest": {"type": "object", "additionalProperties": False,
                               "properties": {
                                   "payload": {"description": "the single positional argument"},
                                   "args": {"type": "array"},
                                   "kwargs": {"type": "object"}}},
                "Event": {"type": "object", "required": ["name"],
                          "additionalProperties": False, "properties": {
                              "name": {"type": "string", "minLength": 1},
                              "payload": {}, "id": {"type": "string"}}},
            },
        },
        "security": [{"bearer": []}, {}],
        "paths": {
            "/api/overview": {"get": {
                "summary": "Counts by state, throughput over the last hour, failing runs, "
                "live workers", "responses": _responses(_OBJECT)}},
            "/api/counts": {"get": {"summary": "Runs by state",
                                    "responses": _responses(_OBJECT)}},
            "/api/workers": {"get": {"summary": "Workers alive in the last minute",
                                     "responses": _responses(_OBJECT)}},
            "/api/jobs": {"get": {"summary": "Job definitions",
                                  "responses": _responses(_OBJECT)}},
            "/api/jobs/{slug}": {"get": {"summary": "One job definition",
                                         "parameters": [_SLUG],
                                         "responses": _responses(_OBJECT, 404)}},
            "/api/jobs/{slug}/run": {"post": {
                "summary": "Run a job now", "parameters": [_SLUG],
                "requestBody": _json_body({"$ref": "#/components/schemas/RunRequest"}),
                "responses": _responses(_OBJECT, 400, 403, 404, 415, ok_status="201")}},
            "/api/runs": {"get": {
                "summary": "Runs, newest first, paged by id",
                "parameters": [
                    _query("state", {"type": "string"},
                           f"run state ({', '.join(STATES)}); several: comma-separated"),
                    _query("job", {"type": "string"}, "job id or slug"),
                    _query("owner", {"type": "string"}, "owner ('system' for none)"),
                    _query("q", {"type": "string"}, "text in payload or error"),
                    _query("text", {"type": "string"}, "the same as q"),
                    _query("before", {"type": "integer", "minimum": 1},
                           "only runs with a smaller id (next_before of the previous page)"),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500},
                           "page size (default 50)"),
                    _query("parent", {"type": "integer", "minimum": 1},
                           "only child runs of this durable run"),
                ],
                "responses": _responses({"type": "object", "properties": {
                    "runs": {"type": "array", "items": run_ref},
                    "next_before": {"type": ["integer", "null"]},
                    "searched_to": {"type": ["integer", "null"], "description":
                                    "a text search reads a window of ids a page: the lowest "
                                    "id this page looked at"}}}, 400)}},
            "/api/runs/{run_id}": {"get": {
                "summary": "One run with attempts, logs, steps and output",
                "parameters": [_RUN_ID], "responses": _responses(run_ref, 404)}},
            "/api/runs/{run_id}/cancel": _action("Cancel an unfinished run", _RUN_ID, 403, 409),
            "/api/runs/{run_id}/cancel-cascade": _action(
                "Cancel an unfinished run and every unfinished child run it started", _RUN_ID,
                403, 409),
            "/api/runs/{run_id}/retry": _action("Run a finished run again", _RUN_ID, 403, 409),
            "/api/runs/{run_id}/rerun": _action(
                "Start a new run with the same arguments", _RUN_ID, 403, 409, status="201"),
            "/api/schedules": {"get": {"summary": "Recurring schedules",
                                       "responses": _responses(_OBJECT)}},
            "/api/schedules/{schedule_id}/pause": _action(
                "Pause a schedule", _SCHEDULE_ID, 403),
            "/api/schedules/{schedule_id}/resume": _action(
                "Resume a schedule", _SCHEDULE_ID, 403),
            "/api/queues": {"get": {
                "summary": "Queues (counts by state, declared limits, paused) and paused jobs",
                "responses": _responses(_OBJECT)}},
            "/api/queues/{name}/pause": _action(
                "Pause a queue: no worker claims its runs", _NAME, 403),
            "/api/queues/{name}/resume": _action("Resume a paused queue", _NAME, 403),
            "/api/jobs/{name}/pause": _action(
                "Pause a job (by id or slug): no worker claims its runs", _NAME, 403),
            "/api/jobs/{name}/resume": _action("Resume a paused job", _NAME, 403),
            "/api/events": {
                "get": {"summary": "Recent events", "responses": _responses(_OBJECT)},
                "post": {"summary": "Send an event", "requestBody": {
                    "required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Event"}}}},
                    "responses": _responses(_OBJECT, 400, 403, 415, ok_status="202")},
            },
        },
    }
