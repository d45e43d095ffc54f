"""The random sequences of ``test_stateful`` (triggers, clock moves, burst workers,
cancels, retries, purges, pauses, schedules, events), plus the same steps taken through
the dashboard's JSON API and the CLI, on the memory, SQLite and PostgreSQL stores at
once: every GET of the API and every ``--json`` output of the CLI shows the same on the
three (run ids as their place among the stored ones, see ``surfaces.Shown``)."""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule, run_state_machine_as_test

from conveyor import Conveyor, Fail, Retry, RetryIn
from tests.acceptance.blind_diff.conftest import Trio
from tests.acceptance.blind_diff.support import JSON, NAMES, OWNERS, TEXT
from tests.acceptance.blind_diff.surfaces import Shown, cli, client, typed
from tests.acceptance.blind_diff.test_stateful import PHASES, STATES, Machine

EXAMPLES = int(os.environ.get("CONVEYOR_DIFF_EXAMPLES", "6"))
STEPS = int(os.environ.get("CONVEYOR_DIFF_STEPS", "20"))
PICK = st.none() | st.integers(0, 50)  # a stored run by its place (None: none)
BODIES = st.one_of(
    st.builds(lambda value, fail, tag: {"payload": {"value": value, "fail": fail, "tag": tag}},
              JSON, st.integers(0, 3), TEXT),
    st.builds(lambda p: {"kwargs": {"payload": p}}, JSON),
    st.builds(lambda a: {"args": a}, st.lists(JSON, max_size=2)),
    st.sampled_from([{}, {"payload": None}, {"payload": []}, {"nope": 1}]),
)
READS = st.sampled_from([
    "/api/schedules", "/api/events", "/api/queues", "/api/counts", "/api/overview",
    "/api/jobs", "/api/jobs/work", "/api/jobs/durable", "/api/jobs/tick", "/api/jobs/paris",
    "/api/jobs/nope"])


def _define_more(app: Conveyor) -> None:
    """Schedules declared in code (stored by workers and ``schedules sync``), a job that
    reports progress, logs and ends as its payload says, and a durable parent of two."""

    @app.job("tick", trigger=app.every("90 minutes"))
    def tick() -> None:
        pass

    @app.job("paris", trigger=app.cron("30 2 * * *", tz="Europe/Paris"))
    def paris() -> str:
        return "é"

    @app.job("rich", queue="narrow", retry=Retry(retries=1, wait=5))
    def rich(payload: Any, meta: Any) -> Any:
        how, text = payload if isinstance(payload, list) and len(payload) == 2 else ("", "")
        meta.progress(0.5 if how else 50, message=text)
        meta.log.warning("é %s", text)
        if how == "fail":
            raise Fail(text)
        if how == "retry":
            raise RetryIn(7)
        if how == "error":
            raise KeyError(text)
        return {"text": text, "n": [1, 1.0, -0.0, 2**63]}

    @app.job("parent")
    async def parent(payload: Any, io: Any, ctx: Any) -> Any:
        await io.logger.info("starting", payload=payload)
        got = await io.run_jobs("kids", [rich(["", "a"]), rich(payload)])
        await io.send_event("told", "signed.up", {"run_id": ctx.run_id, "plan": "pro"})
        return got

    app.queue("narrow", concurrency=1)


