"""``app.jobs``: the registry of an app's job definitions, by id, URL slug or attribute."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from conveyor.errors import ConfigurationError, UnknownJobError
from conveyor.jobs import JobDefinition, slugify


class _JobFirst:
    """A method of ``app.jobs`` that yields to a job of the same id: with ``def get(url)``
    defined, ``app.jobs.get`` is that job, as every other job is by attribute."""

    def __init__(self, method: Callable[..., Any]) -> None:
        self.method = method

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, registry: JobRegistry | None, owner: type) -> Any:
        if registry is None:
            return self.method
        found = registry.definition(self.name)
        return found if found is not None else self.method.__get__(registry, owner)


class JobRegistry(Mapping[str, JobDefinition]):
    """``app.jobs``: by id (``jobs["retry-request"]``) or attribute (``jobs.retry_request``).
    A job whose id is a method name (``get``, ``items``, ...) is found by attribute too; the
    registry's own methods have names no job is likely to take (``definition...``)."""

    def __init__(self) -> None:
        self._by_id: dict[str, JobDefinition] = {}
        self._by_slug: dict[str, JobDefinition] = {}

    def add_definition(self, definition: JobDefinition) -> None:
        existing = self._by_slug.get(definition.slug)
        if definition.id in self._by_id:
            raise ConfigurationError(
                f"job id {definition.id!r} clashes with the existing job of that id: it is "
                "already defined; job ids must be unique per app"
            )
        if existing is not None:
            raise ConfigurationError(
                f"job id {definition.id!r} clashes with the existing job {existing.id!r} "
                f"(both are {definition.slug!r} in URLs); job ids must be unique per app"
            )
        if not definition.slug:
            raise ConfigurationError(
                f"job id {definition.id!r} has no letters or digits; give it a readable id"
            )
        self._by_id[definition.id] = definition
        self._by_slug[definition.slug] = definition

    def remove_definition(self, job_id: str) -> JobDefinition | None:
        """Remove job ``job_id`` (a stopped worker's, taken over); returns it."""
        found = self._by_id.pop(job_id, None)
        if found is not None:
            self._by_slug.pop(found.slug, None)
        return found

    def definition(self, job_id: str) -> JobDefinition | None:
        """The job of this id, or None (a dict lookup: on every job's path)."""
        return self._by_id.get(job_id)

    def definition_by_slug(self, slug: str) -> JobDefinition | None:
        return self._by_slug.get(slug)

    def definition_named(self, name: str) -> JobDefinition | None:
        """The job of id ``name``, or of its slug (``send_email`` for ``"send-email"``):
        what ``app.jobs.<name>`` finds."""
        return self._by_id.get(name) or self._by_slug.get(slugify(name))

    def definitions(self) -> list[JobDefinition]:
        return list(self._by_id.values())

    def __getitem__(self, job_id: str) -> JobDefinition:
        try:
            return self._by_id[job_id]
        except KeyError:
            raise UnknownJobError(
                f"no job {job_id!r} is defined; defined jobs: {', '.join(self._by_id) or 'none'}"
            ) from None

    @_JobFirst
    def get(self, job_id: str, default: Any = None) -> Any:
        return self._by_id.get(job_id, default)

    keys = _JobFirst(Mapping.keys)
    items = _JobFirst(Mapping.items)
    values = _JobFirst(Mapping.values)

    def __getattr__(self, name: str) -> JobDefinition:
        if name.startswith("__"):
            raise AttributeError(name)
        found = self.definition_named(name)
        if found is None:
            raise AttributeError(
                f"no job {name!r} is defined; defined jobs: {', '.join(self._by_id) or 'none'}"
            )
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)


