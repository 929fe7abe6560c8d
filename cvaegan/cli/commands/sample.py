"""`cvaegan sample`."""

from __future__ import annotations

from pathlib import Path

import torch
import typer

from cvaegan.cli import shared
from cvaegan.cli.errors import cli_errors
from cvaegan.cli.options import MAX_IMAGES
from cvaegan.pipelines.sample import resolve_class, sample_to_files
from cvaegan.runtime.atomic import atomic_write_json
from cvaegan.runtime.errors import CvaeganError
from cvaegan.runtime.outputs import check_out_dir, image_output
from cvaegan.session import open_session

EPILOG = """[bold]Examples[/]

  [dim]# from the newest runs/*/checkpoints/latest.pt[/]
  cvaegan sample --class 42 -n 9
  cvaegan sample --class "Hugh Laurie" -n 16 --seed 3 --out hugh.png
  [dim]# an ImageFolder tree for evaluation[/]
  cvaegan sample --class all -n 100 --separate gen/
"""


def sample_cmd(
    class_: str = typer.Option(..., "--class", "-c", help="Class index, class name, or 'all'."),
    n: int = typer.Option(9, "-n", "--num", help="Samples per class."),
    ckpt: Path = shared.CKPT,
    runs: Path = shared.RUNS,
    seed: int = typer.Option(0, "--seed", help="z ~ N(0, I) is drawn from this seed (same on any device)."),
    out: Path = typer.Option(None, "--out", "-o", help="Grid PNG (default: samples/<class>-seed<seed>.png)."),
    separate: Path = typer.Option(None, "--separate", help="Also write each sample as DIR/<class>/<seed>_<i>.png."),
    device: str = shared.DEVICE,
    precision: str = shared.PRECISION,
) -> None:
    """Sample images of a class from a trained checkpoint: z ~ N(0, I), x = G(z, c)."""
    session = open_session(ckpt, runs, device, precision, needs=("generate",), purpose="sample")
    path, names = session.path, session.class_names
    classes = list(range(len(names))) if class_.strip().lower() == "all" else [resolve_class(class_, names)]
    if n * len(classes) > MAX_IMAGES:
        raise CvaeganError(f"{n} × {len(classes)} classes = {n * len(classes):,} images; one sample grid holds at "
                           f"most {MAX_IMAGES:,} (for a data set, use `cvaegan augment`)")
    tag = "all" if len(classes) > 1 else str(classes[0])
    out = out or Path("samples") / f"class-{tag}-seed{seed}.png"
    record = image_output(out)
    if separate is not None:
        check_out_dir(separate, "--separate")
    with torch.inference_mode():
        result = sample_to_files(session.model, names, classes, n, seed, out, separate, session.precision)
    atomic_write_json(record, {
        "command": "sample", "checkpoint": str(path), "step": session.step, "classes": classes,
        "class_names": [names[c] for c in classes], "n": n, "seed": seed, "precision": session.precision, "grid": str(result.grid),
        "files": [str(f) for f in result.files]})
    label = "all classes" if len(classes) > 1 else f"class {classes[0]} ({names[classes[0]]})"
    typer.echo(f"wrote {n * len(classes)} samples of {label} to {result.grid}"
               + (f" and {len(result.files)} files under {separate}" if separate else ""))


def register(app: typer.Typer) -> None:
    app.command("sample", epilog=EPILOG)(cli_errors(sample_cmd))
