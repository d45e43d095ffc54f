"""Take the dashboard screenshots in docs/screenshots/ from the demo app.

    python scripts/screenshots.py [--out docs/screenshots] [--seconds 15]

Seeds ``examples/demo.py`` into a fresh SQLite file, runs ``conveyor worker`` on it for
a while so there is live history (completions, retries, failures, progress, logs), then
opens every page in Debian's Chromium (``/usr/bin/chromium``) and saves a PNG of each.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "demo.py"
CHROMIUM = os.environ.get("CONVEYOR_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def load_demo() -> Any:
    spec = importlib.util.spec_from_file_location("conveyor_demo", DEMO)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pick_run(app: Any) -> int:
    """A run worth showing: retried, with logs; else any finished run."""
    for record in app.jobs_list(job="charge_card", limit=200):
        if record.attempts > 1 and record.finished:
            return int(record.id)
    return int(app.jobs_list(limit=1)[0].id)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    from conveyor.dashboard.background import BackgroundServer

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CONVEYOR_URL"] = f"sqlite:///{tmp}/demo.db"
        demo = load_demo()
        demo.seed()
        demo.app.send_event("user.signed_up", {"id": 42, "plan": "pro"}, id="evt-demo-1")
        if hasattr(demo.app, "pause_schedule"):  # a runtime schedule for the schedules page
            demo.app.schedule_job(type="fetch_price", data="ACME", schedule="every 5 minutes")
            demo.app.schedule_job(type="monthly_report", data="2026-11",
                                  schedule="on the 1st day of the month at 6:00")
        # The worker runs a copy of the demo from the temporary folder, so the tracebacks
        # on the run page name "demo.py", not a path on this machine.
        shutil.copy(DEMO, Path(tmp) / "demo.py")
        worker = subprocess.Popen(
            [sys.executable, "-c", "from conveyor.cli import main; main()", "worker",
             "demo.py", "--concurrency", "4"], env=os.environ.copy(), cwd=tmp,
        )
        try:
            time.sleep(args.seconds)
            shots = [
                ("overview", "/"), ("jobs", "/jobs"), ("job", "/jobs/charge-card"),
                ("runs", "/runs"), ("run", f"/runs/{pick_run(demo.app)}"),
                ("runs-failed", "/runs?state=failed"), ("schedules", "/schedules"),
                ("events", "/events"),
            ]
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                with BackgroundServer(demo.app) as server:
                    for name, path in shots:
                        page.goto(server.url + path)
                        page.wait_for_load_state("networkidle")
                        page.screenshot(path=str(out / f"{name}.png"), full_page=True)
                        print(f"{out / name}.png")
                with BackgroundServer(demo.app, token="demo-token-" + "x" * 20) as server:
                    page.goto(server.url + "/")
                    page.screenshot(path=str(out / "login.png"))
                    print(f"{out / 'login'}.png")
                browser.close()
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
            demo.app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
