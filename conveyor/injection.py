"""The parameters the worker fills in by name (``meta``, ``io``, ``ctx``) and how a job's
stored arguments reach a function that takes one of them before its own parameters
(``def resize(meta, path)``): those are then passed by name."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from conveyor.errors import ConfigurationError

# Parameters the worker fills in; they are not part of a job's payload.
INJECTED = ("meta", "io", "ctx")


def is_async_callable(fn: Callable[..., Any]) -> bool:
    """Whether calling ``fn`` gives a coroutine to await: an ``async def`` function (a
    partial or bound method of one too) or an object whose ``__call__`` is one."""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004
    )


def arguments_for(job_id: str, fn: Callable[..., Any], args: list[Any],
                  kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """:meth:`JobDefinition.arguments` for another function of the job (a kept version)."""
    params = inspect.signature(fn).parameters
    wants = frozenset(p for p in INJECTED if p in params)
    return named(by_name(job_id, params, wants), args, kwargs)


def named(names: tuple[str, ...], args: list[Any], kwargs: dict[str, Any]
          ) -> tuple[list[Any], dict[str, Any]]:
    """``args`` passed as ``names`` (the leading ones), with ``kwargs``."""
    if not names or not args:
        return args, kwargs
    return args[len(names):], {**dict(zip(names, args, strict=False)), **kwargs}


def by_name(job_id: str, params: Mapping[str, inspect.Parameter], wants: frozenset[str]
            ) -> tuple[str, ...]:
    """The own positional parameters when an injected one comes before one of them (they
    are then passed by name), else ()."""
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                  inspect.Parameter.VAR_POSITIONAL)
    names = list(params)
    first = min((names.index(w) for w in wants), default=len(names))
    if not any(params[n].kind in positional for n in names[first + 1:] if n not in wants):
        return ()
    odd = [n for n, p in params.items() if p.kind in positional[::2]]  # no name to pass
    if odd:
        raise ConfigurationError(
            f"job {job_id!r}: {names[first]!r} comes before the job's own parameters, so they "
            f"are passed by name, which {odd[0]!r} cannot take; put {', '.join(sorted(wants))} "
            "after the job's own parameters")
    return tuple(n for n, p in params.items() if n not in wants and p.kind in positional)


__all__ = ["INJECTED", "arguments_for", "by_name", "named"]
