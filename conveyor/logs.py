"""Logging helpers: :class:`JsonFormatter` (one JSON object per line) and
:func:`configure`, which ``conveyor worker --log-level/--log-format`` uses.

conveyor logs under the logger ``conveyor`` (``conveyor.worker``: one line per attempt
outcome; ``conveyor.job``: the lines jobs write to ``meta.log``). To route them yourself,
use ``logging.config.dictConfig``::

    {"version": 1,
     "formatters": {"json": {"()": "conveyor.logs.JsonFormatter"}},
     "handlers": {"out": {"class": "logging.StreamHandler", "formatter": "json"}},
     "loggers": {"conveyor": {"handlers": ["out"], "level": "INFO"}}}
"""

from __future__ import annotations

import json
import logging
import math
import time
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "taskName",
}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: ``time`` (ISO 8601 UTC), ``level``,
    ``logger``, ``message``, the fields given in ``extra=``, and ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                data[name] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        try:
            return json.dumps(data, default=_default, ensure_ascii=False, allow_nan=False)
        except ValueError:  # NaN or Infinity in a field: not JSON, written as text
            return json.dumps(_finite(data), default=_default, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``logging.Formatter(TEXT_FORMAT)``, its time of day formatted once a second, not
    once a line (a worker logs a line per attempt)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self._second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second, stamp = self._second
        if int(record.created) != second:
            second = int(record.created)
            stamp = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = (second, stamp)
        return f"{stamp},{int(record.msecs):03d}"  # (logging's default_msec_format)


def _default(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities (in lists and dicts too) as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def configure(level: str = "info", fmt: str = "text") -> None:
    """Send conveyor's logs (and the root logger's) to stderr at ``level``, as text or
    JSON lines. Does nothing to a root logger that already has handlers."""
    root = logging.getLogger()
    logging.getLogger("conveyor").setLevel(level.upper())
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
