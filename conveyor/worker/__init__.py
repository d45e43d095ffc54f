"""The worker: claims jobs in batches, runs them, completes them in batches."""

from conveyor.worker.loop import Worker

__all__ = ["Worker"]
