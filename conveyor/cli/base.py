"""What every command shares: the group, one-line user errors, and ``--app``/``--url``."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from conveyor import readonly
from conveyor.cli.loading import AppNotFound, forget, load_app, loaded_already
from conveyor.errors import ConveyorError
from conveyor.queries.arguments import decimal_int

if TYPE_CHECKING:
    from conveyor.app import Conveyor

F = TypeVar("F", bound=Callable[..., Any])

USER_ERROR = 2  # exit status for anything the user can fix (as click's usage errors)


class _RunId(click.ParamType[int]):
    """A run id: decimal digits (click's int would read ``1_0`` as run 10) naming what a
    stored run id can be, 1 to 2**63 - 1."""

    name = "integer"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        number = decimal_int(value)
        if number is None:
            self.fail(f"{value!r} is not a run id (a whole number)", param, ctx)
        if not 0 < number < 2**63:
            self.fail(f"{value} is not in the range 1<=x<={2**63 - 1}", param, ctx)
        return number


RUN_ID = _RunId()


class UserError(click.ClickException):
    """A mistake the user can fix: printed as one ``error: ...`` line, exit status 2
    (then ``detail``, if any: the frames of an error in the user's app)."""

    exit_code = USER_ERROR

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


def fail(message: str) -> NoReturn:
    raise UserError(message)


def job_id_of(app: Conveyor, name: str) -> str:
    """The id of the job ``name`` names by its id or by its URL slug (as ``conveyor run``
    and the dashboard take it); an unknown name is returned as given."""
    found = app.jobs.definition(name) or app.jobs.definition_by_slug(name)
    return name if found is None else found.id


class ConveyorGroup(click.Group):
    """Prints every user error (ours, click's usage errors and conveyor's own
    :class:`~conveyor.errors.ConveyorError`) as one ``error: ...`` line on stderr."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AppNotFound as exc:
            raise UserError(exc.headline, exc.detail) from None
        except ConveyorError as exc:  # conveyor's errors are written for users
            raise UserError(str(exc)) from None
        except (OverflowError, RecursionError) as exc:
            # Numbers, dates or nesting beyond what Python or the store can hold: always
            # caused by the input (a huge id, a date past year 9999, deep JSON).
            raise UserError(f"a value is out of range ({type(exc).__name__}: {exc}); "
                            "check the numbers, dates and durations given") from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        args = list(sys.argv[1:] if args is None else args)
        for arg in args:
            if not _is_utf8(arg):
                shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                click.echo(f"error: argument {shown!r} is not valid UTF-8 text; conveyor "
                           "accepts UTF-8 arguments only", err=True)
                sys.exit(USER_ERROR)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # bare `conveyor`: the help
            click.echo(exc.format_message(), err=True)
            sys.exit(USER_ERROR)
        except click.ClickException as exc:
            click.echo(f"error: {one_line(exc.format_message())}", err=True)
            if isinstance(exc, UserError) and exc.detail:
                click.echo(exc.detail, err=True)
            sys.exit(USER_ERROR if isinstance(exc, click.UsageError) else exc.exit_code)
        except click.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


# ``conveyor --app APP --url URL VERB``: the group's options, read by every verb (its own
# --app/--url, or a positional APP, win).
GROUP_APP, GROUP_URL = "conveyor.app", "conveyor.url"


def group_options(fn: F) -> F:
    """``--app`` and ``--url`` on the ``conveyor`` group itself (as ``celery -A``,
    ``flask --app``), kept in the context's ``meta`` for the verb."""

    def keep(key: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
        def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
            ctx.meta[key] = value
            return value
        return callback

    fn = click.option("--url", metavar="URL", default=None, expose_value=False,
                      callback=keep(GROUP_URL), help="Store URL to use instead of the app's "
                      "own (sqlite:///file.db, postgresql://..., memory://).")(fn)
    return click.option("--app", metavar="APP", default=None, expose_value=False,
                        callback=keep(GROUP_APP), help="The app: module:attr or "
                        "path/to/app.py[:attr] (default $CONVEYOR_APP).")(fn)


# The app of a framework integration (``flask conveyor``, ``manage.py conveyor``): used
# when no APP is given, and left open (the framework owns it).
PRESET_APP: ContextVar[Conveyor | None] = ContextVar("conveyor_preset_app", default=None)


@contextlib.contextmanager
def preset_app(app: Conveyor) -> Iterator[None]:
    """Run commands on ``app`` unless they are given another."""
    token = PRESET_APP.set(app)
    try:
        yield
    finally:
        PRESET_APP.reset(token)


def _from_environment(parameter: str) -> bool:
    """Whether the current command's ``parameter`` came from an environment variable."""
    ctx = click.get_current_context(silent=True)
    source = ctx.get_parameter_source(parameter) if ctx is not None else None
    return source is click.core.ParameterSource.ENVIRONMENT


# What str.splitlines() breaks on: shown escaped, so an error is always one line.
_LINE_BREAKS = {ord(c): ascii(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


def one_line(message: str) -> str:
    """``message`` with line breaks (from the user's input, say) written as escapes."""
    return message.translate(_LINE_BREAKS)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes arrive as lone surrogates
        return False
    return True


@contextlib.contextmanager
def _opened(spec: str, url: str | None, reading: bool) -> Iterator[Conveyor]:
    """The app ``spec`` names (imported read-only when ``reading``), closed afterwards,
    unless its module was imported already: then it is the caller's (a test or script
    running the command in-process), used and left open."""
    owned = not loaded_already(spec)
    try:
        with readonly.read_only() if reading else contextlib.nullcontext():
            app = load_app(spec, url)
        try:
            yield app
        finally:
            if owned:
                app.close()
    finally:
        if owned:
            forget(spec)


def app_options(
    positional: bool = False, read_only: bool | Callable[[dict[str, Any]], bool] = False,
    check_store: bool = True, store_alone: bool = False,
) -> Callable[[F], F]:
    """Give a command ``--app APP`` (also ``$CONVEYOR_APP``; with ``positional``, an
    optional APP argument too) and ``--url URL``; the command receives the loaded
    ``app`` (closed when the command returns) instead of those options.

    ``read_only`` (or a function of the command's other options saying so): the app is
    imported without creating, migrating or saving anything, and a store that does not
    exist yet is reported in one line (exit status 2) before the command runs (unless
    ``check_store`` is false: the command checks when it suits it).

    ``store_alone``: without an app, ``--url`` (or ``$CONVEYOR_URL``) is enough: the
    command gets an app with no jobs on that store (``conveyor migrate``)."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            spec, given = kwargs.pop("app_spec"), kwargs.pop("app_positional", None)
            spec_from_env = _from_environment("app_spec")
            group = click.get_current_context().meta  # `conveyor --app X --url U VERB`
            if group.get(GROUP_APP) and (spec is None or spec_from_env):
                spec, spec_from_env = group[GROUP_APP], False
            url = kwargs.pop("url") or group.get(GROUP_URL)
            preset = PRESET_APP.get()
            reading = read_only(kwargs) if callable(read_only) else read_only
            if preset is not None and not (spec or given):  # flask/manage.py conveyor
                if url is not None and preset.url != url:
                    preset.reopen(url, read_only=reading)
                    if reading and check_store:
                        preset.store.schema_state()  # a missing store says so here
                return fn(*args, app=preset, **kwargs)
            if given and spec and given != spec and not spec_from_env:
                fail(f"two apps given: {given!r} and --app {spec!r}; give one")
            spec = given or spec  # a positional APP wins over $CONVEYOR_APP
            if not spec and store_alone and (url or os.environ.get("CONVEYOR_URL")):
                from conveyor.app import Conveyor

                with Conveyor(url) as bare:
                    return fn(*args, app=bare, **kwargs)
            if not spec:
                fail("no app given: pass " + ("APP or " if positional else "")
                     + "--app module:attr (or path/to/app.py), or set $CONVEYOR_APP"
                     + (" (or give the store alone: --url URL)" if store_alone else ""))
            with _opened(spec, url, reading) as app:
                if reading and check_store:
                    app.store.schema_state()  # a missing store says so here
                return fn(*args, app=app, **kwargs)

        wrapper = click.option(
            "--url", metavar="URL", default=None,
            help="Store URL to use instead of the app's own (sqlite:///file.db, "
                 "postgresql://..., memory://).",
        )(wrapper)
        wrapper = click.option(
            "--app", "app_spec", metavar="APP", envvar="CONVEYOR_APP", default=None,
            help="The app: module:attr or path/to/app.py[:attr] (default $CONVEYOR_APP).",
        )(wrapper)
        if positional:
            wrapper = click.argument("app_positional", metavar="[APP]", required=False)(wrapper)
        return wrapper  # type: ignore[return-value]

    return decorate


__all__ = ["RUN_ID", "USER_ERROR", "ConveyorGroup", "UserError", "app_options", "fail",
           "group_options", "job_id_of", "preset_app"]
