"""A maintenance pass runs every stage even when one before it raises, whatever it raises."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.host import BaseExtension
from conveyor.maintenance import maintain


class _Own(BaseException):
    """An extension's own BaseException subclass."""


@pytest.mark.parametrize("error", [RuntimeError, _Own, SystemExit])
def test_a_failing_extension_leaves_the_stages_after_it_to_run(error: type) -> None:
    ran: list[str] = []

    class Broken(BaseExtension):
        def maintain(self, app: Any, store: Any, leader: bool) -> None:
            ran.append("broken")
            raise error("stage ✗")

    class Fine(BaseExtension):
        def maintain(self, app: Any, store: Any, leader: bool) -> None:
            ran.append("fine")

    with Conveyor("memory://") as app:
        app.extensions[:0] = [Broken()]
        app.extensions.append(Fine())
        with pytest.raises(error, match="stage ✗"):
            maintain(app, app.store, True)
    assert ran == ["broken", "fine"]
