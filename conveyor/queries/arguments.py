"""Reading the arguments of job filters: texts, run ids, job ids by any spelling (the
definition, or the handle ``add_worker`` returned), and ids a store can hold; one clear
ConfigurationError for anything else."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from conveyor.errors import ConfigurationError
from conveyor.jobs import JobDefinition
from conveyor.reaction import WorkerHandle
from conveyor.text import check_text


def read_run_id(name: str, value: Any) -> int | None:
    if value is None:
        return None
    found = getattr(value, "id", value)
    number = None if isinstance(found, bool) else decimal_int(found)
    if number is None:
        raise ConfigurationError(f"invalid {name} {value!r}; accepted: a run id or handle")
    return number


_DECIMAL = re.compile(r"\s*[+-]?[0-9]+\s*")


def decimal_int(value: Any) -> int | None:
    """An int, or the decimal text of one (ASCII digits: ``int()`` would also read
    ``"1_0"`` as 10 and other scripts' digits, naming a job the text does not name);
    None for anything else."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _DECIMAL.fullmatch(value) and len(value) < 100:
        return int(value)
    return None


def read_text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"invalid {name} {value!r}; accepted: a str")
    return check_text(value, name)


def read_texts(name: str, value: Any) -> list[str] | None:
    if value is None or isinstance(value, str):
        one = read_text(name, value)
        return None if one is None else [one]
    values = None if isinstance(value, (bytes, dict)) or not isinstance(value, Iterable) \
        else list(value)
    if values is None or not all(isinstance(v, str) for v in values):
        raise ConfigurationError(f"invalid {name} {value!r}; accepted: a str or a list of str")
    return [check_text(v, name) for v in values]


def job_ids_of(value: Any) -> Any:
    """Job filters name a job by id, by its definition (the decorated function) or by
    the handle ``add_worker`` returned."""
    if isinstance(value, (list, tuple)):
        return [job_id_of(v) for v in value]
    return job_id_of(value)


def job_id_of(value: Any) -> Any:
    if isinstance(value, JobDefinition):
        return value.id
    return value.type if isinstance(value, WorkerHandle) else value


def read_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"invalid job id {value!r} in ids; accepted: ints")
    return value


def stored_id(job_id: Any) -> int | None:
    """``job_id`` (an int, its text, or a handle or record) as an id a store can hold;
    None for anything else, which can name no stored job (nor can ids past 64 bits)."""
    found = getattr(job_id, "id", job_id)
    number = None if isinstance(found, bool) else decimal_int(found)
    return number if number is not None and storable(number) else None


def read_count(name: str, value: Any) -> int:
    """``limit`` / ``offset`` of a list: a whole number >= 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(
            f"invalid {name} {value!r}: limit and offset must be >= 0 and whole numbers "
            "(limit=None lists every match)"
        )
    return value


def id_bound(job_id: int | None) -> int | None:
    """A bound on ids (``before_id`` / ``after_id``) within 64 bits, which every stored
    id is: a bound past them keeps the same meaning."""
    return None if job_id is None else min(max(job_id, -(2**63)), 2**63 - 1)


def storable(job_id: int) -> bool:
    """Whether ``job_id`` can be a stored id (64-bit; a larger one is simply unknown)."""
    return -(2**63) <= job_id < 2**63
