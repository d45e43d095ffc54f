"""conveyor works without its optional integrations installed (they are extras)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.support import ROOT

SCRIPT = textwrap.dedent("""
    import sys
    for name in ("prometheus_client", "opentelemetry", "time_machine", "sentry_sdk",
                 "django", "flask"):
        sys.modules[name] = None  # as if not installed: importing it fails
    from datetime import UTC, datetime
    from conveyor import Conveyor
    from conveyor.testing import FakeClock, run_until_idle
    from conveyor.observe import metrics, tracing

    app = Conveyor("memory://")
    ran = []

    @app.job
    def hello(name):
        ran.append(name)

    @app.on("completed")
    def done(record, error=None):
        ran.append(record.state)

    clock = FakeClock(app, start=datetime(2030, 1, 1, tzinfo=UTC))
    hello("later").run_in(1, "day")
    hello("now").run_now()
    run_until_idle(app)
    clock.advance(1, "day")
    run_until_idle(app)
    assert ran == ["now", "completed", "later", "completed"], ran
    assert not metrics.available() and not tracing.enabled()
    from starlette.testclient import TestClient
    answer = TestClient(app.asgi()).get("/metrics")
    assert answer.status_code == 501 and "conveyor[metrics]" in answer.text, answer.text
    print("ok")
""")


def test_core_runs_without_the_optional_packages() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin"})
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
