"""The run page's workflow tree, the cascade button, blocked counts and parent= filters."""

from __future__ import annotations

from typing import Any

from conveyor import Conveyor

from .conftest import ClientFactory
from .test_pages import csrf_of


def _fan(app: Conveyor) -> tuple[int, list[int]]:
    @app.job(queue="later")
    def held(x: int) -> int:
        return x

    @app.job
    async def fan(n: int, io: Any) -> Any:
        return await io.run_jobs("held", [held(i) for i in range(n)])

    run = fan(3).run_now()
    app.run_worker(burst=True, queues=["default"])  # the parent stores its children
    record = app.get_job(run.id)
    assert record is not None and record.state == "waiting"
    return run.id, record.children


def test_run_page_shows_the_tree_linked_both_ways(demo: Conveyor,
                                                  make_client: ClientFactory) -> None:
    client = make_client(demo)
    parent, children = _fan(demo)
    after = demo.jobs.echo({"x": 1}).run_now(depends_on=[children[0]])
    page = client.get(f"/runs/{parent}").text
    for child in children:
        assert f'href="/runs/{child}"' in page
    assert "Cancel with children" in page
    child_page = client.get(f"/runs/{children[0]}").text
    assert f'href="/runs/{parent}"' in child_page and "Started by" in child_page
    assert f'href="/runs/{after.id}"' in child_page and "Needed by" in child_page
    after_page = client.get(f"/runs/{after.id}").text
    assert "Depends on" in after_page and f'href="/runs/{children[0]}"' in after_page
    assert "state-blocked" in after_page
    detail = client.get(f"/api/runs/{parent}").json()
    assert [c["id"] for c in detail["children"]] == children
    assert client.get(f"/api/runs/{after.id}").json()["depends_on"][0]["id"] == children[0]


def test_runs_filter_by_parent(demo: Conveyor, make_client: ClientFactory) -> None:
    client = make_client(demo)
    parent, children = _fan(demo)
    listed = client.get(f"/api/runs?parent={parent}").json()["runs"]
    assert sorted(r["id"] for r in listed) == sorted(children)
    page = client.get(f"/runs?parent={parent}").text
    assert all(f'href="/runs/{c}"' in page for c in children)
    assert client.get("/api/runs?parent=x").status_code == 400


def test_cascade_button_cancels_the_children(demo: Conveyor,
                                             make_client: ClientFactory) -> None:
    client = make_client(demo)
    parent, children = _fan(demo)
    token = csrf_of(client)
    r = client.post(f"/runs/{parent}/cancel-cascade", data={"csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303
    assert {demo.get_job(c).state for c in children} == {"cancelled"}  # type: ignore[union-attr]
    again = client.post(f"/api/runs/{parent}/cancel-cascade")
    assert again.status_code == 409


def test_blocked_has_its_count(demo: Conveyor, make_client: ClientFactory) -> None:
    client = make_client(demo)
    first = demo.jobs.echo({"x": 1}).run_now()
    demo.jobs.echo({"x": 2}).run_now(depends_on=[first])
    assert client.get("/api/counts").json()["blocked"] == 1
    assert 'data-state="blocked"' in client.get("/").text
