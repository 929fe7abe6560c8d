"""`cvaegan superres LOWRES` (the abstract's super-resolution)."""

from __future__ import annotations

from pathlib import Path

import typer

from cvaegan.apps.superres import SCALES, SuperresRequest, run
from cvaegan.cli import shared
from cvaegan.cli.errors import cli_errors
from cvaegan.session import open_session

EPILOG = """[bold]Examples[/]

  [dim]# a 128 model: a 32×32 crop → 128×128[/]
  cvaegan superres face_32.png --scale 4
  cvaegan superres face_16.png --scale 8 --class "Hugh Laurie"
  [dim]# the Eq. 8-style loop: x ← G(E(x)), low band kept, 5 times[/]
  cvaegan superres face_32.png --method iterate --iters 5
  [dim]# also print PSNR of the result and of bicubic against the original[/]
  cvaegan superres small.png --scale 2 --reference original.png

The input is an aligned low-resolution crop of side R/scale (R: the model's
resolution); other sizes are resized to it first. Writes OUT,
OUT-strip.png (bicubic, then E's code and the fitted z decoded, or each
iteration) and OUT.json. `fit` searches the model's z for the face whose
down-sampled image is the input (Adam, --fit-steps), then keeps the input's
low band exactly.
"""


def superres_cmd(
    lowres: Path = typer.Argument(..., help="Low-resolution aligned face crop."),
    scale: int = typer.Option(4, "--scale", "-s", help=f"Up-sampling factor: {', '.join(map(str, SCALES))}."),
    method: str = typer.Option("fit", "--method", "-m", help="fit: search z so that down(G(z, c)) matches "
                               "the input; iterate: x ← G(E(x, c), c) + low-band projection, repeated."),
    fit_steps: int = typer.Option(100, "--fit-steps", help="Adam steps of the z search (--method fit)."),
    iters: int = typer.Option(5, "--iters", "-n", help="Repeats of --method iterate."),
    class_: str = typer.Option(None, "--class", "-c", help="Class (default: C's posterior on the bicubic image)."),
    reference: Path = typer.Option(None, "--reference", help="The true high-resolution image: print PSNR of "
                                   "the result and of bicubic against it."),
    ckpt: Path = shared.CKPT,
    runs: Path = shared.RUNS,
    seed: int = typer.Option(0, "--seed", help="Recorded; the method is deterministic."),
    out: Path = typer.Option(None, "--out", "-o", help="Result PNG (default: superres/<lowres>-x<scale>.png)."),
    device: str = shared.DEVICE,
    precision: str = shared.PRECISION,
) -> None:
    """Super-resolve a face: fit the model's z to the input (or iterate its reconstruction), then
    keep the input's low band."""
    req = SuperresRequest(lowres, scale, iters, class_, reference, seed, out, method, fit_steps)
    session = open_session(ckpt, runs, device, precision, needs=("reconstruct",), purpose="superres")
    result = run(session, req)
    typer.echo(result.class_line)
    typer.echo(result.summary)


def register(app: typer.Typer) -> None:
    app.command("superres", epilog=EPILOG)(cli_errors(superres_cmd))
