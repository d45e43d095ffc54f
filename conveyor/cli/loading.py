"""Finding the app a command works on: ``module:attr`` or ``path/to/app.py[:attr]``.

``--url`` wins over the app's own store URL. It is set as ``$CONVEYOR_URL`` while the
app is imported, and an app built by URL there opens the ``--url`` store instead of its
own, which is never opened (:func:`conveyor.readonly.store_url`); an app given a
``store=`` object (or imported earlier) is switched to it right after import
(:meth:`conveyor.Conveyor.reopen`).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from conveyor import readonly
from conveyor.errors import ConfigurationError, ConveyorError

if TYPE_CHECKING:
    from conveyor.app import Conveyor


class AppNotFound(ConfigurationError):
    """The APP given to the command line cannot be found, imported or is not an app;
    ``detail``: what follows the one-line message (the app's own frames of an error)."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(f"{message}\n{detail}" if detail else message)
        self.headline, self.detail = message, detail


def load_app(spec: str, url: str | None = None) -> Conveyor:
    """Import the app ``spec`` names, with its store switched to ``url`` when given."""
    with _store_url(url), readonly.store_url(url):
        target, attr = split_spec(spec)
        module = import_file(target) if is_file_spec(target) else import_module(target)
        app = find_app(module, attr, target)
    if url is not None and app.url != url:
        app.reopen(url)
    return app


def _module_name(spec: str) -> str | None:
    """The name under which the module ``spec`` names is imported in this process."""
    target, _ = split_spec(spec)
    if not is_file_spec(target):
        return target if target in sys.modules else None
    return _file_module(Path(target).resolve())


def _file_module(path: Path) -> str | None:
    """The name of the module imported from the file ``path``, if any."""
    return next((name for name, module in list(sys.modules.items())
                 if getattr(module, "__file__", None) == str(path)), None)


def loaded_already(spec: str) -> bool:
    """Whether ``spec`` names a module this process has imported already: its app is the
    caller's (a test or script that ran the command in-process), used and left open."""
    return _module_name(spec) is not None


def forget(spec: str) -> None:
    """Drop the module ``spec`` names after the command closed its app, so a later
    command in this process imports it afresh instead of finding a closed app. Every app
    in it is closed first: the module opened their stores as it was imported, also those
    the command did not use or could not find (else a PostgreSQL pool waits for garbage
    collection)."""
    from conveyor.app import Conveyor

    name = _module_name(spec)
    if name is None:
        return
    for value in list(vars(sys.modules[name]).values()):
        if isinstance(value, Conveyor):
            with contextlib.suppress(Exception):  # (the command's own error is the one told)
                value.close()
    del sys.modules[name]


def split_spec(spec: str) -> tuple[str, str | None]:
    """``"pkg.mod:app"`` -> (``"pkg.mod"``, ``"app"``); ``"app.py"`` -> (``"app.py"``, None)."""
    target, sep, attr = spec.rpartition(":")
    if not sep or not attr or "/" in attr or attr.endswith(".py"):
        return spec, None
    return target, attr


def is_file_spec(target: str) -> bool:
    return target.endswith(".py") or os.sep in target or "/" in target


def import_file(target: str) -> ModuleType:
    path = Path(target).resolve()
    if not path.is_file():
        raise AppNotFound(
            f"cannot read app file {target!r}: no such file"
            if not path.exists() else f"cannot read app file {target!r}: not a file"
        )
    loaded = _file_module(path)
    if loaded is not None:
        return sys.modules[loaded]  # imported already (by the caller): that module, no copy
    name = path.stem if path.stem.isidentifier() else "conveyor_app"
    if name in sys.modules:
        name = f"conveyor_app_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise AppNotFound(f"cannot import app file {target!r}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # as `python path/to/app.py` would, for sibling imports
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ConveyorError:  # already a message for the user (bad URL, bad schedule...)
        del sys.modules[name]
        raise
    except Exception as exc:
        del sys.modules[name]
        raise import_failure(f"app file {target!r}", exc) from None
    except BaseException:
        del sys.modules[name]
        raise
    return module


_CONVEYOR_DIR = str(Path(__file__).resolve().parent.parent)


def _user_frame(filename: str) -> bool:
    """A frame of the user's code, not of conveyor's loader or of importlib."""
    if filename.startswith("<frozen ") or filename.startswith(_CONVEYOR_DIR + os.sep):
        return False
    return os.sep + "importlib" + os.sep not in filename


def import_failure(what: str, exc: Exception) -> AppNotFound:
    """One line naming ``what`` and the error, then the user's own frames only."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _user_frame(f.filename)]
    detail = traceback.format_exception_only(type(exc), exc)
    lines = [f"cannot import {what}: {detail[-1].strip()}"]
    if frames:
        lines.append("Traceback (most recent call last; your code only):")
        lines.append("".join(traceback.format_list(frames)).rstrip())
    if len(detail) > 1:  # a SyntaxError: where it is, with the line and a caret
        lines.append("".join(detail[:-1]).rstrip())
    return AppNotFound(lines[0], "\n".join(lines[1:]))


def import_module(target: str) -> ModuleType:
    if not target or not all(part.isidentifier() for part in target.split(".")):
        raise AppNotFound(
            f"invalid app {target!r}; accepted: module:attr (e.g. myproject.tasks:app) "
            "or a file path (e.g. path/to/app.py or path/to/app.py:app)"
        )
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)  # as uvicorn and celery do
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        # Only when the app's own module is missing; a missing import inside the
        # app is an error in its code, shown with the app's own frames.
        if exc.name is None or not (target == exc.name or target.startswith(exc.name + ".")):
            raise import_failure(f"app module {target!r}", exc) from None
        raise AppNotFound(
            f"cannot import app module {target!r}: no module named {exc.name!r} "
            f"(looked in {cwd} and sys.path)"
        ) from None
    except ConveyorError:
        raise
    except Exception as exc:
        raise import_failure(f"app module {target!r}", exc) from None


def find_app(module: ModuleType, attr: str | None, target: str) -> Conveyor:
    from conveyor.app import Conveyor

    if attr is not None:
        value: object = module
        for part in attr.split("."):
            if not hasattr(value, part):
                apps = _apps_in(module)
                hint = f"; its Conveyor apps: {', '.join(apps)}" if apps else ""
                raise AppNotFound(f"app {target!r} has no attribute {attr!r}{hint}")
            value = getattr(value, part)
        if not isinstance(value, Conveyor):
            kind = type(value).__name__
            article = "an" if kind[:1].lower() in "aeiou" else "a"
            raise AppNotFound(f"{target}:{attr} is {article} {kind}, not a conveyor.Conveyor app")
        return value
    apps = _apps_in(module)
    if not apps:
        raise AppNotFound(f"no Conveyor app found in {target!r}; name it as {target}:attr")
    if len(apps) > 1 and "app" not in apps:
        raise AppNotFound(
            f"several Conveyor apps in {target!r} ({', '.join(apps)}); "
            f"pick one, e.g. {target}:{apps[0]}"
        )
    app: Conveyor = getattr(module, "app" if "app" in apps else apps[0])
    return app


def _apps_in(module: ModuleType) -> list[str]:
    from conveyor.app import Conveyor

    return [name for name, value in vars(module).items() if isinstance(value, Conveyor)]


@contextlib.contextmanager
def _store_url(url: str | None) -> Iterator[None]:
    if url is None:
        yield
        return
    before = os.environ.get("CONVEYOR_URL")
    os.environ["CONVEYOR_URL"] = url
    try:
        yield
    finally:
        if before is None:
            del os.environ["CONVEYOR_URL"]
        else:
            os.environ["CONVEYOR_URL"] = before
