"""`cvaegan morph A B` (§5.3) and `cvaegan morph --from-class X --to-class Y` (label morphing)."""

from __future__ import annotations

from pathlib import Path

import torch
import typer

from cvaegan.cli import shared
from cvaegan.core.condition import one_hot
from cvaegan.apps.common import choose_class
from cvaegan.session import open_session
from cvaegan.apps.faces import load_inputs, mode_from_flags
from cvaegan.apps.morph import encode_mu, label_morph, latent_morph, write_morph
from cvaegan.runtime.atomic import atomic_write_json
from cvaegan.runtime.errors import CvaeganError
from cvaegan.cli.errors import cli_errors
from cvaegan.runtime.outputs import image_output
from cvaegan.pipelines.sample import resolve_class

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
    images = list(images or [])
    label = from_class is not None or to_class is not None
    if label and (from_class is None or to_class is None):
        raise CvaeganError("label morphing needs both --from-class and --to-class")
    if label and len(images) > 1:
        raise CvaeganError("label morphing takes at most one image (its z is kept fixed)")
    if not label and len(images) != 2:
        raise CvaeganError("give two images A B (or --from-class X --to-class Y)")
    if label and class_ is not None:
        raise CvaeganError("--class is for a latent morph; a label morph uses --from-class/--to-class")
    needs = ("reconstruct",) if (images or not label) else ("generate",)
    loaded = open_session(ckpt, runs, device, precision, needs=needs, purpose="morph")
    names = loaded.class_names
    inputs = load_inputs(images, loaded.resolution, mode_from_flags(raw, aligned), detector, face) if images else []
    record: dict = {"command": "morph", "checkpoint": str(loaded.path), "step": loaded.step, "precision": loaded.precision, "steps": steps,
                    "seed": seed, "inputs": [i.record() for i in inputs]}
    if label:
        kx, ky = resolve_class(from_class, names), resolve_class(to_class, names)
        cx, cy = (one_hot(torch.tensor(k), loaded.num_classes) for k in (kx, ky))
        if inputs:
            z = encode_mu(loaded, inputs[0].x, cx)
            zsrc = f"E({inputs[0].path.name}, class {kx})"
        else:
            z = torch.randn(loaded.model.latent_dim, generator=torch.Generator().manual_seed(seed))
            zsrc = f"N(0, I) with seed {seed}"
        frames, t = label_morph(loaded, z, cx, cy, steps)
        out = out or Path("morph") / f"class{kx}-to-class{ky}.png"
        image_output(out)
        files = write_morph(frames, out, gif_ms=gif_ms)
        record.update(mode="label", from_class=kx, to_class=ky, z=zsrc, t=[round(v, 4) for v in t.tolist()])
        msg = f"label morph {names[kx]} → {names[ky]} with z = {zsrc}"
    else:
        a, b = inputs
        choice = choose_class(loaded, a.x, class_, soft=False)
        typer.echo(f"class: {choice.describe(names)}")
        frames, alphas = latent_morph(loaded, a.x, b.x, choice.vector, steps)
        out = out or Path("morph") / f"{a.path.stem}-{b.path.stem}.png"
        image_output(out)
        files = write_morph(frames, out, ends=(a.x, b.x), gif_ms=gif_ms)
        record.update(mode="latent", **{"class": choice.record(names)}, alpha=[round(v, 4) for v in alphas.tolist()])
        msg = f"morph {a.path.name} → {b.path.name}"
    record.update(strip=str(files.strip), gif=str(files.gif))
    atomic_write_json(files.strip.with_suffix(".json"), record)
    typer.echo(f"{msg}: {steps} frames in {files.strip} and {files.gif}")


def register(app: typer.Typer) -> None:
    app.command("morph", epilog=EPILOG)(cli_errors(morph_cmd))
