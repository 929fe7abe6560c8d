"""`cvaegan inpaint PHOTO` (§5.4, Eq. 8)."""

from __future__ import annotations

from pathlib import Path

import torch
import typer
from PIL import Image

from cvaegan.cli import shared
from cvaegan.apps.common import choose_class, tensor_to_array
from cvaegan.session import open_session
from cvaegan.apps.faces import load_inputs, mode_from_flags
from cvaegan.apps.inpaint import build_mask, fill_masked, inpaint
from cvaegan.apps.paste import paste_edit
from cvaegan.runtime.atomic import atomic_write_json
from cvaegan.runtime.errors import CvaeganError
from cvaegan.cli.errors import cli_errors
from cvaegan.data.images import grid_image, save_png
from cvaegan.runtime.outputs import image_output

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
    if fill not in ("auto", "keep", "noise", "grey"):
        raise CvaeganError(f"unknown --fill '{fill}'; use auto, keep, noise or grey")
    loaded = open_session(ckpt, runs, device, precision, needs=("reconstruct",), purpose="inpaint")
    res = loaded.resolution
    inp = load_inputs([photo], res, mode_from_flags(raw, aligned), detector, face)[0]
    m_np, source, used_box = build_mask(inp, res, mask_png=mask, box=box, seed=seed)
    how = fill if fill != "auto" else ("noise" if source == "random patch" else "keep")
    m = torch.from_numpy(m_np)[None]
    x0 = fill_masked(inp.x, m, how, seed)
    choice = choose_class(loaded, x0, class_)
    typer.echo(f"class: {choice.describe(loaded.class_names)}")
    steps = inpaint(loaded, x0[None], m[None], choice.vector[None], iters)
    result = steps[-1][0]
    out = out or Path("inpaint") / f"{photo.stem}.png"
    record_file = image_output(out)
    strip_path = out.with_name(out.stem + "-strip.png")
    save_png(grid_image(torch.stack([inp.x] + [s[0] for s in steps]), nrow=len(steps) + 1), strip_path)
    crop = tensor_to_array(result)
    if inp.raw:
        width = feather if feather is not None else max(2.0, res / 32)
        repaired = paste_edit(inp.photo, crop, inp.matrix, m_np, width)
        save_png(Image.fromarray(repaired), out)
        changed = int((repaired != inp.photo).any(axis=2).sum())
        where = f"pasted back into the {inp.photo.shape[1]}×{inp.photo.shape[0]} photo ({changed} pixels changed)"
    else:
        width = None
        save_png(Image.fromarray(crop), out)
        where = f"{res}×{res} crop"
    atomic_write_json(record_file, {
        "command": "inpaint", "checkpoint": str(loaded.path), "step": loaded.step, "precision": loaded.precision, "input": inp.record(),
        "iters": iters, "seed": seed, "mask": {"source": source, "box": used_box, "file": str(mask) if mask else None,
                                               "pixels": int(m_np.sum()), "fill": how},
        "class": choice.record(loaded.class_names), "feather": width, "result": str(out), "strip": str(strip_path)})
    typer.echo(f"inpainted {int(m_np.sum())} pixels ({source}, start: {how}) in {iters} iterations: {out} "
               f"({where}); iterations in {strip_path}")


def register(app: typer.Typer) -> None:
    app.command("inpaint", epilog=EPILOG)(cli_errors(inpaint_cmd))
