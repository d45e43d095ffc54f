"""Facade methods that are a service's own: ``cron = delegate("scheduling", Scheduling.cron)``
in a class body makes ``app.cron(...)`` call ``app.scheduling.cron(...)``.

The service's function is the facade's method as far as readers see it (its signature
and docstring, on the class), so the facade states each public name once and the
service alone carries the logic and its documentation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

P = ParamSpec("P")
R = TypeVar("R")


class delegate(Generic[P, R]):  # lower case: used like a function in class bodies
    """The method ``method`` of the service the instance holds in attribute ``via``."""

    def __init__(self, via: str, method: Callable[Concatenate[Any, P], R]) -> None:
        self.via = via
        self.method = method
        self.name = method.__name__

    def __set_name__(self, owner: type, name: str) -> None:
        if name != self.name:
            raise TypeError(f"{owner.__name__}.{name} delegates to a method named {self.name!r}")

    @overload
    def __get__(self, instance: None, owner: type) -> Callable[Concatenate[Any, P], R]: ...

    @overload
    def __get__(self, instance: object, owner: type) -> Callable[P, R]: ...

    def __get__(self, instance: object | None, owner: type) -> Callable[..., R]:
        if instance is None:
            return self.method
        # Looked up on the service each time: a replaced service or method is the one called.
        method: Callable[P, R] = getattr(getattr(instance, self.via), self.name)
        return method
