"""§5.3 attribute morphing: z = α·z1 + (1−α)·z2 between two encoded images of one class, decoded
with G; and label morphing (beyond the paper): a fixed z under c = (1−t)·c_X + t·c_Y."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from cvaegan.session import Session
from cvaegan.runtime.atomic import atomic_path
from cvaegan.data.images import grid_image, to_pil


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
