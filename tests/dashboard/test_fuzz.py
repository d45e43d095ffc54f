"""Fuzzing the JSON API from its OpenAPI document, on memory, SQLite and PostgreSQL:
hostile input never gets a 5xx.

Every operation in ``/api/openapi.json`` is called with path parameters, query strings,
bodies, content types and Origin headers drawn by hypothesis: values of the documented
types and hostile ones (NUL, lone surrogates, invalid UTF-8, huge and non-finite numbers,
deep nesting, over-long names, raw bytes). Each answer must be below 500 (501, a
capability the app lacks, is the one documented 5xx), documented, and an error must be
JSON with a message. The number of examples run per operation is printed at the end.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from conveyor import Conveyor
from conveyor.dashboard import create_app
from conveyor.dashboard.openapi import openapi_document
from tests.conftest import STORES

from .helpers import BASE, define_demo_jobs

EXAMPLES = 20  # per operation and store: bounded so the suite stays fast
RUN: Counter[str] = Counter()

# Text with every kind of trouble: lone surrogates, NUL, control and non-BMP characters.
hostile_chars = st.characters(codec=None, exclude_categories=())
hostile_text = (
    st.text(hostile_chars, max_size=20)
    | st.sampled_from(["\x00", "a\x00b", "\ud800", "\udfff", "é" * 2000, "x" * 3000,
                       "../../etc/passwd", "<script>alert(1)</script>", "' OR 1=1 --",
                       "%00", "\u202e", "😀", "null", "-1", "0", "1e400"])
)
numbers = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**400])
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | hostile_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner,
                                                                max_size=4),
    max_leaves=12,
)
content_types = st.sampled_from([
    "application/json", "application/json; charset=latin-1", "text/plain",
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=zz",
    "application/vnd.api+json", "garbage", None,
])
origins = st.sampled_from([None, None, None, "http://127.0.0.1", "https://evil.example",
                           "null", "http://[::1", "http://127.0.0.1:99999", "\x7f"])


def encode(text: str) -> str:
    """Percent-encode any text, lone surrogates included (as invalid UTF-8 bytes)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def dumps(value: Any) -> bytes:
    """JSON that keeps what JSON cannot say: surrogate escapes, NaN, huge integers."""
    return json.dumps(value, ensure_ascii=True).encode()


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["fields", "fields", "value", "deep", "bytes", "truncated"]))
    if kind == "fields":
        fields = draw(st.fixed_dictionaries({}, optional={
            "payload": json_values, "args": json_values, "kwargs": json_values,
            "name": hostile_text | json_values, "id": hostile_text | json_values,
        }))
        return dumps(fields)
    if kind == "value":
        return dumps(draw(json_values))
    if kind == "deep":
        depth = draw(st.sampled_from([64, 65, 101, 1000, 100_000]))
        field = draw(st.sampled_from(["payload", "args", "kwargs"]))
        return f'{{"name": "x", "{field}": '.encode() + b"[" * depth + b"]" * depth + b"}"
    if kind == "bytes":
        return draw(st.binary(max_size=64))
    return dumps(draw(json_values))[:-1]


def path_value(name: str) -> st.SearchStrategy[str]:
    known = ["1", "2", "3", "echo", "explode", "nightly", "0", "-1", "1e5", str(2**63),
             "9" * 30]
    return st.sampled_from(known) | hostile_text | st.integers().map(str)


