"""The `cvaegan` Typer app. Each subcommand lives in `cvaegan/cli/commands/<name>.py` and
registers itself through `register(app)`."""

from __future__ import annotations

import importlib
import signal
import sys
import warnings

import typer

from cvaegan.cli.errors import exit_code_of
from cvaegan.runtime.errors import one_line, raise_terminated

app = typer.Typer(
    name="cvaegan",
    help="Fine-grained class-conditional image generation with CVAE-GAN (Bao et al., ICCV 2017).",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)

# One line per command module; each module defines `register(app)`.
COMMAND_MODULES = [
    "train",
    "sample",
    "demo",
    "prepare",
    "morph",
    "inpaint",
    "edit",
    "augment",
    "superres",
    "judge",
    "evaluate",
    "toy",
    "stylize",
    "swap",
    # new command modules go above this line
]

for _name in COMMAND_MODULES:
    importlib.import_module(f"cvaegan.cli.commands.{_name}").register(app)


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True),
) -> None:
    """cvaegan: prepare data, train CVAE-GAN, and sample, morph, inpaint and augment with it."""
    if version:
        from cvaegan import __version__

        typer.echo(f"cvaegan {__version__}")
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit()


def main(argv: list[str] | None = None) -> None:
    """The console entry point (`cvaegan`, `python -m cvaegan`, torchrun).

    Every way out is one `error: …` line and an exit code, whatever raised where: Click's usage
    errors (rc 2) and a Ctrl-C that lands outside a command's own handler — a second one during a
    save, for example — (rc 130) included. Paths that are not valid UTF-8 print with backslash escapes
    instead of crashing the output stream; warnings print as one `warning: …` line."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    warnings.showwarning = _show_warning
    signal.signal(signal.SIGTERM, raise_terminated)  # `train` installs its own graceful stop over it
    code = exit_code_of(lambda: typer.main.get_command(app).main(args=argv, prog_name="cvaegan",
                                                                standalone_mode=False))
    sys.exit(code)


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: object = None, line: str | None = None) -> None:
    print(f"warning: {one_line(message if isinstance(message, Warning) else Warning(message))}", file=sys.stderr)
