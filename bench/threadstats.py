"""CPU and context switches of a worker process's threads, grouped by what they do.

``name_os_threads()`` (called in the worker process) gives each OS thread its Python
thread's name (``/proc/self/task/TID/comm``, 15 characters), so that ``sample(pids)``
can tell the event loop, the database thread and the lane threads apart from outside.
"""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import threading
from collections import Counter

# comm prefix -> group (the main thread keeps the process's own name: the event loop)
GROUPS = (("conveyor-job", "lanes"), ("conveyor-db", "db"), ("MainThread", "loop"))


def name_os_threads() -> None:
    """Name every Python thread started from now on (and this one) in /proc."""
    _name("MainThread")
    start = threading.Thread.run

    def run(self: threading.Thread) -> None:
        _name(self.name)
        start(self)

    threading.Thread.run = run  # type: ignore[method-assign]


def _name(name: str) -> None:
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/comm", "w") as comm:
            comm.write(name[:15])
    except OSError:
        pass


def sample(pids: list[int]) -> dict[str, Counter[str]]:
    """By group (loop, db, lanes, other): ns on a CPU and voluntary / involuntary
    switches of the live threads of ``pids`` so far."""
    out: dict[str, Counter[str]] = {}
    for pid in pids:
        for task in glob.glob(f"/proc/{pid}/task/*"):
            try:
                with open(f"{task}/comm") as f:
                    comm = f.read().strip()
                with open(f"{task}/schedstat") as f:  # ns on a CPU (not clock ticks)
                    ran = int(f.read().split()[0])
                with open(f"{task}/status") as f:
                    status = f.read().splitlines()
            except OSError:  # the thread ended
                continue
            group = next((g for prefix, g in GROUPS if comm.startswith(prefix)), "other")
            counts = out.setdefault(group, Counter())
            counts["ns"] += ran
            for line in status:
                key, _, value = line.partition(":")
                if key == "voluntary_ctxt_switches":
                    counts["vol"] += int(value)
                elif key == "nonvoluntary_ctxt_switches":
                    counts["invol"] += int(value)
    return out


def report(before: dict[str, Counter[str]], after: dict[str, Counter[str]], jobs: int) -> str:
    """Per job, by group and in all: CPU µs, voluntary / involuntary switches."""
    lines, total = [], Counter[str]()
    for group in sorted(after):
        diff = Counter(after[group])
        diff.subtract(before.get(group, Counter()))
        total.update(diff)
        lines.append(_line(group, diff, jobs))
    lines.append(_line("all threads", total, jobs))
    return "\n".join(lines)


def _line(group: str, counts: Counter[str], jobs: int) -> str:
    return (f"  {group:<12} {counts['ns'] / jobs / 1e3:6.0f} us  "
            f"switches vol {counts['vol'] / jobs:5.2f}  invol {counts['invol'] / jobs:5.2f}")


SYSCALLS = ("futex", "epoll_wait", "sendto", "recvfrom", "write", "read", "pwrite64", "fcntl")


def count_syscalls(pids: list[int]) -> subprocess.Popen[str] | None:
    """``perf stat`` of some system calls of ``pids`` (every thread, those started later
    too; and the events in $BENCH_PERF_EVENTS) until :func:`syscalls_per_job`; None
    without perf (or the right to use it)."""
    events = ",".join(f"syscalls:sys_enter_{name}" for name in SYSCALLS)
    # e.g. probe_libpython3:take_gil, once made: perf probe -x .../libpython3.11.so take_gil
    if os.environ.get("BENCH_PERF_EVENTS"):
        events += "," + os.environ["BENCH_PERF_EVENTS"]
    try:
        return subprocess.Popen(
            ["perf", "stat", "-x", ",", "-e", f"{events},context-switches",
             "-p", ",".join(map(str, pids))],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    except OSError:
        return None


def syscalls_per_job(perf: subprocess.Popen[str] | None, jobs: int) -> str:
    if perf is None:
        return "  (no perf)"
    perf.send_signal(signal.SIGINT)
    _, err = perf.communicate(30)
    counts = []
    for line in err.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[0].isdigit():
            name = fields[2].removeprefix("syscalls:sys_enter_").rpartition(":")[2]
            counts.append(f"{name} {int(fields[0]) / jobs:.2f}")
    return "  " + ", ".join(counts) if counts else "  (perf counted nothing: " + err[-200:] + ")"
