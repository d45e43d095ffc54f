"""Integrations with web frameworks: :mod:`conveyor.contrib.django`,
:mod:`conveyor.contrib.flask` (ASGI apps use ``app.asgi()`` and ``app.lifespan()``)."""
