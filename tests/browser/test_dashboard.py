"""The dashboard in a real browser: watch, trigger, retry, cancel; XSS; token sign-in."""

from __future__ import annotations

import re
from typing import Any

from .conftest import TOKEN, Live

pytestmark = __import__("pytest").mark.browser


def state_of(page: Any) -> Any:
    return page.locator(".run-head .state")


def test_overview_shows_counts_and_the_live_worker(live: Live, page: Any) -> None:
    live.app.jobs["echo"]("hello").run_now().result(timeout=10)
    page.goto(live.url + "/")
    assert page.locator(".count-completed .n").inner_text() == "1"
    page.locator("text=/\\d+(\\.\\d)? s ago/").first.wait_for()  # a worker's heartbeat
    assert "Throughput, last hour" in page.content()


def test_trigger_a_job_with_a_payload_and_watch_it_complete(live: Live, page: Any) -> None:
    page.goto(live.url + "/jobs")
    page.get_by_role("link", name="Echo").click()
    page.locator("textarea[name=payload]").fill('{"city": "Lisbon"}')
    page.get_by_role("button", name="Run now").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    state_of(page).filter(has_text="completed").wait_for()  # htmx refreshes the run
    assert '"city": "Lisbon"' in page.locator("#output").inner_text()
    page.get_by_role("link", name="Runs").click()
    assert page.locator("table.runs tbody tr").count() == 1


def test_a_bad_payload_is_explained_in_the_page(live: Live, page: Any) -> None:
    page.goto(live.url + "/jobs/echo")
    page.locator("textarea[name=payload]").fill("{oops")
    page.get_by_role("button", name="Run now").click()
    alert = page.get_by_role("alert")
    assert "payload is not valid JSON" in alert.inner_text()
    assert live.app.count() == 0


def test_retry_a_failed_run(live: Live, page: Any) -> None:
    handle = live.app.jobs["explode"]({"n": 1}).run_now()
    page.goto(f"{live.url}/runs/{handle.id}")
    state_of(page).filter(has_text="failed").wait_for()
    assert "ValueError: cannot handle" in page.locator(".attempt").first.inner_text()
    page.get_by_role("button", name="Retry").click()
    page.locator(".attempt", has_text="Attempt 2").wait_for()
    state_of(page).filter(has_text="failed").wait_for()
    assert live.app.get_job(handle.id).attempts == 2


def test_cancel_a_scheduled_run(live: Live, page: Any) -> None:
    handle = live.app.jobs["echo"]("later").run_in(1, "hour")
    page.goto(f"{live.url}/runs/{handle.id}")
    assert state_of(page).inner_text() == "scheduled"
    page.get_by_role("button", name="Cancel").click()
    state_of(page).filter(has_text="cancelled").wait_for()
    assert live.app.get_job(handle.id).state == "cancelled"


def test_runs_list_updates_without_reloading(live: Live, page: Any) -> None:
    page.goto(live.url + "/runs")
    assert "No runs." in page.locator("table.runs").inner_text()
    handle = live.app.jobs["echo"]("fresh").run_now()
    page.locator(f"tr[data-run-id='{handle.id}'] .state", has_text="completed").wait_for()


def test_an_xss_payload_renders_as_text(live: Live, page: Any) -> None:
    evil = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
    handle = live.app.jobs["explode"]({"note": evil}).run_now()
    handle_ok = live.app.jobs["echo"](evil).run_now()
    handle_ok.result(timeout=10)
    for path in (f"/runs/{handle.id}", f"/runs/{handle_ok.id}", "/runs", "/"):
        page.goto(live.url + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__xss") is None, path
    page.goto(f"{live.url}/runs/{handle_ok.id}")
    assert "<script>window.__xss = 1</script>" in page.locator("#payload").inner_text()


def test_a_token_protected_dashboard_needs_sign_in(live_with_token: Live, page: Any) -> None:
    live = live_with_token
    page.goto(live.url + "/runs")
    page.wait_for_url(re.compile(r"/login\?next="))
    page.locator("input[name=token]").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    assert "wrong token" in page.get_by_role("alert").inner_text()
    page.locator("input[name=token]").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live.url + "/runs")
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "conveyor_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert TOKEN not in cookie["value"]
    assert page.evaluate("document.cookie") == ""  # nothing readable by scripts
    # Actions work signed in (the form carries its CSRF token).
    handle = live.app.jobs["echo"]("later").run_in(1, "hour")
    page.goto(f"{live.url}/runs/{handle.id}")
    page.get_by_role("button", name="Cancel").click()
    state_of(page).filter(has_text="cancelled").wait_for()
    assert TOKEN not in page.content()
