"""Fuzzing the JSON API from its OpenAPI document: bad input never gets a 5xx.

Every operation in ``/api/openapi.json`` is called with path parameters, query strings
and bodies drawn by hypothesis: values of the documented types and arbitrary ones.
Each answer must be below 500, and an error must be JSON with a message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from conveyor import Conveyor
from conveyor.dashboard import create_app

from .helpers import BASE, define_demo_jobs

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)
texts = st.text(max_size=30)
path_texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = Conveyor(f"sqlite:///{tmp_path_factory.mktemp('fuzz')}/fuzz.db")
    define_demo_jobs(app)
    for i in range(3):
        app.jobs["echo"](i).run_now()
    with TestClient(create_app(app), base_url=BASE, raise_server_exceptions=False) as client:
        yield client
    app.close()


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    from conveyor.dashboard.openapi import openapi_document

    doc = openapi_document()
    return [(path, method, op) for path, ops in doc["paths"].items()
            for method, op in ops.items()]


def value_for(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    kind = schema.get("type")
    if "enum" in schema:
        return st.sampled_from(schema["enum"]) | texts
    if kind == "integer":
        return st.integers(min_value=-(2**70), max_value=2**70) | texts
    return texts


@st.composite
def requests(draw: st.DrawFn, path: str, op: dict[str, Any]) -> tuple[str, dict[str, Any],
                                                                       Any]:
    url = path
    query: dict[str, Any] = {}
    for param in op.get("parameters", []):
        if param["in"] == "path":
            value = draw(st.sampled_from(["1", "2", "echo", "explode"]) | path_texts
                         | st.integers().map(str))
            url = url.replace("{" + param["name"] + "}", quote(str(value), safe="") or "x")
        elif draw(st.booleans()):
            query[param["name"]] = str(draw(value_for(param["schema"])))
    body: Any = None
    if "requestBody" in op:
        body = draw(
            st.fixed_dictionaries({}, optional={
                "payload": json_values, "args": json_values, "kwargs": json_values,
                "name": texts | json_values, "id": texts | json_values,
            }) | json_values
        )
    return url, query, body


@pytest.mark.parametrize("path, method, op", operations(),
                         ids=[f"{m} {p}" for p, m, _ in operations()])
def test_api_answers_bad_input_without_server_errors(
    fuzz_client: TestClient, path: str, method: str, op: dict[str, Any]
) -> None:
    @settings(max_examples=25, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(request=requests(path, op), raw=st.booleans())
    def check(request: tuple[str, dict[str, Any], Any], raw: bool) -> None:
        url, query, body = request
        kwargs: dict[str, Any] = {"params": query}
        if body is not None:
            content = json.dumps(body).encode() if not raw else json.dumps(body)[:-1].encode()
            kwargs.update(content=content, headers={"content-type": "application/json"})
        r = fuzz_client.request(method.upper(), url, **kwargs)
        documented = set(op["responses"]) | {"404", "405"}
        # 501 (a capability this app lacks) is the one documented 5xx.
        assert r.status_code < 500 or str(r.status_code) in documented, (
            method, url, query, body, r.text)
        if r.status_code >= 400:
            error = r.json()
            assert isinstance(error["error"], str) and error["error"], r.text
        assert str(r.status_code) in documented or re.match(r"2\d\d", str(r.status_code)), (
            method, url, r.status_code, r.text)

    check()
