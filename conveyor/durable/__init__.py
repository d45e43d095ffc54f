"""Durable runs: jobs with an ``io`` parameter replay from stored steps (SPEC §5)."""

from __future__ import annotations

from typing import Protocol

from conveyor.durable.engine import DurableHost
from conveyor.durable.extension import DurableExtension
from conveyor.durable.io import IO, StepLogger
from conveyor.durable.runner import Context
from conveyor.durable.steps import Step
from conveyor.host import Host


class InstallHost(DurableHost, Host, Protocol):
    """An app durable runs are installed into."""

    durable_runs: DurableExtension

def install(app: InstallHost) -> None:
    """Give ``app`` durable runs and events (called by Conveyor.__init__)."""
    extension = DurableExtension(app)
    app.durable_runs = extension
    app.durable_runner = extension.run
    app.extensions.append(extension)


__all__ = ["IO", "Context", "DurableExtension", "Step", "StepLogger", "install"]
