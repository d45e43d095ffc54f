"""A store that does not exist yet, opened by a read-only command: nothing is created,
and every use raises :class:`~conveyor.errors.StoreMissing` with one clear line."""

from __future__ import annotations

from typing import Any

from conveyor.errors import StoreMissing


class MissingStore:
    """Stands in for a store that does not exist (or has an older schema) while reading.
    ``options`` are the store options it was opened with (to open it again later)."""

    def __init__(self, url: str, message: str, options: dict[str, object] | None = None
                 ) -> None:
        self.url = url
        self.message = message
        self.options = dict(options or {})

    def use_clock(self, clock: Any) -> None:
        """Nothing to tell: this store holds nothing."""

    def close(self) -> None:
        """Nothing to release."""

    def wake(self) -> None:
        """No worker runs on a store that does not exist."""

    def migrate(self) -> list[str]:
        raise StoreMissing(self.message)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise StoreMissing(self.message)
