"""`cvaegan swap` (open-set identity-preserving face synthesis: A's identity, B's attributes)."""

from __future__ import annotations

from pathlib import Path

import typer

from cvaegan.apps.faces import mode_from_flags
from cvaegan.apps.swap import MAX_GRID_SIDE, SwapRequest, run
from cvaegan.cli import shared
from cvaegan.cli.errors import cli_errors
from cvaegan.session import open_session

EPILOG = f"""[bold]Examples[/]

  cvaegan swap --identity ann.png --attributes bob.png
  [dim]# a raw photo as B: aligned, swapped, pasted back inside the face[/]
  cvaegan swap -i ann.png -a party.jpg --face 0 -o ann-at-party.jpg
  [dim]# the paper's figure: identities (rows) × attribute images (columns)[/]
  cvaegan swap --grid people/ poses/ -o grid.png

Writes OUT (default swap/<A>_as_<B>.png; for a raw B, B's photo with the
face pasted in, and OUT-crop.png), OUT-strip.png (identity, attributes,
result) and OUT.json. --grid takes at most {MAX_GRID_SIDE} images a folder.
"""


def swap_cmd(
    identity: Path = typer.Option(None, "--identity", "-i", help="A: whose identity (an aligned crop, or a "
                                  "photo: detected and aligned)."),
    attributes: Path = typer.Option(None, "--attributes", "-a", help="B: whose pose, expression, light and "
                                    "background (a crop or a photo)."),
    grid: tuple[Path, Path] = typer.Option(None, "--grid", metavar="DIR_A DIR_B", show_default=False,
                                           help=f"A grid: every image of DIR_A (rows) with the attributes of "
                                           f"every image of DIR_B (columns); ≤ {MAX_GRID_SIDE} each."),
    feather: float = typer.Option(None, "--feather", help="Raw B: width of the blended edge in crop pixels "
                                  "(default: resolution/32, at least 2)."),
    blend: bool = typer.Option(True, "--blend/--no-blend", help="Raw B: Poisson-blend the drawn face into B's "
                               "photo, so that its tone meets B's skin at the edge (--no-blend: paste it)."),
    seed: int = typer.Option(0, "--seed", help="Seeds torch for the run (recorded)."),
    ckpt: Path = shared.CKPT,
    runs: Path = shared.RUNS,
    out: Path = typer.Option(None, "--out", "-o", help="Result image (default: swap/<A>_as_<B>.png, "
                             "swap/grid-<DIR_A>_x_<DIR_B>.png with --grid)."),
    raw: bool = shared.RAW,
    aligned: bool = shared.ALIGNED,
    detector: Path = shared.DETECTOR,
    face: int = shared.FACE,
    device: str = shared.DEVICE,
    precision: str = shared.PRECISION,
) -> None:
    """Draw the person of one image with the pose, expression, lighting and background of another
    (an open-set model: the person need not be one it was trained on): G(f_I(A), z_A(B))."""
    req = SwapRequest(identity, attributes, grid, out, mode_from_flags(raw, aligned), detector, face, feather,
                      seed, blend)
    session = open_session(ckpt, runs, device, precision, needs=("swap",), purpose="swap")
    typer.echo(run(session, req).summary)


def register(app: typer.Typer) -> None:
    app.command("swap", epilog=EPILOG)(cli_errors(swap_cmd))
