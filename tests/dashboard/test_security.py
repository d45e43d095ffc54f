"""Security: token sign-in, CSRF defence, Host check, safe binds, no secrets shown."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from starlette.testclient import TestClient

from conveyor import Conveyor
from conveyor.dashboard import check_bind
from conveyor.dashboard.server import allowed_hosts_for
from conveyor.errors import ConfigurationError

from .conftest import ClientFactory
from .test_pages import csrf_of

TOKEN = "t0ken-" + "x" * 30
SAME_ORIGIN = {"Origin": "http://127.0.0.1", "Sec-Fetch-Site": "same-origin"}


def signed_in(client: TestClient) -> TestClient:
    token = csrf_of(client, "/login")
    r = client.post("/login", data={"token": TOKEN, "csrf_token": token, "next": "/runs"},
                    headers=SAME_ORIGIN, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/runs"
    return client


def test_with_a_token_the_api_needs_the_bearer_header(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(sqlite_demo, token=TOKEN)
    r = client.get("/api/runs")
    assert r.status_code == 401 and "Bearer" in r.json()["error"]
    assert client.get("/api/runs", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200


def test_with_a_token_metrics_need_the_bearer_header_too(
    demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(demo, token=TOKEN)
    r = client.get("/metrics", follow_redirects=False)  # a scraper is not sent to a form
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    assert "Bearer" in r.json()["error"]
    ok = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and "conveyor_jobs" in ok.text
    assert signed_in(client).get("/metrics").status_code == 200  # a signed-in person too


def test_with_a_token_pages_redirect_to_the_sign_in_form(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(sqlite_demo, token=TOKEN)
    r = client.get("/runs?state=failed", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/runs%3Fstate%3Dfailed"
    assert client.get("/static/htmx.min.js").status_code == 200  # assets need no sign-in


def test_sign_in_sets_an_httponly_samesite_cookie_without_the_token(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(sqlite_demo, token=TOKEN)
    token = csrf_of(client, "/login")
    r = client.post("/login", data={"token": TOKEN, "csrf_token": token},
                    headers=SAME_ORIGIN, follow_redirects=False)
    cookie = next(v for k, v in r.headers.multi_items()
                  if k == "set-cookie" and v.startswith("conveyor_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert TOKEN not in cookie
    assert client.get("/runs").status_code == 200
    assert client.get("/api/runs").status_code == 200


def test_a_wrong_token_is_refused_with_a_message(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(sqlite_demo, token=TOKEN)
    token = csrf_of(client, "/login")
    r = client.post("/login", data={"token": "guess", "csrf_token": token}, headers=SAME_ORIGIN)
    assert r.status_code == 401 and "wrong token" in r.text
    assert client.get("/runs", follow_redirects=False).status_code == 303


def test_sign_in_never_redirects_to_another_site(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(sqlite_demo, token=TOKEN)
    token = csrf_of(client, "/login")
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        r = client.post("/login", data={"token": TOKEN, "csrf_token": token, "next": target},
                        headers=SAME_ORIGIN, follow_redirects=False)
        assert r.headers["location"] == "/"


def test_the_token_is_never_shown(sqlite_demo: Conveyor, make_client: ClientFactory) -> None:
    run_id = sqlite_demo.jobs["echo"]({"note": f"leaked {TOKEN}"}).run_now().id
    client = signed_in(make_client(sqlite_demo, token=TOKEN))
    for path in ("/", "/runs", f"/runs/{run_id}", f"/api/runs/{run_id}", "/login"):
        assert TOKEN not in client.get(path).text, path


@pytest.mark.parametrize("headers, reason", [
    ({"Origin": "https://evil.example"}, "Origin does not match Host"),
    ({"Origin": "null"}, "Origin: null"),
    ({"Sec-Fetch-Site": "cross-site"}, "Sec-Fetch-Site: cross-site"),
    ({"Sec-Fetch-Site": "same-site"}, "Sec-Fetch-Site: same-site"),
])
def test_cross_site_requests_are_refused(
    sqlite_demo: Conveyor, make_client: ClientFactory, headers: dict[str, str], reason: str
) -> None:
    client = make_client(sqlite_demo)
    token = csrf_of(client)
    r = client.post("/jobs/echo/run", data={"payload": "1", "csrf_token": token},
                    headers=headers)
    assert r.status_code == 403 and reason in r.text
    r = client.post("/api/jobs/echo/run", json={"payload": 1}, headers=headers)
    assert r.status_code == 403 and reason in r.json()["error"]
    assert sqlite_demo.count() == 0


def test_browser_forms_need_the_csrf_token(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(sqlite_demo)
    token = csrf_of(client)
    r = client.post("/jobs/echo/run", data={"payload": "1"}, headers=SAME_ORIGIN)
    assert r.status_code == 403 and "CSRF" in r.text
    r = client.post("/jobs/echo/run", data={"payload": "1", "csrf_token": "0" * 64},
                    headers=SAME_ORIGIN)
    assert r.status_code == 403
    r = client.post("/jobs/echo/run", data={"payload": "1", "csrf_token": token},
                    headers=SAME_ORIGIN, follow_redirects=False)
    assert r.status_code == 303
    assert sqlite_demo.count() == 1


def test_browser_api_calls_need_the_csrf_header(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(sqlite_demo)
    token = csrf_of(client)
    r = client.post("/api/jobs/echo/run", json={"payload": 1}, headers=SAME_ORIGIN)
    assert r.status_code == 403
    r = client.post("/api/jobs/echo/run", json={"payload": 1},
                    headers={**SAME_ORIGIN, "X-CSRF-Token": token})
    assert r.status_code == 201


def test_cookie_signed_in_requests_need_the_csrf_token_even_without_origin(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    client = signed_in(make_client(sqlite_demo, token=TOKEN))
    r = client.post("/api/jobs/echo/run", json={"payload": 1})
    assert r.status_code == 403 and "CSRF" in r.json()["error"]


def test_bearer_api_clients_without_origin_are_served(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(sqlite_demo, token=TOKEN)
    r = client.post("/api/jobs/echo/run", json={"payload": 1},
                    headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 201


def test_unknown_host_headers_are_refused(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(sqlite_demo)
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/", headers={"Host": "localhost:8750"}).status_code == 200
    assert client.get("/", headers={"Host": "[::1]:8750"}).status_code == 200
    assert client.get("/", headers={"Host": "127.0.0.1:notaport"}).status_code == 400


def test_binding_beyond_loopback_needs_a_token() -> None:
    with pytest.raises(ConfigurationError, match="set CONVEYOR_TOKEN"):
        check_bind("0.0.0.0", None)
    check_bind("0.0.0.0", TOKEN)
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    assert "*" in allowed_hosts_for("0.0.0.0", TOKEN)
    assert "*" not in allowed_hosts_for("0.0.0.0", None)
    assert "10.0.0.5" in allowed_hosts_for("10.0.0.5", TOKEN)


def test_cli_refuses_a_public_bind_without_a_token_in_one_line(tmp_path: object) -> None:
    app_file = f"{tmp_path}/app.py"
    with open(app_file, "w") as f:
        f.write(f"from conveyor import Conveyor\napp = Conveyor('sqlite:///{tmp_path}/a.db')\n")
    env = {k: v for k, v in os.environ.items() if k != "CONVEYOR_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-c", "from conveyor.cli import main; main()", "dashboard", app_file,
         "--host", "0.0.0.0"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "error: refusing to serve the dashboard on 0.0.0.0 without a token: set "
        "CONVEYOR_TOKEN to a long random secret, or bind to 127.0.0.1"
    ]


def test_sign_in_after_a_wrong_token_still_goes_back_to_the_page(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(sqlite_demo, token=TOKEN)
    page = client.get("/login?next=/runs").text
    assert 'name="next" value="/runs"' in page
    csrf = csrf_of(client, "/login")
    retry_page = client.post("/login", data={"token": "x", "csrf_token": csrf, "next": "/runs"},
                             headers=SAME_ORIGIN).text
    assert 'name="next" value="/runs"' in retry_page


def test_pages_forbid_framing_and_foreign_scripts(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    r = make_client(sqlite_demo).get("/")
    policy = r.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
