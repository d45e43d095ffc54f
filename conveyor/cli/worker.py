"""``conveyor worker APP``: run jobs until stopped (or, with ``--burst``, until idle)."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
import time

import click

from conveyor.app import Conveyor
from conveyor.cli.base import PRESET_APP, app_options, fail
from conveyor.cli.render import plural, safe_url
from conveyor.cli.supervise import stop_with_supervisor
from conveyor.logs import JsonFormatter
from conveyor.logs import configure as configure_logging


@click.command()
@app_options(positional=True)
@click.option("-c", "--concurrency", type=click.IntRange(1, 100_000), metavar="N", default=10,
              show_default=True, help="Jobs run at once by each worker process.")
@click.option("-p", "--processes", type=click.IntRange(1, 1024), metavar="N", default=1,
              show_default=True,
              help="Worker processes to run and supervise (restarted when they die); "
                   "together they run up to PROCESSES x CONCURRENCY jobs at once.")
@click.option("-q", "--queues", metavar="A,B", default=None,
              help="Only take jobs from these queues (comma-separated); default all.")
@click.option("--burst", is_flag=True,
              help="Exit once nothing is due and nothing is running.")
@click.option("--grace", type=click.FloatRange(min=0), default=30.0, show_default=True,
              metavar="SECONDS",
              help="On SIGTERM/SIGINT, how long running jobs may finish before they are "
                   "released to other workers.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"],
                                               case_sensitive=False),
              default="info", show_default=True,
              help="info: one line per attempt outcome; debug adds each start.")
@click.option("--log-format", type=click.Choice(["text", "json"], case_sensitive=False),
              default="text", show_default=True,
              help="json: one JSON object per line (time, level, logger, message, fields).")
@click.option("--metrics-port", type=click.IntRange(min=1, max=65535), default=None,
              metavar="PORT", help="Serve Prometheus metrics at http://HOST:PORT/metrics.")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, metavar="HOST",
              help="Interface for --metrics-port (0.0.0.0: every interface).")
def worker(app: Conveyor, concurrency: int, processes: int, queues: str | None, burst: bool,
           grace: float, log_level: str, log_format: str, metrics_port: int | None,
           metrics_host: str) -> None:
    """Run a worker for APP (module:attr or path/to/app.py[:attr])."""
    if queues is not None and not queues.replace(",", "").strip():
        fail(f"--queues {queues!r} names no queue; give names like --queues mail,exports, "
             "or leave it out for every queue")
    if processes > 1 and app.url.startswith("memory:"):
        fail(f"--processes {processes} needs a store the processes share "
             "(sqlite:///file.db or postgresql://...); each process would have a memory:// "
             "store of its own")
    configure_logging(log_level, log_format.lower())
    if processes > 1:
        run_processes(app, processes, concurrency, burst, metrics_port, metrics_host)
    supervised = stop_with_supervisor()  # a worker of `--processes N`
    if metrics_port is not None:  # first: a port in use is then the only line printed
        serve_metrics(app, metrics_host, metrics_port)
    announce(f"conveyor worker: {plural(len(app.jobs), 'job')} on {safe_url(app.url)} "
             f"(concurrency {concurrency}, queues {queues or 'all'}"
             f"{', burst' if burst else ''})")
    app.run_worker(concurrency=concurrency, queues=queues, burst=burst, grace=grace,
                   supervised=supervised)
    exit_past_stuck_jobs(app)


def run_processes(app: Conveyor, processes: int, concurrency: int, burst: bool,
                  metrics_port: int | None, metrics_host: str = "127.0.0.1") -> None:
    """Become the supervisor of ``processes`` workers (this process runs no jobs). With
    ``--metrics-port`` it serves the metrics of all of them: the workers write their
    counters to ``$PROMETHEUS_MULTIPROC_DIR`` (a fresh directory unless set)."""
    from conveyor.cli.supervise import child_arguments, supervise, without_options

    args = child_arguments(sys.argv)
    if args is None or PRESET_APP.get() is app:  # flask/manage.py: children cannot find it
        fail("--processes works with the `conveyor worker` command")
    if metrics_port is not None:
        args = without_options(args, ("--metrics-port", "--metrics-host"))
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="conveyor-metrics-")
        serve_metrics(app, metrics_host, metrics_port)  # job counts read from the store
    announce(f"conveyor worker: supervising {processes} processes on {safe_url(app.url)} "
             f"(up to {processes * concurrency} jobs at once)", "conveyor.supervisor")
    if metrics_port is None:
        app.close()
    raise SystemExit(supervise(args, processes, burst))


def serve_metrics(app: Conveyor, host: str, port: int) -> None:
    from conveyor.observe import metrics

    if not metrics.install(app):
        fail("--metrics-port needs prometheus_client: pip install 'conveyor[metrics]'")
    try:
        metrics.serve(app, port, host)
    except OSError as exc:
        fail(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}")
    announce(f"metrics at http://{host}:{port}/metrics")


def announce(text: str, logger: str = "conveyor.worker") -> None:
    """A line for the operator on stderr: as a log record under ``--log-format json``
    (one JSON object per line), else plain text."""
    if any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers):
        logging.getLogger(logger).info(text)
    else:
        click.echo(text, err=True)


def exit_past_stuck_jobs(app: Conveyor, wait: float = 0.05) -> None:
    """Jobs still running after the grace period were released to other workers, but
    their threads cannot be interrupted: exit at once, before another worker's run of
    the job goes on beside them (``wait`` only lets idle threads end)."""
    deadline = time.monotonic() + wait
    for thread in threading.enumerate():
        if thread.name.startswith("conveyor-job"):  # idle pool threads end at once
            thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [t for t in threading.enumerate() if t.name.startswith("conveyor-job")]
    if not stuck:
        return
    logging.getLogger("conveyor.worker").warning(
        "exiting past %d job threads still running after the grace period", len(stuck)
    )
    app.close()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


commands = [worker]
