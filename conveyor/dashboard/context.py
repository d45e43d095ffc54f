"""The state every dashboard endpoint shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.templating import Jinja2Templates

from conveyor.dashboard.data import Views
from conveyor.dashboard.security import Security

if TYPE_CHECKING:
    from conveyor.app import Conveyor

# ASGI scope key: the path prefix the dashboard is mounted at ("" at the site root).
MOUNTED_AT = "conveyor.mounted_at"


@dataclass
class Dashboard:
    app: Conveyor
    views: Views
    security: Security
    templates: Jinja2Templates
