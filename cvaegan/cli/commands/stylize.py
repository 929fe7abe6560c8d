"""`cvaegan stylize` (SAAE: a content drawn in the style of another image)."""

from __future__ import annotations

from pathlib import Path

import typer

from cvaegan.apps.stylize import StylizeRequest, run
from cvaegan.cli import shared
from cvaegan.cli.errors import cli_errors
from cvaegan.session import open_session

EPILOG = """[bold]Examples[/]

  cvaegan stylize --content A.png --style font7_B.png -o A7.png
  [dim]# a class's stored content image, in two styles (one result each)[/]
  cvaegan stylize --content-class A --style s1.png --style s2.png
  [dim]# the paper's Fig. 6: a row per style image, a column per class[/]
  cvaegan stylize --grid --styles fonts/ -o fig6.png
  cvaegan stylize --grid --content-class A,B,C,7 --style s1.png

Writes OUT (at the model's resolution), OUT-strip.png (content, style,
result, enlarged) and OUT.json; with several styles OUT-<style>.png each.
--grid writes one PNG (the style image first in each row, framed in red)
and its JSON. Inputs are read as training reads them (RGB, short side
resized, centre-cropped): give glyphs framed like the training data.
"""


def stylize_cmd(
    content: Path = typer.Option(None, "--content", help="Content image, drawn in each style image's style."),
    content_class: list[str] = typer.Option(None, "--content-class", help="Content class by name or "
                                            "index: its stored content image (comma-separated or repeated "
                                            "with --grid; default there: every class)."),
    style: list[Path] = typer.Option(None, "--style", help="Style image (repeatable: one result or "
                                     "grid row each)."),
    styles: Path = typer.Option(None, "--styles", help="A folder: every image in it is a style."),
    grid: bool = typer.Option(False, "--grid", help="One grid: a row per style, a column per content (Fig. 6)."),
    scale: int = typer.Option(None, "--scale", help="Enlarge the strip / grid this many times, nearest "
                              "neighbour (default: cells of ~128 / ~64 px)."),
    ckpt: Path = shared.CKPT,
    runs: Path = shared.RUNS,
    out: Path = typer.Option(None, "--out", "-o", help="Result image (default: stylize/<content>.png, "
                             "stylize/grid.png with --grid)."),
    device: str = shared.DEVICE,
    precision: str = shared.PRECISION,
) -> None:
    """Draw a content (an image, or a class) in the style of other images with an SAAE model:
    G(c, s) = Dec(Enc_c(c), Enc_s(s))."""
    req = StylizeRequest(list(style or []), styles, content, list(content_class or []), grid, out, scale)
    session = open_session(ckpt, runs, device, precision, needs=("stylize",), purpose="stylize")
    typer.echo(run(session, req).summary)


def register(app: typer.Typer) -> None:
    app.command("stylize", epilog=EPILOG)(cli_errors(stylize_cmd))
