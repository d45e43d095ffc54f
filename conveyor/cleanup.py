"""Cleanup policies from ``app.include(plugin)``: ``cleanup = [{"type": ..., "purge_after_days":
7}]`` (the Reaction seed's ``purgeAfterDays`` too). A policy is stored, so it applies to
every finished job of that type in the store (triggered before it, or by other
processes); workers save the app's policies with the code schedules, and the retention
purge deletes finished jobs past them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from conveyor.errors import ConfigurationError
from conveyor.text import MAX_JOB_ID_BYTES, check_identifier

if TYPE_CHECKING:
    from conveyor.stores.base import MaintenanceStore

_EXAMPLE = "{'type': 'save-image/local', 'purge_after_days': 7}"


def parse_policies(policies: Iterable[Any]) -> dict[str, float]:
    """``{job id: seconds}`` from a plugin's ``cleanup`` list (refusing bad entries)."""
    found: dict[str, float] = {}
    for policy in policies:
        if not isinstance(policy, dict) or "type" not in policy:
            raise ConfigurationError(
                f"include(): each cleanup policy is a dict like {_EXAMPLE}, not {policy!r}"
            )
        given = [k for k in ("purge_after_days", "purgeAfterDays") if k in policy]
        days = policy[given[0]] if given else None
        if not isinstance(days, (int, float)) or isinstance(days, bool) or not days >= 0:
            raise ConfigurationError(
                f"include(): purge_after_days (or purgeAfterDays) for {policy['type']!r} "
                f"must be a number >= 0, not {days!r}; e.g. {_EXAMPLE}"
            )
        job_type = policy["type"]
        if not isinstance(job_type, str):
            raise ConfigurationError(
                f"include(): a cleanup policy's type is a job id (a str), not {job_type!r}; "
                f"e.g. {_EXAMPLE}"
            )
        check_identifier(job_type, "cleanup policy type", MAX_JOB_ID_BYTES)
        found[job_type] = float(days) * 86400.0
    return found


class CleanupPolicies(dict[str, float]):
    """An app's declared policies ``{job id: seconds}``, and where they were saved."""

    def __init__(self) -> None:
        super().__init__()
        self._saved: tuple[MaintenanceStore, dict[str, float]] | None = None

    def sync(self, store: MaintenanceStore) -> None:
        """Save the policies to ``store`` unless they are saved there already."""
        if not self or (self._saved is not None and self._saved[0] is store
                        and self._saved[1] == self):
            return
        store.save_cleanup(dict(self))
        self._saved = (store, dict(self))
