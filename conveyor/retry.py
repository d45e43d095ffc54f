"""Retry policy: how many times a failed job is retried and how long each retry waits."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final, Literal, cast

from conveyor.errors import ConfigurationError
from conveyor.timeunits import parse_duration

__all__ = ["BACKOFFS", "MAX_DELAY", "Backoff", "Retry", "coerce_retry"]

Backoff = Literal["fixed", "exponential", "linear"]
BACKOFFS: Final[tuple[Backoff, ...]] = ("fixed", "exponential", "linear")

#: No retry waits longer than this (100 years, before jitter), so a runaway exponential
#: policy without ``max_wait`` still yields a date the calendar can hold.
MAX_DELAY: Final = 100 * 365 * 86400.0

#: Jitter spreads a delay uniformly over ``delay * (1 ± JITTER)``.
JITTER: Final = 0.25

_FIELDS: Final = ("retries", "wait", "backoff", "max_wait", "jitter")
_REACTION_FIELDS: Final = ("retries", "wait", "backoff")
# Reaction's job queue (meteor job-collection) calls fixed backoff "constant" and
# waits 5 minutes when no wait is given.
_REACTION_BACKOFFS: Final[dict[str, Backoff]] = {
    "constant": "fixed",
    "fixed": "fixed",
    "exponential": "exponential",
    "linear": "linear",
}
_REACTION_DEFAULT_WAIT_MS: Final = 5 * 60 * 1000


@dataclass(frozen=True)
class Retry:
    """A retry policy.

    The k-th retry (k = 1, 2, …) waits ``wait`` (fixed), ``wait * k`` (linear) or
    ``wait * 2 ** (k - 1)`` (exponential), capped by ``max_wait``; ``jitter=True`` then
    spreads the delay uniformly over ±25%. ``wait`` and ``max_wait`` accept seconds, a
    timedelta or text such as ``"1 minute"`` and are stored as float seconds.
    """

    retries: int = 0
    wait: float | timedelta | str = 0
    backoff: Backoff = "fixed"
    max_wait: float | timedelta | str | None = None
    jitter: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.retries, bool) or not isinstance(self.retries, int):
            raise ConfigurationError(
                f"Retry retries must be a whole number >= 0, got "
                f"{type(self.retries).__name__} {self.retries!r}"
            )
        if self.retries < 0:
            raise ConfigurationError(
                f"Retry retries must be a whole number >= 0, got {self.retries!r}"
            )
        if self.retries > 2**31 - 2:  # attempts are stored as 32-bit ints
            raise ConfigurationError(
                f"Retry retries must be at most {2**31 - 2}, got {self.retries!r}"
            )
        if self.backoff not in BACKOFFS:
            raise ConfigurationError(
                f"unknown Retry backoff {self.backoff!r}; accepted: {', '.join(BACKOFFS)}"
            )
        if not isinstance(self.jitter, bool):
            raise ConfigurationError(
                f"Retry jitter must be True or False, got {type(self.jitter).__name__} "
                f"{self.jitter!r}"
            )
        if self.wait is None:
            raise ConfigurationError(
                'Retry wait must be seconds, a timedelta or text like "1 minute", got None'
            )
        object.__setattr__(self, "wait", _duration("wait", self.wait))
        object.__setattr__(self, "max_wait", _duration("max_wait", self.max_wait))

    @property
    def wait_seconds(self) -> float:
        """``wait`` in seconds (typed as a float)."""
        return cast(float, self.wait)

    @property
    def max_wait_seconds(self) -> float | None:
        """``max_wait`` in seconds, or ``None`` for no cap (typed)."""
        return cast("float | None", self.max_wait)

    @property
    def max_attempts(self) -> int:
        """The first attempt plus every retry."""
        return self.retries + 1

    def delay(self, k: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before the k-th retry (k = 1, 2, …)."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"retry number k must be an int >= 1, got {k!r}")
        wait = self.wait_seconds
        max_wait = self.max_wait_seconds
        cap = MAX_DELAY if max_wait is None else min(max_wait, MAX_DELAY)
        if wait == 0 or self.backoff == "fixed":
            factor = 1.0
        elif self.backoff == "linear":
            factor = float(k) if k < 2**1000 else math.inf
        else:  # exponential; 2.0 ** 1000 is far past any cap, so stop there
            factor = 2.0 ** (k - 1) if k <= 1000 else math.inf
        seconds = min(wait * factor, cap)
        if self.jitter:
            uniform = rng.uniform if rng is not None else random.uniform
            seconds *= uniform(1 - JITTER, 1 + JITTER)
        return max(seconds, 0.0)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict that ``from_json`` turns back into an equal policy."""
        return {
            "retries": self.retries,
            "wait": self.wait_seconds,
            "backoff": self.backoff,
            "max_wait": self.max_wait_seconds,
            "jitter": self.jitter,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Retry:
        """Rebuild a policy from ``to_json`` output (wait and max_wait in seconds)."""
        return cls(**_options(d, _FIELDS, "Retry"))

    @classmethod
    def from_reaction(cls, d: dict[str, Any]) -> Retry:
        """Read a Reaction-style policy: ``{"retries": 5, "wait": 60000, "backoff": ...}``.

        ``wait`` is in milliseconds (default 5 minutes, as in Reaction's job queue) and
        ``backoff`` may also be ``"constant"`` (= ``"fixed"``).
        """
        options = _options(d, _REACTION_FIELDS, "Reaction-style retry")
        wait_ms = options.get("wait", _REACTION_DEFAULT_WAIT_MS)
        if (
            isinstance(wait_ms, bool)
            or not isinstance(wait_ms, int | float)
            or not math.isfinite(wait_ms)
            or wait_ms < 0
        ):
            raise ConfigurationError(
                f"Reaction-style retry wait is milliseconds (a number >= 0), got "
                f"{type(wait_ms).__name__} {wait_ms!r}"
            )
        backoff = options.get("backoff", "fixed")
        if backoff not in _REACTION_BACKOFFS:
            raise ConfigurationError(
                f"unknown Reaction-style retry backoff {backoff!r}; accepted: "
                f"{', '.join(_REACTION_BACKOFFS)}"
            )
        retries = options.get("retries", 0)
        if isinstance(retries, float) and retries.is_integer():  # JavaScript numbers
            retries = int(retries)
        return cls(
            retries=retries,
            wait=wait_ms / 1000,
            backoff=_REACTION_BACKOFFS[backoff],
        )


def coerce_retry(value: Retry | int | dict[str, Any] | None) -> Retry | None:
    """Accept a ``Retry``, a number of retries, a dict of ``Retry`` options, or ``None``."""
    if value is None or isinstance(value, Retry):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Retry(retries=value)
    if isinstance(value, dict):
        return Retry(**_options(value, _FIELDS, "Retry"))
    raise ConfigurationError(
        f"retry must be a Retry, an int (number of retries) or a dict of Retry options, "
        f"got {type(value).__name__} {value!r}"
    )


def _duration(field: str, value: Any) -> float | None:
    try:
        return parse_duration(value)
    except ConfigurationError as exc:
        raise ConfigurationError(f"Retry {field}: {exc}") from None


def _options(d: Any, accepted: tuple[str, ...], what: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise ConfigurationError(
            f"{what} must be a dict with keys {', '.join(accepted)}, got {type(d).__name__}"
        )
    unknown = [key for key in d if key not in accepted]
    if unknown:
        raise ConfigurationError(
            f"unknown {what} option {', '.join(repr(k) for k in unknown)}; "
            f"accepted: {', '.join(accepted)}"
        )
    return dict(d)
