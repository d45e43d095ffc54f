"""``isolation="process"``: run one attempt in a child process (spawn, never fork).

The child imports the job's module afresh, calls the function with the JSON arguments and
sends back JSON (a result, or an error with its traceback) through a pipe. The parent waits
without blocking the event loop; at the timeout it kills the child for real, and a child
that dies (a signal, ``os.abort()``, the OOM killer) fails only that attempt, with the exit
status as its error.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import contextvars
import ctypes
import functools
import importlib
import importlib.util
import inspect
import json
import marshal
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import FunctionType, ModuleType
from typing import Any, TypeVar

from conveyor.errors import AttemptCrashed, ConfigurationError
from conveyor.limits import global_names, nested

_CONTEXT = multiprocessing.get_context("spawn")
T = TypeVar("T")
CHILD = "conveyor-isolated-"  # how the name of an attempt's child process starts
# The exit status of a child that started a worker while spawn re-ran the main script
# (it has no pipe to the worker yet): EX_CONFIG.
WORKER_REFUSED = 78
WORKER_IN_CHILD = (
    "the child process of this isolation=\"process\" attempt tried to start a worker: a "
    "spawned child imports the job's module and the script the worker was started from "
    "again, and one of them starts a worker when imported (app.run_worker() at module "
    "level). Put the worker's start under `if __name__ == \"__main__\":`, or drop it and "
    "run `conveyor worker path/to/app.py`"
)


class _Child:
    refused = False  # this child tried to start a worker: its attempt fails for good


def refuse_worker() -> None:
    """Raise if this process is an isolated attempt's child: it must never run a worker
    (it would claim jobs, or hang its attempt). While spawn re-runs the main script the
    child exits with :data:`WORKER_REFUSED`, which the worker reads as this error."""
    process = multiprocessing.current_process()
    if not process.name.startswith(CHILD):
        return
    _Child.refused = True
    if getattr(process, "_inheriting", False):
        raise SystemExit(WORKER_REFUSED)
    raise ConfigurationError(WORKER_IN_CHILD)


class ChildFailed(Exception):
    """An isolated attempt raised: carries the child's stored error."""

    def __init__(self, error: str, retryable: bool) -> None:
        super().__init__(error)
        self.error = error
        self.retryable = retryable

    def stand_in(self) -> ChildError:
        """The child's exception as the parent can know it (what hooks receive)."""
        try:
            data = json.loads(self.error)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            data = {}
        name, message = data.get("type"), data.get("message")
        error = _named(name if isinstance(name, str) else "ChildError")(
            message if isinstance(message, str) else "")
        traceback = data.get("traceback")
        error.traceback = traceback if isinstance(traceback, str) else ""
        return error


class ChildError(Exception):
    """An exception raised in an isolated attempt's child process, as its parent knows
    it: its class is named after the child's exception type (``KeyError``, ...), its
    text is the child's message and ``traceback`` the child's traceback."""

    traceback = ""


@functools.lru_cache(maxsize=256)
def _named(name: str) -> type[ChildError]:
    if not name.isidentifier():
        return ChildError
    return type(name, (ChildError,), {"__module__": __name__, "__qualname__": name})


@dataclass(frozen=True)
class Target:
    """Where a child finds the job's function: imported by name, or (a function defined
    inside another, as in a test) rebuilt from its code in the job module's globals."""

    module: str
    file: str | None
    qualname: str
    code: bytes | None = None  # marshal of the code of a nested function
    modules: tuple[tuple[str, str], ...] = ()  # global name -> module, if import fails
    defaults: str | None = None  # JSON of the nested function's defaults

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> Target:
        module = sys.modules.get(fn.__module__)
        file = getattr(module, "__file__", None)
        if not nested(fn):
            return cls(fn.__module__, file, fn.__qualname__)
        code = fn.__code__
        modules = tuple(
            (name, value.__name__) for name in sorted(global_names(code))
            if isinstance(value := fn.__globals__.get(name), ModuleType)
        )
        defaults = json.dumps(fn.__defaults__) if fn.__defaults__ else None
        return cls(fn.__module__, file, fn.__qualname__, marshal.dumps(code), modules, defaults)


