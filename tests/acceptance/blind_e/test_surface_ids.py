"""SPEC §7/§8: a run id in an HTTP API path or query, or on the command line, is its
decimal digits; other text (``1_0``, other scripts' digits) names no run and gets a 4xx
with a JSON error, or one error line, never another run."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from starlette.testclient import TestClient

from conveyor import Conveyor
from conveyor.cli import main as cli


def _ten(app: Conveyor) -> list[int]:
    app.job("job")(lambda: None)
    return [app.jobs["job"]().run_in(1, "day").id for _ in range(10)]


def test_the_http_api_reads_run_ids_as_decimal_digits(app: Conveyor) -> None:
    ids = _ten(app)
    tenth, first = ids[9], ids[0]
    odd = [f"{str(tenth)[:-1]}_{str(tenth)[-1]}", "".join(chr(0x660 + int(d))
                                                          for d in str(first))]
    with TestClient(app.asgi()) as client:
        assert client.get(f"/api/runs/{tenth}").json()["id"] == tenth
        for text in odd:
            for method, path in [("GET", f"/api/runs/{text}"),
                                 ("POST", f"/api/runs/{text}/cancel")]:
                response = client.request(method, path)
                assert 400 <= response.status_code < 500 and "error" in response.json(), path
            response = client.get("/api/runs", params={"before": text})
            assert response.status_code == 400 and "before" in response.json()["error"]
    assert app.count(state="scheduled") == 10


def test_the_cli_reads_run_ids_as_decimal_digits(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/jobs.db"
    module = tmp_path / "jobs_app.py"
    module.write_text(f"from conveyor import Conveyor\napp = Conveyor({url!r})\n"
                      "app.job('job')(lambda: None)\n")
    with Conveyor(url) as app:
        tenth = _ten(app)[9]
    runner = CliRunner()
    for verb in ("show", "cancel", "retry"):
        result = runner.invoke(cli, [verb, "--app", str(module),
                                     f"{str(tenth)[:-1]}_{str(tenth)[-1]}"])
        assert result.exit_code == 2 and "run id" in result.output, (verb, result.output)
    shown = runner.invoke(cli, ["show", "--app", str(module), str(tenth)])
    assert shown.exit_code == 0 and str(tenth) in shown.output, shown.output
    with Conveyor(url) as app:
        assert app.count(state="scheduled") == 10
