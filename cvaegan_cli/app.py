"""The `cvaegan` Typer app. Each subcommand lives in `cvaegan_cli/commands/<name>.py` and
registers itself through `register(app)`."""

from __future__ import annotations

import importlib

import typer

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
    "augment",
    "superres",
    "judge",
    "evaluate",
    "toy",
    # new command modules go above this line
]

for _name in COMMAND_MODULES:
    importlib.import_module(f"cvaegan_cli.commands.{_name}").register(app)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True),
) -> None:
    """cvaegan: prepare data, train CVAE-GAN, and sample, morph, inpaint and augment with it."""
    if version:
        from cvaegan_cli import __version__

        typer.echo(f"cvaegan {__version__}")
        raise typer.Exit()


def main() -> None:
    app()
