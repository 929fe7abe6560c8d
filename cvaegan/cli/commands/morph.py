"""`cvaegan morph A B` (§5.3) and `cvaegan morph --from-class X --to-class Y` (label morphing)."""

from __future__ import annotations

from pathlib import Path

import typer

from cvaegan.apps.faces import mode_from_flags
from cvaegan.apps.morph import MorphRequest, run
from cvaegan.cli import shared
from cvaegan.cli.errors import cli_errors
from cvaegan.session import open_session

EPILOG = """[bold]Examples[/]

  [dim]# §5.3; the class is C's prediction for a.png unless --class is given[/]
  cvaegan morph a.png b.png --steps 9
  cvaegan morph a.png b.png --class "Hugh Laurie" --out hugh_morph.png
  [dim]# raw photos are detected and aligned exactly as `prepare` does[/]
  cvaegan morph photo1.jpg photo2.jpg --face 0
  [dim]# label morphing: z ~ N(0, I) from --seed, or z = E(a.png, class 3)[/]
  cvaegan morph --from-class 3 --to-class 7 --seed 5
  cvaegan morph a.png --from-class 3 --to-class 7

Writes OUT (a strip: A, the frames, B), OUT.gif (animated) and OUT.json.
"""


def morph_cmd(
    images: list[Path] = typer.Argument(None, help="A and B (latent morph), or one image (or none) with "
                                        "--from-class/--to-class."),
    class_: str = typer.Option(None, "--class", "-c", help="Class of A and B (default: C's prediction for A)."),
    from_class: str = typer.Option(None, "--from-class", help="Label morph: start class (index or name)."),
    to_class: str = typer.Option(None, "--to-class", help="Label morph: end class (index or name)."),
    steps: int = typer.Option(8, "--steps", "-n", help="Frames, ends included."),
    ckpt: Path = shared.CKPT,
    runs: Path = shared.RUNS,
    seed: int = typer.Option(0, "--seed", help="z for a label morph without an image."),
    out: Path = typer.Option(None, "--out", "-o", help="Strip PNG (default: morph/<a>-<b>.png)."),
    gif_ms: int = typer.Option(120, "--gif-ms", help="Milliseconds per GIF frame."),
    raw: bool = shared.RAW,
    aligned: bool = shared.ALIGNED,
    detector: Path = shared.DETECTOR,
    face: int = shared.FACE,
    device: str = shared.DEVICE,
    precision: str = shared.PRECISION,
) -> None:
    """Morph two images of a class through E's latent space (§5.3), or two classes with z fixed."""
    req = MorphRequest(list(images or []), class_, from_class, to_class, steps, seed, out, gif_ms,
                       mode_from_flags(raw, aligned), detector, face)
    session = open_session(ckpt, runs, device, precision, needs=req.needs, purpose="morph")
    result = run(session, req)
    if result.class_line:
        typer.echo(result.class_line)
    typer.echo(result.summary)


def register(app: typer.Typer) -> None:
    app.command("morph", epilog=EPILOG)(cli_errors(morph_cmd))
