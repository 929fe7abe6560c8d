"""The abstract's super-resolution, by the projection idea of Eq. 8 with down-sampling in place of
the mask: x ← G(E(x, c), c), then its low-frequency band is replaced by the input's,
x ← x − up(down(x)) + up(y) = x + up(y − down(x)).

down = s×s box average (what an area-resized low-resolution photo is), up = bicubic. down∘up is
not the identity, so one projection step leaves a small mismatch; `project` repeats the step
(back-projection, Irani & Peleg), which converges to down(x) = y because down∘up's eigenvalues lie
in (0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cvaegan.session import Session
from cvaegan.runtime.errors import CvaeganError

SCALES = (2, 4, 8)


def down(x: torch.Tensor, scale: int) -> torch.Tensor:
    return F.avg_pool2d(x, scale)


def up(y: torch.Tensor, scale: int) -> torch.Tensor:
    return F.interpolate(y, scale_factor=scale, mode="bicubic", align_corners=False)


def bicubic(y: torch.Tensor, scale: int) -> torch.Tensor:
    """The baseline: bicubic up-sampling, clamped to the image range."""
    return up(y, scale).clamp(-1, 1)


def project(x: torch.Tensor, y: torch.Tensor, scale: int, steps: int = 10) -> torch.Tensor:
    """Replace x's low band by y's: `steps` back-projection steps x ← x + up(y − down(x)),
    clamping to [−1, 1] after each so the result is a valid image."""
    for _ in range(max(1, steps)):
        x = (x + up(y - down(x, scale), scale)).clamp(-1, 1)
    return x


@torch.no_grad()
def super_resolve(loaded: Session, y: torch.Tensor, c: torch.Tensor, scale: int, iters: int,
                  projection_steps: int = 10) -> list[torch.Tensor]:
    """y (N, 3, R/s, R/s) in [−1, 1], c (N, K). Returns [x₀ = projected bicubic, x₁, …, x_iters]."""
    if scale not in SCALES:
        raise CvaeganError(f"--scale {scale}: use one of {', '.join(map(str, SCALES))}")
    if iters < 1:
        raise CvaeganError("--iters must be at least 1")
    dev = loaded.device
    y = y.to(dev).float()
    cc = c.to(dev)
    x = project(bicubic(y, scale), y, scale, projection_steps)
    out = [x.cpu()]
    for _ in range(iters):
        with loaded.autocast():
            rec = loaded.model.reconstruct(x, cc).float()
        x = project(rec, y, scale, projection_steps)
        out.append(x.cpu())
    return out
