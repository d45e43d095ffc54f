"""Sentry: report failed jobs (the ``sentry`` extra), built on ``@app.on`` hooks.

    import sentry_sdk
    from conveyor.contrib.sentry import install

    sentry_sdk.init(dsn=...)
    install(app)                    # every job that fails for good, with its exception

``install(app, retries=True)`` reports failed attempts that will be retried as well.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conveyor.app import Conveyor
    from conveyor.records import JobRecord


def report(record: JobRecord, error: BaseException | None = None) -> None:
    """Send one failed job to Sentry: the exception (or the stored error message),
    tagged with the job id and queue, with the run's id and attempts as context."""
    import sentry_sdk

    with sentry_sdk.new_scope() as scope:
        scope.set_tag("conveyor.job", record.job)
        scope.set_tag("conveyor.queue", record.queue)
        scope.set_context("conveyor", {
            "run_id": record.id, "state": record.state, "attempts": record.attempts,
            "max_attempts": record.max_attempts, "version": record.version,
        })
        scope.fingerprint = ["conveyor", record.job, type(error).__name__ if error else "-"]
        if error is not None:
            scope.capture_exception(error)
        else:
            message = (record.error or {}).get("message") or "failed"
            scope.capture_message(f"conveyor job {record.job} #{record.id}: {message}",
                                  level="error")


def install(app: Conveyor, retries: bool = False) -> None:
    """Report ``app``'s failed jobs to Sentry (and failed attempts that will be retried,
    with ``retries=True``)."""
    app.on("failed", report)
    if retries:
        app.on("retrying", report)


