"""`cvaegan edit PHOTO` (IFcVAE-GAN attribute editing)."""

from __future__ import annotations

from pathlib import Path

import typer

from cvaegan.apps.edit import EditRequest, run
from cvaegan.apps.faces import mode_from_flags
from cvaegan.cli import shared
from cvaegan.cli.errors import cli_errors
from cvaegan.session import open_session

EPILOG = """[bold]Examples[/]

  cvaegan edit face.png --set Smiling=1
  cvaegan edit face.png --set Eyeglasses=0 --set Mouth_Slightly_Open=1
  [dim]# a strip over Smiling's input: -1, -0.5, 0, 0.5, 1, 1.5, 2[/]
  cvaegan edit face.png --sweep Smiling
  [dim]# keep the photo's sharpness where the edit changes nothing[/]
  cvaegan edit face.png --set Smiling=1 --detail
  [dim]# a raw photo: aligned, edited, pasted back inside the face[/]
  cvaegan edit photo.jpg --set Smiling=0 --face 1 -o photo-serious.jpg

Names or indices; 0 = absent, 1 = present (other values exaggerate or
soften). Writes OUT, OUT-strip.png (input, reconstruction, edit),
OUT-sweep.png with --sweep, and OUT.json.
"""


def edit_cmd(
    photo: Path = typer.Argument(..., help="An aligned face crop, or a photo (detected and aligned)."),
    set_: list[str] = typer.Option(None, "--set", "-s", help="NAME=VALUE: an attribute and its new value "
                                   "(repeatable)."),
    sweep: str = typer.Option(None, "--sweep", help="An attribute to sweep from -1 to 2 (a strip)."),
    detail: bool = typer.Option(False, "--detail/--no-detail", help="Add the photo's own detail back "
                                "wherever the edit changes less than the model's reconstruction error."),
    blend: bool = typer.Option(True, "--blend/--no-blend", help="Raw photos: Poisson-blend the edited face "
                               "into the photo so that it meets it without a seam (--no-blend: paste it)."),
    feather: float = typer.Option(None, "--feather", help="Raw photos: width of the blended edge in crop pixels "
                                  "(default: resolution/32, at least 2)."),
    ckpt: Path = shared.CKPT,
    runs: Path = shared.RUNS,
    out: Path = typer.Option(None, "--out", "-o", help="Result image (default: edit/<photo>.png)."),
    raw: bool = shared.RAW,
    aligned: bool = shared.ALIGNED,
    detector: Path = shared.DETECTOR,
    face: int = shared.FACE,
    device: str = shared.DEVICE,
    precision: str = shared.PRECISION,
) -> None:
    """Change binary attributes of a face (smiling, eyeglasses, …) and keep its identity: G(μ(x), y')
    with E's reading of the attributes, the named ones set to the given values."""
    req = EditRequest(photo, list(set_ or []), sweep, out, mode_from_flags(raw, aligned), detector, face, feather,
                      detail=detail, blend=blend)
    session = open_session(ckpt, runs, device, precision, needs=("edit",), purpose="edit")
    typer.echo(run(session, req).summary)


def register(app: typer.Typer) -> None:
    app.command("edit", epilog=EPILOG)(cli_errors(edit_cmd))