async def run_isolated(job_id: str, fn: Callable[..., Any], args: str, kwargs: str,
                       timeout: float | None, meta: Any = None,
                       note: Callable[[Any], None] | None = None,
                       serve: Callable[[Any], Any] | None = None) -> Any:
    """Run one attempt in a child; returns the result or raises ChildFailed, TimeoutError,
    AttemptCrashed, or RetryIn. ``meta`` (a picklable ``ChildMeta``) is the child's
    ``meta`` argument; ``note`` receives the log lines and progress it sends meanwhile,
    ``serve`` the requests it waits on (the triggers of ``meta.jobs``) and answers them."""
    receiver, sender = _CONTEXT.Pipe(duplex=True)  # the child asks, the parent answers
    process = _CONTEXT.Process(
        target=child_main, args=(sender, Target.of(fn), args, kwargs, meta),
        name=f"{CHILD}{job_id}", daemon=True,
    )
    starting = asyncio.ensure_future(in_thread("conveyor-isolated", process.start))
    try:
        await asyncio.shield(starting)
        sender.close()
        message = await in_thread("conveyor-isolated", _receive, receiver, process, timeout,
                                  note or _ignore, serve or _refuse)
    except BaseException:  # cancelled (shutdown, lost lease): the child goes too
        await _kill(starting, process)
        raise
    receiver.close()
    await in_thread("conveyor-isolated", process.join, 5.0)
    if message is None:
        if process.exitcode == WORKER_REFUSED:
            raise ChildFailed(_refused_json(), retryable=False)
        raise AttemptCrashed(_exit_status(process.exitcode))
    kind, payload = message
    if kind == "ok":
        return json.loads(payload)
    if kind == "retry_in":
        from conveyor.errors import RetryIn

        delay, unit = payload
        raise RetryIn(delay, unit)
    raise ChildFailed(payload, retryable=kind == "error")


async def _kill(starting: asyncio.Future[None], process: Any) -> None:
    """Kill the child, once started if it is starting (cancelled as it started, it would
    run its attempt on beside the retry)."""
    try:
        await asyncio.wait([starting])
    finally:
        if process.pid is not None:
            process.kill()


class ThreadAbandoned(BaseException):
    """Raised inside the thread of an attempt the worker gave up on (past its timeout, or
    shut down): it stops the thread at its next Python instruction (a BaseException, so
    ``except Exception`` in the job does not catch it). Code blocked inside C (a sleep, a
    socket read) sees it only when that call returns."""


async def in_thread(name: str, fn: Callable[..., T], *args: Any, interrupt: bool = False) -> T:
    """Run ``fn`` in a new daemon thread of its own (not a pool: a thread that never
    returns must not take a pool's slot); cancelling the await abandons the thread (and,
    with ``interrupt``, raises :class:`ThreadAbandoned` in it)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def report(value: Any, error: BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle, value, error)

    def work() -> None:
        try:
            try:
                value = fn(*args)
            except BaseException as exc:  # handed to the awaiting task
                report(None, exc)
                return
            report(value, None)
        except ThreadAbandoned:  # arrived after fn returned: nothing left to stop
            pass

    # The caller's context variables (its current span, say), as asyncio.to_thread does.
    thread = threading.Thread(target=contextvars.copy_context().run, args=(work,), name=name,
                              daemon=True)
    thread.start()
    try:
        return await future
    except asyncio.CancelledError:
        if interrupt and thread.is_alive() and thread.ident is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(thread.ident), ctypes.py_object(ThreadAbandoned)
            )
        raise


def _receive(receiver: Connection, process: Any, timeout: float | None,
             note: Callable[[Any], None], serve: Callable[[Any], Any]) -> Any:
    """The child's last message (its notes go to ``note`` on the way, its requests are
    answered by ``serve``), None if it died without one; TimeoutError past ``timeout``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not receiver.poll(left):
            process.kill()
            process.join(5.0)
            raise TimeoutError(f"timed out after {timeout:g} s (the child process was killed)")
        try:
            message = receiver.recv()
        except (EOFError, OSError):
            process.join(5.0)
            return None
        if message[0] == "call":
            with contextlib.suppress(OSError):  # the child is gone: nobody to answer
                receiver.send(serve(message[1]))
            continue
        if message[0] != "note":
            return message
        note(message[1])


