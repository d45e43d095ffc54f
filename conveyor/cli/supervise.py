"""``conveyor worker --processes N``: supervise N worker processes.

The supervisor runs no jobs. It starts N copies of the same ``conveyor worker`` command
(each in its own session, so a terminal's Ctrl-C reaches only the supervisor), restarts
one that dies with a growing back-off, and on SIGTERM/SIGINT forwards the signal to each
worker, so they all shut down gracefully (its second signal reaches them as SIGUSR1: stop
now; a worker takes SIGTERM/SIGINT as one request to stop, however often they come). With
``--burst`` a worker that exits cleanly is done and is not restarted. A worker whose
supervisor is gone (kill -9) stops gracefully by itself.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

log = logging.getLogger("conveyor.supervisor")
RUN_CLI = "from conveyor.cli import main; main()"
SUPERVISOR_ENV = "CONVEYOR_SUPERVISOR_PID"
STOP_NOW = getattr(signal, "SIGUSR1", signal.SIGTERM)
BACKOFF_MAX = 30.0
HEALTHY_AFTER = 60.0  # a process that ran this long resets its back-off


@dataclass
class Slot:
    index: int
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    done: bool = field(default=False)


def child_arguments(argv: Sequence[str]) -> list[str] | None:
    """The ``worker ...`` arguments of this command line without ``--processes``, with the
    ``--app``/``--url`` given before ``worker`` (``conveyor --url X worker``) kept."""
    if "worker" not in argv:
        return None
    at = list(argv).index("worker")
    shared = [*_group_options(argv[:at]), *argv[at + 1:]]
    return ["worker", *without_options(shared, ("--processes", "-p"))]


def _group_options(prefix: Sequence[str]) -> list[str]:
    """The ``--app``/``--url`` options (``--app X`` or ``--app=X``) among ``prefix``."""
    kept: list[str] = []
    for i, arg in enumerate(prefix):
        if arg in ("--app", "--url") and i + 1 < len(prefix):
            kept += [arg, prefix[i + 1]]
        elif arg.startswith(("--app=", "--url=")):
            kept.append(arg)
    return kept


def without_options(args: list[str], names: tuple[str, ...]) -> list[str]:
    """``args`` without the options ``names`` (``--name VALUE`` or ``--name=VALUE``)."""
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in names:
            skip = True
        elif not arg.startswith(tuple(f"{n}=" for n in names)):
            kept.append(arg)
    return kept


def supervise(args: Sequence[str], processes: int, burst: bool, poll: float = 0.2) -> int:
    """Run ``processes`` workers with ``args`` until stopped; returns the exit status."""
    slots = [Slot(i) for i in range(processes)]
    signals: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        # A worker may get the first signal twice (systemd signals every process of the
        # unit): it stops gracefully however often; SIGUSR1 is the second, stop now.
        signals.append(signum)
        for slot in slots:
            if slot.process is not None and slot.process.poll() is None:
                slot.process.send_signal(signum if len(signals) == 1 else STOP_NOW)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    status = 0
    try:
        for slot in slots:
            _start(slot, args)
        while True:
            now = time.monotonic()
            for slot in slots:
                status = max(status, _tend(slot, args, now, stopping=bool(signals), burst=burst))
            if all(s.done for s in slots):
                return status
            time.sleep(poll)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _start(slot: Slot, args: Sequence[str]) -> None:
    slot.process = subprocess.Popen([sys.executable, "-c", RUN_CLI, *args],
                                    start_new_session=True,
                                    env={**os.environ, SUPERVISOR_ENV: str(os.getpid())})
    slot.started = time.monotonic()
    slot.restart_at = None
    log.info("worker process %d started (pid %d)", slot.index + 1, slot.process.pid)


def _tend(slot: Slot, args: Sequence[str], now: float, stopping: bool, burst: bool) -> int:
    """Look after one slot; returns a non-zero status worth reporting."""
    if slot.done:
        return 0
    if slot.process is None:
        if stopping:
            slot.done = True
        elif slot.restart_at is not None and now >= slot.restart_at:
            _start(slot, args)
        return 0
    code = slot.process.poll()
    if code is None:
        return 0
    slot.process = None
    if stopping or (burst and code == 0):
        slot.done = True
        return 0 if code in (0, -signal.SIGTERM, -signal.SIGINT, -STOP_NOW) else 1
    if now - slot.started > HEALTHY_AFTER:
        slot.failures = 0
    slot.failures += 1
    delay = min(BACKOFF_MAX, 0.5 * 2 ** (slot.failures - 1))
    slot.restart_at = now + delay
    log.warning("worker process %d exited with status %s; restarting in %.1f s",
                slot.index + 1, code, delay)
    return 0


def stop_with_supervisor(poll: float = 0.5) -> bool:
    """In a supervised worker (returns whether it is one): stop gracefully (as on SIGTERM)
    once the supervisor is gone. Killed with -9 it forwards no signal, and an orphan in
    its own session would run on unsupervised (beside the next supervisor's workers)."""
    supervisor = os.environ.pop(SUPERVISOR_ENV, "")
    if not supervisor.isdigit() or os.getppid() != int(supervisor):
        return False

    def watch() -> None:
        while os.getppid() == int(supervisor):
            time.sleep(poll)
        log.warning("the supervisor (pid %s) is gone; stopping", supervisor)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="conveyor-supervisor-watch", daemon=True).start()
    return True