def query_value(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    documented: st.SearchStrategy[Any] = hostile_text
    if "enum" in schema:
        documented = st.sampled_from(schema["enum"])
    elif schema.get("type") == "integer":
        documented = numbers
    return (documented | hostile_text | numbers).map(str)


@st.composite
def requests(draw: st.DrawFn, path: str, op: dict[str, Any]) -> dict[str, Any]:
    url = path
    query: list[str] = []
    for param in op.get("parameters", []):
        if param["in"] == "path":
            value = draw(path_value(param["name"]))
            url = url.replace("{" + param["name"] + "}", encode(value) or "x")
        elif draw(st.booleans()):
            value = draw(query_value(param["schema"]))
            query.append(f"{param['name']}={encode(value)}")
    if draw(st.integers(0, 9)) == 0:
        query.append(f"{encode(draw(hostile_text))}={encode(draw(hostile_text))}")
    headers: dict[str, str] = {}
    content = None
    if "requestBody" in op or draw(st.integers(0, 4)) == 0:
        content = draw(bodies())
        content_type = draw(content_types)
        if content_type:
            headers["content-type"] = content_type
    origin = draw(origins)
    if origin:
        headers["origin"] = origin
    target = url + ("?" + "&".join(query) if query else "")
    return {"url": target, "content": content, "headers": headers}


def _stored_url(kind: str, request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> str:
    if kind == "memory":
        return "memory://"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('fuzz')}/fuzz.db"
    database = request.getfixturevalue("pg_database")
    return f"{database}?schema=fuzz_http_{uuid.uuid4().hex[:8]}"  # new under xdist too


@pytest.fixture(scope="module", params=STORES)
def fuzz_client(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = Conveyor(_stored_url(request.param, request, tmp_path_factory))
    define_demo_jobs(app)

    @app.job("nightly", trigger=app.cron("0 3 * * *"))
    def nightly() -> None:
        pass

    @app.job("welcome", trigger=app.event("user.created", filter={"plan": ["pro"]}))
    def welcome(payload: Any) -> None:
        pass

    for i in range(3):
        app.jobs["echo"]({"i": i, "password": "s3cret"}).run_now()
    app.jobs["explode"](1).run_now()
    app.run_worker(burst=True)
    with TestClient(create_app(app), base_url=BASE, raise_server_exceptions=False) as client:
        yield client
    app.close()
    report = ", ".join(f"{op}: {n}" for op, n in sorted(RUN.items()))
    terminal = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if terminal is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            terminal.write_line(f"\nHTTP fuzz examples run per operation on {request.param} "
                                f"(total {sum(RUN.values())}): {report}")
    RUN.clear()


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    doc = openapi_document()
    return [(path, method, op) for path, ops in doc["paths"].items()
            for method, op in ops.items()]


def test_the_fuzzed_operations_are_every_api_route(fuzz_client: TestClient) -> None:
    served = fuzz_client.get("/api/openapi.json").json()
    assert served["paths"].keys() == openapi_document()["paths"].keys()
    routes = {(re.sub(r":\w+}", "}", route.path), method.lower())  # {name:path}: {name}
              for route in fuzz_client.app.routes  # type: ignore[attr-defined]
              if getattr(route, "path", "").startswith("/api/")
              and route.path != "/api/openapi.json"
              for method in (getattr(route, "methods", None) or ()) if method != "HEAD"}
    assert routes == {(path, method) for path, method, _ in operations()}


@pytest.mark.parametrize("path, method, op", operations(),
                         ids=[f"{m} {p}" for p, m, _ in operations()])
def test_api_answers_hostile_input_without_server_errors(
    fuzz_client: TestClient, path: str, method: str, op: dict[str, Any]
) -> None:
    documented = set(op["responses"]) | {"404", "405"}

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(request=requests(path, op))
    def check(request: dict[str, Any]) -> None:
        RUN[f"{method.upper()} {path}"] += 1
        r = fuzz_client.request(method.upper(), request["url"], content=request["content"],
                                headers=request["headers"])
        assert r.status_code < 500 or r.status_code == 501, (request, r.status_code, r.text)
        assert str(r.status_code) in documented or re.fullmatch(r"2\d\d", str(r.status_code)), (
            request, r.status_code, r.text)
        if r.status_code >= 400:
            error = r.json()
            assert isinstance(error["error"], str) and error["error"], r.text
            assert error["status"] == r.status_code

    check()


header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=80)


@pytest.fixture(scope="module")
def guarded_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = Conveyor(f"sqlite:///{tmp_path_factory.mktemp('fuzz')}/guarded.db")
    define_demo_jobs(app)
    with TestClient(create_app(app, token="g" * 24), base_url=BASE,
                    raise_server_exceptions=False) as client:
        yield client
    app.close()


@settings(max_examples=EXAMPLES * 3, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(
    method=st.sampled_from(["GET", "POST"]),
    path=st.sampled_from(["/", "/api/runs", "/api/jobs/echo/run", "/login", "/logout",
                          "/runs/1/cancel", "/api/events", "/static/htmx.min.js"]),
    headers=st.dictionaries(
        st.sampled_from(["authorization", "cookie", "x-csrf-token", "sec-fetch-site",
                         "origin", "host", "content-type", "content-length",
                         "x-forwarded-proto"]),
        header_text, max_size=5),
    body=st.none() | st.binary(max_size=64),
)
def test_hostile_headers_never_get_a_server_error(
    guarded_client: TestClient, method: str, path: str, headers: dict[str, str],
    body: bytes | None,
) -> None:
    """Sign-in, CSRF and Host checks with junk headers (token set): always below 500."""
    raw = {k: v.encode("latin-1") for k, v in headers.items() if k != "content-length"}
    r = guarded_client.request(method, path, headers=raw, content=body,
                               follow_redirects=False)
    assert r.status_code < 500, (method, path, headers, r.status_code, r.text[:200])
