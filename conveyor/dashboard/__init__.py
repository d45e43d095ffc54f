"""The web dashboard and JSON HTTP API: ``create_app(app)`` or ``serve(app)``."""

from conveyor.dashboard.app import create_app
from conveyor.dashboard.server import DEFAULT_HOST, DEFAULT_PORT, check_bind, serve

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "check_bind", "create_app", "serve"]
