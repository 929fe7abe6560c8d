"""§5.3 attribute morphing: z = α·z1 + (1−α)·z2 between two encoded images of one class, decoded
with G; and label morphing (beyond the paper): a fixed z under c = (1−t)·c_X + t·c_Y."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from cvaegan.apps.common import choose_class
from cvaegan.apps.faces import InputMode, load_inputs
from cvaegan.data.images import grid_image, to_pil
from cvaegan.pipelines.sample import resolve_class
from cvaegan.runtime.atomic import atomic_path, atomic_write_json
from cvaegan.runtime.errors import CvaeganError
from cvaegan.runtime.outputs import image_output
from cvaegan.session import Session


@torch.no_grad()
def latent_morph(loaded: Session, xa: torch.Tensor, xb: torch.Tensor, c: torch.Tensor,
                 steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames (steps, 3, R, R) from A (α = 1) to B (α = 0), and the α of each frame. z_i is μ of
    q(z|x_i, c): the deterministic code, so the end frames are E/G reconstructions of A and B."""
    model, dev = loaded.model, loaded.device
    cc = c.to(dev)[None].expand(2, -1)
    with loaded.autocast():
        mu, _ = model.encode(torch.stack([xa, xb]).to(dev), cc)
        alphas = torch.linspace(1.0, 0.0, steps, device=dev)
        z = alphas[:, None] * mu[0] + (1 - alphas[:, None]) * mu[1]
        frames = model.generate(z, c.to(dev)[None].expand(steps, -1))
    return frames.cpu(), alphas.cpu()


@torch.no_grad()
def label_morph(loaded: Session, z: torch.Tensor, c_from: torch.Tensor, c_to: torch.Tensor,
                steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames under c = (1−t)·c_from + t·c_to for t from 0 to 1 with z fixed: identity changes,
    the attributes z carries (pose, expression, light) stay."""
    dev = loaded.device
    t = torch.linspace(0.0, 1.0, steps)
    c = (1 - t[:, None]) * c_from[None] + t[:, None] * c_to[None]
    with loaded.autocast():
        frames = loaded.model.generate(z.to(dev)[None].expand(steps, -1).contiguous(), c.to(dev))
    return frames.cpu(), t


@torch.no_grad()
def encode_mu(loaded: Session, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    with loaded.autocast():
        mu, _ = loaded.model.encode(x[None].to(loaded.device), c[None].to(loaded.device))
    return mu[0].float().cpu()


@dataclass
class MorphFiles:
    strip: Path
    gif: Path


def write_morph(frames: torch.Tensor, out: str | os.PathLike[str], *, ends: tuple[torch.Tensor, torch.Tensor] | None = None,
                gif_ms: int = 120, gif_scale: int = 1) -> MorphFiles:
    """A strip PNG (inputs at both ends when given, so the reconstructions can be judged) and an
    animated GIF that plays forth and back."""
    out = Path(out)
    strip = frames if ends is None else torch.cat([ends[0][None], frames, ends[1][None]])
    img = grid_image(strip, nrow=strip.shape[0])
    with atomic_path(out) as tmp:
        img.save(tmp, format="PNG")
    pil = [to_pil(f) for f in frames]
    if gif_scale > 1:
        pil = [p.resize((p.width * gif_scale, p.height * gif_scale), Image.Resampling.NEAREST) for p in pil]
    seq = pil + pil[-2:0:-1]  # ping-pong
    gif = out.with_suffix(".gif")
    with atomic_path(gif) as tmp:
        seq[0].save(tmp, format="GIF", save_all=True, append_images=seq[1:], duration=gif_ms, loop=0)
    return MorphFiles(out, gif)


@dataclass
class MorphRequest:
    """What `cvaegan morph` is asked: two images A B of one class (a latent morph), or a start and
    an end class with z from one image or from `seed` (a label morph)."""

    images: list[Path]
    class_: str | None = None
    from_class: str | None = None
    to_class: str | None = None
    steps: int = 8
    seed: int = 0
    out: Path | None = None         # None: morph/<a>-<b>.png or morph/class<X>-to-class<Y>.png
    gif_ms: int = 120
    mode: InputMode = "auto"
    detector: Path | None = None
    face: int | None = None

    def __post_init__(self) -> None:
        self.images = [Path(p) for p in self.images]
        label = self.label
        if label and (self.from_class is None or self.to_class is None):
            raise CvaeganError("label morphing needs both --from-class and --to-class")
        if label and len(self.images) > 1:
            raise CvaeganError("label morphing takes at most one image (its z is kept fixed)")
        if not label and len(self.images) != 2:
            raise CvaeganError("give two images A B (or --from-class X --to-class Y)")
        if label and self.class_ is not None:
            raise CvaeganError("--class is for a latent morph; a label morph uses --from-class/--to-class")

    @property
    def label(self) -> bool:
        return self.from_class is not None or self.to_class is not None

    @property
    def needs(self) -> tuple[str, ...]:
        """What the model must do: encode images, or only generate (a label morph from noise)."""
        return ("reconstruct",) if (self.images or not self.label) else ("generate",)


@dataclass
class MorphResult:
    files: MorphFiles
    record: dict[str, Any]
    summary: str
    class_line: str | None


def run(session: Session, req: MorphRequest) -> MorphResult:
    """Morph with `session`'s model; writes the strip, the GIF and the JSON record."""
    names = session.class_names
    inputs = load_inputs(req.images, session.resolution, req.mode, req.detector, req.face) if req.images else []
    record: dict[str, Any] = {"command": "morph", "checkpoint": str(session.path), "step": session.step,
                              "precision": session.precision, "steps": req.steps, "seed": req.seed,
                              "inputs": [i.record() for i in inputs]}
    class_line = None
    if req.label:
        kx, ky = resolve_class(req.from_class, names), resolve_class(req.to_class, names)
        cx, cy = (session.condition.one_hot(torch.tensor(k)) for k in (kx, ky))
        if inputs:
            z = encode_mu(session, inputs[0].x, cx)
            zsrc = f"E({inputs[0].path.name}, class {kx})"
        else:
            z = torch.randn(session.model.latent_dim, generator=torch.Generator().manual_seed(req.seed))
            zsrc = f"N(0, I) with seed {req.seed}"
        out = req.out or Path("morph") / f"class{kx}-to-class{ky}.png"
        image_output(out)
        frames, t = label_morph(session, z, cx, cy, req.steps)
        files = write_morph(frames, out, gif_ms=req.gif_ms)
        record.update(mode="label", from_class=kx, to_class=ky, z=zsrc, t=[round(v, 4) for v in t.tolist()])
        msg = f"label morph {names[kx]} → {names[ky]} with z = {zsrc}"
    else:
        a, b = inputs
        out = req.out or Path("morph") / f"{a.path.stem}-{b.path.stem}.png"
        image_output(out)
        choice = choose_class(session, a.x, req.class_, soft=False)
        class_line = f"class: {choice.describe(names)}"
        frames, alphas = latent_morph(session, a.x, b.x, choice.vector, req.steps)
        files = write_morph(frames, out, ends=(a.x, b.x), gif_ms=req.gif_ms)
        record.update(mode="latent", **{"class": choice.record(names)}, alpha=[round(v, 4) for v in alphas.tolist()])
        msg = f"morph {a.path.name} → {b.path.name}"
    record.update(strip=str(files.strip), gif=str(files.gif))
    atomic_write_json(files.strip.with_suffix(".json"), record)
    return MorphResult(files, record, f"{msg}: {req.steps} frames in {files.strip} and {files.gif}", class_line)
