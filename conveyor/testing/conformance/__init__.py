"""The store conformance suite, shipped so that any store can be checked against it.

Every test takes the fixture ``app`` (a :class:`~conveyor.Conveyor` on an empty store,
``lease=2``) or ``new_app`` (``new_app(**options)`` opens one more app with those options
on a new, empty store). To test a store of your own, define both fixtures and import the
suite into a test module::

    # test_my_store.py
    import pytest
    from conveyor import Conveyor
    from conveyor.testing.conformance import *  # noqa: F403  (every test of the suite)

    @pytest.fixture
    def new_app():
        opened = []
        def make(**options):
            opened.append(Conveyor(store=MyStore(), **options))
            return opened[-1]
        yield make
        for app in opened:
            app.close()

    @pytest.fixture
    def app(new_app):
        return new_app(lease=2)

conveyor runs this same suite on its memory, SQLite and PostgreSQL stores.
"""

import pytest

_MODULES = ("helpers", "test_async", "test_bulk", "test_children", "test_clock", "test_dedupe",
            "test_definitions", "test_dependencies", "test_dependency_names",
            "test_finding", "test_flow", "test_flow_claims", "test_input_checks", "test_leases",
            "test_maintenance", "test_poison", "test_priorities_and_queues", "test_readback",
            "test_retention", "test_retry_workflows", "test_running", "test_steering",
            "test_triggering", "test_worker")
pytest.register_assert_rewrite(*(f"conveyor.testing.conformance.{m}" for m in _MODULES))

from conveyor.testing.conformance.test_async import *  # noqa: E402, F403
from conveyor.testing.conformance.test_bulk import *  # noqa: E402, F403
from conveyor.testing.conformance.test_children import *  # noqa: E402, F403
from conveyor.testing.conformance.test_clock import *  # noqa: E402, F403
from conveyor.testing.conformance.test_dedupe import *  # noqa: E402, F403
from conveyor.testing.conformance.test_definitions import *  # noqa: E402, F403
from conveyor.testing.conformance.test_dependencies import *  # noqa: E402, F403
from conveyor.testing.conformance.test_dependency_names import *  # noqa: E402, F403
from conveyor.testing.conformance.test_finding import *  # noqa: E402, F403
from conveyor.testing.conformance.test_flow import *  # noqa: E402, F403
from conveyor.testing.conformance.test_flow_claims import *  # noqa: E402, F403
from conveyor.testing.conformance.test_input_checks import *  # noqa: E402, F403
from conveyor.testing.conformance.test_leases import *  # noqa: E402, F403
from conveyor.testing.conformance.test_maintenance import *  # noqa: E402, F403
from conveyor.testing.conformance.test_poison import *  # noqa: E402, F403
from conveyor.testing.conformance.test_priorities_and_queues import *  # noqa: E402, F403
from conveyor.testing.conformance.test_readback import *  # noqa: E402, F403
from conveyor.testing.conformance.test_retention import *  # noqa: E402, F403
from conveyor.testing.conformance.test_retry_workflows import *  # noqa: E402, F403
from conveyor.testing.conformance.test_running import *  # noqa: E402, F403
from conveyor.testing.conformance.test_steering import *  # noqa: E402, F403
from conveyor.testing.conformance.test_triggering import *  # noqa: E402, F403
from conveyor.testing.conformance.test_worker import *  # noqa: E402, F403