def _ignore(note: Any) -> None:
    pass


def _refuse(request: Any) -> tuple[str, str, str]:
    return ("error", "ConfigurationError", "this attempt's meta cannot trigger jobs")


def _refused_json() -> str:
    script = getattr(sys.modules.get("__main__"), "__file__", None)
    where = f" (this child started one as it imported {script})" if script else ""
    return json.dumps({"type": "ConfigurationError", "module": "conveyor.errors",
                       "message": WORKER_IN_CHILD + where, "traceback": None})


def _exit_status(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"the child process exited with status {code} without a result"


def child_main(sender: Connection, target: Target, args: str, kwargs: str,
               meta: Any = None) -> None:
    """Entry point of the child process."""
    from conveyor.errors import Fail, PayloadError, RetryIn
    from conveyor.serialization import dumps
    from conveyor.worker.failure import error_json

    _follow_parent()
    try:
        fn = _load(target)
        extra = {} if meta is None else {"meta": meta.connect(sender)}
        result = fn(*json.loads(args), **json.loads(kwargs), **extra)
        if inspect.isawaitable(result):
            result = asyncio.run(_wait(result))
        message: tuple[str, Any] = ("ok", dumps(result, "result"))
    except (Fail, PayloadError) as exc:
        message = ("fail", error_json(exc))
    except RetryIn as exc:
        message = ("retry_in", (exc.delay, exc.unit))
    except BaseException as exc:  # SystemExit too: it fails the attempt
        message = ("fail" if _Child.refused else "error", error_json(exc))
    sender.send(message)
    sender.close()


def _follow_parent() -> None:
    """The worker alone decides when the child stops. SIGINT and SIGTERM are ignored: sent
    to the whole process group (Ctrl-C, systemd, ``docker stop``), they would fail the
    attempt, which the stopping worker lets finish within its grace period (and kills, to
    release it, past it). And the child exits at once if the worker dies (kill -9, OOM):
    its attempt is rescued after the lease and retried elsewhere, so an orphan must not
    run on beside the retry."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(70)

    threading.Thread(target=watch, name="conveyor-parent-watch", daemon=True).start()


async def _wait(awaitable: Any) -> Any:
    return await awaitable


def _load(target: Target) -> Any:
    if target.code is None:
        return _import(target)
    try:
        namespace = vars(_module(target))
    except Exception:  # the module cannot be imported here: its modules will do
        namespace = {"__builtins__": builtins, "__name__": target.module}
        for name, module_name in target.modules:
            namespace[name] = importlib.import_module(module_name)
    code = marshal.loads(target.code)
    defaults = tuple(json.loads(target.defaults)) if target.defaults else None
    return FunctionType(code, namespace, code.co_name, defaults)


def _import(target: Target) -> Any:
    found: Any = _module(target)
    for part in target.qualname.split("."):
        found = getattr(found, part)
    return getattr(found, "fn", found)  # the module holds the JobDefinition


def _module(target: Target) -> ModuleType:
    name = "__mp_main__" if target.module == "__main__" else target.module
    module = sys.modules.get(name)
    if module is None:
        try:
            module = importlib.import_module(name)
        except ImportError:
            if not target.file:
                raise
            spec = importlib.util.spec_from_file_location(name, target.file)
            if spec is None or spec.loader is None:
                raise
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
    return module
