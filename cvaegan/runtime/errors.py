"""User-facing errors: exceptions whose message is fit to print as one line. How the CLI turns them
into `error: …` and an exit code is `cvaegan.cli.errors`."""

from __future__ import annotations

from typing import Any


class CvaeganError(Exception):
    """An error caused by the user's input or environment, with a message fit to print as is."""

    exit_code = 1


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is (see `app.main`) so that it unwinds like Ctrl-C: every
    `finally` runs (atomic writes remove their temp files, locks are released), then exit 143."""


def raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or exc.__class__.__name__
