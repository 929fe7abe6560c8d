"""`cvaegan superres LOWRES` (the abstract's super-resolution)."""

from __future__ import annotations

from pathlib import Path

import torch
import typer

from cvaegan.cli import shared
from cvaegan.apps.common import choose_class, psnr, read_crop
from cvaegan.session import open_session
from cvaegan.apps.faces import image_size
from cvaegan.apps.superres import SCALES, bicubic, down, super_resolve
from cvaegan.runtime.atomic import atomic_write_json
from cvaegan.runtime.errors import CvaeganError
from cvaegan.cli.errors import cli_errors
from cvaegan.data.images import grid_image, save_png, to_pil
from cvaegan.runtime.outputs import image_output

EPILOG = """[bold]Examples[/]

  [dim]# a 128 model: a 32×32 crop → 128×128[/]
  cvaegan superres face_32.png --scale 4
  cvaegan superres face_16.png --scale 8 --class "Hugh Laurie" --iters 5
  [dim]# also print PSNR of the result and of bicubic against the original[/]
  cvaegan superres small.png --scale 2 --reference original.png

The input is an aligned low-resolution crop of side R/scale (R: the model's
resolution); other sizes are resized to it first. Writes OUT,
OUT-strip.png (bicubic, iterations) and OUT.json.
"""


def superres_cmd(
    lowres: Path = typer.Argument(..., help="Low-resolution aligned face crop."),
    scale: int = typer.Option(4, "--scale", "-s", help=f"Up-sampling factor: {', '.join(map(str, SCALES))}."),
    iters: int = typer.Option(5, "--iters", "-n", help="x ← G(E(x, c), c) + low-band projection, repeated."),
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
    """Super-resolve a face: iterate the model's reconstruction while keeping the input's low band."""
    if scale not in SCALES:
        raise CvaeganError(f"--scale {scale}: use one of {', '.join(map(str, SCALES))}")
    torch.manual_seed(seed)
    loaded = open_session(ckpt, runs, device, precision, needs=("reconstruct",), purpose="superres")
    res = loaded.resolution
    side = res // scale
    w, h = image_size(lowres)
    note = "" if (w, h) == (side, side) else f" (resized from {w}×{h})"
    y = read_crop(lowres, side)
    base = bicubic(y[None], scale)[0]
    choice = choose_class(loaded, base, class_)
    typer.echo(f"class: {choice.describe(loaded.class_names)}")
    steps = super_resolve(loaded, y[None], choice.vector[None], scale, iters)
    result = steps[-1][0]
    out = out or Path("superres") / f"{lowres.stem}-x{scale}.png"
    record_file = image_output(out)
    strip = out.with_name(out.stem + "-strip.png")
    save_png(to_pil(result), out)
    save_png(grid_image(torch.stack([base] + [s[0] for s in steps[1:]]), nrow=len(steps)), strip)
    consistency = psnr(down(result[None], scale), y[None])
    record = {"command": "superres", "checkpoint": str(loaded.path), "step": loaded.step, "precision": loaded.precision, "input": str(lowres),
              "input_size": [w, h], "scale": scale, "iters": iters, "seed": seed,
              "class": choice.record(loaded.class_names), "result": str(out), "strip": str(strip),
              "psnr_down_vs_input": round(consistency, 3)}
    msg = f"{side}×{side}{note} → {res}×{res}: {out}; down-sampled result vs input {consistency:.1f} dB"
    if reference is not None:
        ref = read_crop(reference, res)
        p_ours, p_bic = psnr(result, ref), psnr(base, ref)
        record.update(reference=str(reference), psnr=round(p_ours, 3), psnr_bicubic=round(p_bic, 3))
        msg += f"; PSNR vs reference: ours {p_ours:.2f} dB, bicubic {p_bic:.2f} dB"
    atomic_write_json(record_file, record)
    typer.echo(msg)


def register(app: typer.Typer) -> None:
    app.command("superres", epilog=EPILOG)(cli_errors(superres_cmd))
