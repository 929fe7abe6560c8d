"""User-facing errors: one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import errno
import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class CvaeganError(Exception):
    """An error caused by the user's input or environment, with a message fit to print as is."""

    exit_code = 1


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or exc.__class__.__name__


def cli_errors(fn: F) -> F:
    """Turn expected failures in a CLI command into `error: ...` and exit code 1 (130 on Ctrl-C)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CvaeganError as exc:
            _die(one_line(exc), exc.exit_code)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                _die(f"no space left on the device while writing {exc.filename or 'output'}", 1)
            if exc.errno in (errno.EACCES, errno.EROFS):
                _die(f"cannot write {exc.filename or 'output'}: {exc.strerror}", 1)
            raise
        except KeyboardInterrupt:
            _die("interrupted", 130)

    return wrapper  # type: ignore[return-value]


def _die(message: str, code: int) -> None:
    import typer

    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code)
