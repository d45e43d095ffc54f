"""Helpers shared by the acceptance tests of SPEC §1-12 (public names only)."""

from __future__ import annotations

from conveyor import Conveyor, JobRecord


def record_of(app: Conveyor, job_id: object) -> JobRecord:
    """The stored record of ``job_id``, which must exist."""
    record = app.get_job(job_id)
    assert record is not None
    return record