class Surfaces(Machine):
    def __init__(self) -> None:
        super().__init__()
        self.clients = [client(app) for app in self.apps]
        for app in self.apps:
            _define_more(app)

    def teardown(self) -> None:
        for c in self.clients:
            c.close()
        super().teardown()

    def on_each(self, call: Any) -> None:
        """``call(app, client, shown)`` on every store, each answer written by ``shown``
        (made after the call); all must be the same."""
        pairs = iter(zip(self.apps, self.clients, strict=True))

        def one(app: Conveyor) -> str:
            _, c = next(pairs)
            answer = call(app, c)
            return typed(Shown(app)(answer))

        self.each(one)

    def run_id(self, app: Conveyor, pick: int | None) -> int:
        ids = sorted(r.id for r in app.jobs_list(newest_first=False))
        return ids[pick % len(ids)] if ids and pick is not None else 10**9

    @staticmethod
    def http(response: Any) -> Any:
        return response.status_code, response.json()

    @rule(path=READS)
    def api_read(self, path: str) -> None:
        self.on_each(lambda app, c: self.http(c.get(path)))

    @rule(state=st.none() | st.sampled_from([*STATES, "failed,cancelled"]),
          job=st.sampled_from([None, "work", "side", "durable", "nope"]),
          owner=st.none() | OWNERS.map(str) | st.just("system"),
          text=st.none() | TEXT, limit=st.sampled_from([None, 1, 2, 500]),
          before=PICK, parent=PICK)
    def api_runs(self, state: str | None, job: str | None, owner: str | None,
                 text: str | None, limit: int | None, before: int | None,
                 parent: int | None) -> None:
        def call(app: Conveyor, c: Any) -> Any:
            params = {"state": state, "job": job, "owner": owner, "q": text, "limit": limit,
                      "before": None if before is None else self.run_id(app, before),
                      "parent": None if parent is None else self.run_id(app, parent)}
            return self.http(c.get("/api/runs", params={
                k: v for k, v in params.items() if v is not None}))

        self.on_each(call)

    @rule(pick=PICK)
    def api_run(self, pick: int | None) -> None:
        self.on_each(lambda app, c: self.http(c.get(f"/api/runs/{self.run_id(app, pick)}")))

    @rule(slug=st.sampled_from(["work", "side", "durable"]), body=BODIES)
    def api_trigger(self, slug: str, body: dict[str, Any]) -> None:
        self.on_each(lambda app, c: self.http(c.post(f"/api/jobs/{slug}/run", json=body)))

    @rule(how=st.sampled_from(["", "fail", "retry", "error"]), text=TEXT,
          job=st.sampled_from(["rich", "parent"]))
    def trigger_more(self, how: str, text: str, job: str) -> None:
        self.on_each(lambda app, c: self.http(
            c.post(f"/api/jobs/{job}/run", json={"payload": [how, text]})))

    @rule(pick=PICK, action=st.sampled_from(["cancel", "cancel-cascade", "retry", "rerun"]))
    def api_act(self, pick: int | None, action: str) -> None:
        self.on_each(lambda app, c: self.http(
            c.post(f"/api/runs/{self.run_id(app, pick)}/{action}")))

    @rule(kind=st.sampled_from(["queues", "jobs"]), name=NAMES | st.sampled_from(["work"]),
          action=st.sampled_from(["pause", "resume"]))
    def api_pause(self, kind: str, name: str, action: str) -> None:
        self.on_each(lambda app, c: self.http(c.post(f"/api/{kind}/{name}/{action}")))

    @rule(pick=st.integers(0, 5), action=st.sampled_from(["pause", "resume"]))
    def api_schedule(self, pick: int, action: str) -> None:
        def call(app: Conveyor, c: Any) -> Any:
            ids = sorted(s.id for s in app.schedules()) or ["nope"]
            return self.http(c.post(f"/api/schedules/{ids[pick % len(ids)]}/{action}"))

        self.on_each(call)

    @rule(name=st.sampled_from(["signed.up", "other", ""]),
          payload=st.sampled_from([{"plan": "pro"}, {"plan": 1}, {"plan": "free"}, None, [],
                                   {"zz": 1.0, "plan": "pro", "a": {"y": 1, "b": -0.0}}]),
          event_id=st.sampled_from([None, "e", "E", "é", "É", "a b", "Z", "😀"]))
    def api_event(self, name: str, payload: Any, event_id: str | None) -> None:
        body = {"name": name, "payload": payload} | ({"id": event_id} if event_id else {})
        self.on_each(lambda app, c: self.http(c.post("/api/events", json=body)))

    @rule(command=st.sampled_from([["jobs"], ["schedules"], ["queues"], ["runs"],
                                   ["runs", "--state", "failed,queued"],
                                   ["runs", "--job", "work", "--limit", "2"],
                                   ["runs", "--queue", "side,é"], ["runs", "--owner", "0"],
                                   ["runs", "--owner", "u"], ["runs", "--owner", "1"],
                                   ["runs", "--job", "tick,paris"]]))
    def cli_read(self, command: list[str]) -> None:
        self.on_each(lambda app, c: cli(app, *command, "--json"))

    @rule(args=st.sampled_from([["sync"], ["--pause", "tick"], ["--resume", "tick"],
                                ["--remove", "paris"], ["--pause", "nope"]]))
    def cli_schedules(self, args: list[str]) -> None:
        self.on_each(lambda app, c: cli(app, "schedules", *args))

    @rule(job=st.sampled_from(["work", "rich", "side"]), value=JSON, fail=st.integers(0, 3),
          tag=TEXT, options=st.lists(st.sampled_from([
              ["--in", "90 seconds"], ["--in", "1 month"], ["--at", "2031-03-30T01:00"],
              ["--at", "2031-03-30T00:00:00+02:00"], ["--queue", "é"], ["--priority", "high"],
              ["--priority", "-3"], ["--key", "k"], ["--owner", "1"], ["--owner", "u"],
              ["--owner", "0"], ["--replace"], ["--unique"], ["--all"]]), max_size=3))
    def cli_run(self, job: str, value: Any, fail: int, tag: str,
                options: list[list[str]]) -> None:
        payload = json.dumps({"value": value, "fail": fail, "tag": tag}, ensure_ascii=False)
        flat = [word for option in options for word in option]
        self.on_each(lambda app, c: cli(app, "run", job, "--payload", payload, *flat))

    @rule(command=st.sampled_from([
        ["pause", "--queue", "narrow"], ["resume", "--queue", "narrow"], ["pause", "--job", "rich"],
        ["resume", "--job", "rich"], ["pause", "--queue", "É", "--job", "side"],
        ["purge", "--state", "failed"], ["purge", "--older-than", "1 hour"],
        ["purge", "--job", "rich", "--state", "completed"], ["purge", "--expired"]]))
    def cli_write(self, command: list[str]) -> None:
        self.on_each(lambda app, c: cli(app, *command))

    @rule(pick=PICK)
    def cli_children(self, pick: int | None) -> None:
        self.on_each(lambda app, c: cli(app, "runs", "--parent", str(self.run_id(app, pick)),
                                        "--json"))

    @rule(verb=st.sampled_from(["show", "cancel", "retry"]), picks=st.lists(PICK, max_size=2))
    def cli_ids(self, verb: str, picks: list[int | None]) -> None:
        def call(app: Conveyor, c: Any) -> Any:
            ids = [str(self.run_id(app, p)) for p in picks] or ["1"]
            return cli(app, verb, *ids, *(["--json"] if verb == "show" else []))

        self.on_each(call)

    @invariant()
    def stores_agree(self) -> None:
        self.on_each(lambda app, c: [self.http(c.get("/api/runs?limit=500")),
                                     self.http(c.get("/api/counts")),
                                     cli(app, "runs", "--json", "--limit", "1000")])


def test_every_surface_shows_the_same_on_every_store(trio: Trio) -> None:
    Surfaces.trio = trio
    run_state_machine_as_test(Surfaces, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None,
        suppress_health_check=list(HealthCheck), phases=PHASES))
