"""When a worker renews its leases: on a fixed cadence from the first heartbeat, so a
slow heartbeat does not push the next one back (a pause after each would add the time
each took to the gap between renewals), and a late one is noticed."""

from __future__ import annotations


class Cadence:
    """Starts every ``interval`` seconds (monotonic time); a start that missed its slot
    by a whole interval or more (the loop was blocked, a heartbeat overran) re-anchors
    the cadence there rather than hurrying through the missed slots."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.due: float | None = None

    def start(self, now: float) -> float:
        """A heartbeat starts at ``now``; returns how late it is (seconds past its slot)."""
        due = now if self.due is None else self.due
        late = max(0.0, now - due)
        self.due = (now if late >= self.interval else due) + self.interval
        return late

    def wait(self, now: float) -> float:
        """Seconds from ``now`` until the next heartbeat is due (0: at once)."""
        return 0.0 if self.due is None else max(0.0, self.due - now)
