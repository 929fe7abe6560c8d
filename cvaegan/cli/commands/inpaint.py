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
  cvaegan inpaint face.png
  [dim]# the paper's Eq. 8 loop, 10 iterations (Fig. 7)[/]
  cvaegan inpaint face.png --method eq8 --iters 10
  cvaegan inpaint face.png --box 40,60,50,30 --class "Hugh Laurie"
  [dim]# a raw photo: aligned, repaired, pasted back into the photo[/]
  cvaegan inpaint photo.jpg --mask scratch.png
  cvaegan inpaint group.jpg --face 2 --box 300,210,40,40

--box and --mask are in the input file's pixels (the photo's, for a raw
photo). Writes OUT (the repaired image; the whole photo for a raw photo),
OUT-strip.png (original, corrupted, then E's code and the fitted z decoded;
with eq8 iterations 1…N as in Fig. 7), OUT.json. `fit` searches the model's
z for the face that matches the pixels outside the mask (Adam, --fit-steps).
"""


def inpaint_cmd(
    photo: Path = typer.Argument(..., help="An aligned face crop, or a photo (detected and aligned)."),
    method: str = typer.Option("fit", "--method", "-m", help="fit: search z for the pixels outside the mask; "
                               "eq8: §5.4's loop x ← M⊙G(E(x, c), c) + (1−M)⊙x."),
    fit_steps: int = typer.Option(100, "--fit-steps", help="Adam steps of the z search (--method fit)."),
    iters: int = typer.Option(10, "--iters", "-n", help="Eq. 8 iterations (--method eq8)."),
    blend: bool = typer.Option(True, "--blend/--no-blend", help="Poisson-blend the fill into the input so "
                               "that it meets the surrounding pixels without a seam (--no-blend: paste it)."),
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
    """Fill a masked region: fit the model's z to the pixels outside it, or run Eq. 8's loop."""
    req = InpaintRequest(photo, iters, mask, box, fill, class_, feather, seed, out, mode_from_flags(raw, aligned),
                         detector, face, method, fit_steps, blend)
    session = open_session(ckpt, runs, device, precision, needs=("reconstruct",), purpose="inpaint")
    result = run(session, req)
    typer.echo(result.class_line)
    typer.echo(result.summary)


def register(app: typer.Typer) -> None:
    app.command("inpaint", epilog=EPILOG)(cli_errors(inpaint_cmd))
