"""User-facing errors at the command line: one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import errno
import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from cvaegan.core.checkpoint import CheckpointError
from cvaegan.runtime.errors import CvaeganError, Terminated, one_line

F = TypeVar("F", bound=Callable[..., Any])


def cli_errors(fn: F) -> F:
    """Turn expected failures in a CLI command into `error: ...` and exit code 1 (130 on Ctrl-C),
    after checking every numeric option against its bound (`cvaegan.cli.options`; exit code 2)."""
    from cvaegan.cli.options import check_options

    command = fn.__name__.removesuffix("_cmd")

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            check_options(command, fn, kwargs)
        except ValueError as exc:
            _die(one_line(exc), 2)
        try:
            return fn(*args, **kwargs)
        except CvaeganError as exc:
            _die(one_line(exc), exc.exit_code)
        except CheckpointError as exc:  # the model core's own checks, raised past a loader
            _die(one_line(exc), 1)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                _die(f"no space left on the device while writing {exc.filename or 'output'}", 1)
            if exc.errno in (errno.EACCES, errno.EROFS):
                _die(f"cannot write {exc.filename or 'output'}: {exc.strerror}", 1)
            raise
        except Terminated:
            _die("terminated", 143)
        except KeyboardInterrupt:
            _die("interrupted", 130)

    return wrapper  # type: ignore[return-value]


def exit_code_of(run: Callable[[], Any]) -> int:
    """Run a Click command in non-standalone mode and turn whatever ends it into an exit code,
    printing `error: …` on one line for Click's own errors (bad option values, missing files: rc 2)
    and for interrupts (rc 130)."""
    import typer
    from typer._click import exceptions as click_exc  # typer vendors Click; its exceptions live here

    try:
        rv = run()
    except typer.Exit as exc:
        return exc.exit_code
    except Terminated:
        print("error: terminated", file=sys.stderr)
        return 143
    except (KeyboardInterrupt, typer.Abort):
        print("error: interrupted", file=sys.stderr)
        return 130
    except click_exc.NoArgsIsHelpError as exc:  # the message is the command's help
        print(exc.format_message())
        return 0
    except click_exc.ClickException as exc:
        where = f" (see `{exc.ctx.command_path} --help`)" if getattr(exc, "ctx", None) is not None else ""
        print(f"error: {one_line(Exception(exc.format_message()))}{where}", file=sys.stderr)
        return exc.exit_code
    return rv if isinstance(rv, int) else 0


def _die(message: str, code: int) -> None:
    import typer

    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code)
