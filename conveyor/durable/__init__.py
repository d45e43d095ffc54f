"""Durable runs: jobs with an ``io`` parameter replay from stored steps (SPEC §5)."""

from __future__ import annotations

from conveyor.durable.extension import DurableExtension
from conveyor.durable.io import IO, StepLogger
from conveyor.durable.runner import Context
from conveyor.durable.steps import Step

__all__ = ["IO", "Context", "DurableExtension", "Step", "StepLogger"]
