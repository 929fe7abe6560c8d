"""`cvaegan inpaint PHOTO` (§5.4, Eq. 8)."""

from __future__ import annotations

from pathlib import Path

import typer

from cvaegan.apps.faces import mode_from_flags
from cvaegan.apps.inpaint import InpaintRequest, run
from cvaegan.cli import shared
from cvaegan.cli.errors import cli_errors
from cvaegan.session import open_session

EPILOG = """[bold]Examples[/]

  [dim]# §5.4's random 50×50-at-128 patch, filled with noise, repaired[/]
  cvaegan inpaint face.png --iters 10
  cvaegan inpaint face.png --box 40,60,50,30 --class "Hugh Laurie"
  [dim]# a raw photo: aligned, repaired, pasted back into the photo[/]
  cvaegan inpaint photo.jpg --mask scratch.png
  cvaegan inpaint group.jpg --face 2 --box 300,210,40,40

--box and --mask are in the input file's pixels (the photo's, for a raw
photo). Writes OUT (the repaired image; the whole photo for a raw photo),
OUT-strip.png (original, corrupted, iterations 1…N as in Fig. 7), OUT.json.
"""


def inpaint_cmd(
    photo: Path = typer.Argument(..., help="An aligned face crop, or a photo (detected and aligned)."),
    iters: int = typer.Option(10, "--iters", "-n", help="Eq. 8 iterations."),
    mask: Path = typer.Option(None, "--mask", help="PNG, white = pixels to fill (the input's size)."),
    box: str = typer.Option(None, "--box", help="x,y,w,h of the region to fill, in the input's pixels."),
    fill: str = typer.Option("auto", "--fill", help="What the masked pixels start as: keep (the input's), "
                             "noise or grey; auto = noise for the random patch, keep for --mask/--box."),
    class_: str = typer.Option(None, "--class", "-c", help="Class (default: C's posterior on the input)."),
    feather: float = typer.Option(None, "--feather", help="Raw photos: width of the blended edge in crop pixels "
                                  "(default: resolution/32, at least 2)."),
    ckpt: Path = shared.CKPT,
    runs: Path = shared.RUNS,
    seed: int = typer.Option(0, "--seed", help="Seeds the random patch and the noise fill."),
    out: Path = typer.Option(None, "--out", "-o", help="Result PNG (default: inpaint/<photo>.png)."),
    raw: bool = shared.RAW,
    aligned: bool = shared.ALIGNED,
    detector: Path = shared.DETECTOR,
    face: int = shared.FACE,
    device: str = shared.DEVICE,
    precision: str = shared.PRECISION,
) -> None:
    """Fill a masked region with Eq. 8, x ← M⊙G(E(x, c), c) + (1−M)⊙x, repeated --iters times."""
    req = InpaintRequest(photo, iters, mask, box, fill, class_, feather, seed, out, mode_from_flags(raw, aligned),
                         detector, face)
    session = open_session(ckpt, runs, device, precision, needs=("reconstruct",), purpose="inpaint")
    result = run(session, req)
    typer.echo(result.class_line)
    typer.echo(result.summary)


def register(app: typer.Typer) -> None:
    app.command("inpaint", epilog=EPILOG)(cli_errors(inpaint_cmd))
