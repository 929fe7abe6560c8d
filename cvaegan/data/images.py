"""Image conversions and grid files."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.utils import make_grid

from cvaegan.runtime.atomic import atomic_path
from cvaegan.runtime.errors import CvaeganError


# The one place pixels change representation: models see float (N, 3, H, W) in [-1, 1]; files,
# caches and OpenCV hold uint8 RGB (N, H, W, 3).

def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float images (N, 3, H, W) → uint8 (N, 3, H, W) on the CPU."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()


def to_hwc_uint8(x: torch.Tensor) -> np.ndarray:
    """[-1, 1] float images (N, 3, H, W) → uint8 RGB array (N, H, W, 3)."""
    return to_uint8(x).permute(0, 2, 3, 1).numpy()


def from_uint8(x: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, 3, H, W) → float in [-1, 1] on x's device."""
    if x.dtype != torch.uint8:
        raise TypeError(f"from_uint8 takes uint8 images, got {x.dtype}")
    return x.float().div_(127.5).sub_(1.0)  # in place on the fresh float copy


def from_hwc_uint8(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    """uint8 RGB (N, H, W, 3), a tensor or an array → float (N, 3, H, W) in [-1, 1] (a strided view
    of the float copy: `.contiguous(...)` it where the layout matters)."""
    t = torch.from_numpy(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x
    return from_uint8(t.permute(0, 3, 1, 2))


def to_pil(x: torch.Tensor) -> Image.Image:
    """One image (3, H, W) in [-1, 1] → PIL RGB."""
    return Image.fromarray(to_hwc_uint8(x[None])[0])


# What an output's suffix promises; `-o grid.jpg` must not hold PNG bytes.
FORMATS = {"": ("PNG", {}), ".png": ("PNG", {}), ".jpg": ("JPEG", {"quality": 95}),
           ".jpeg": ("JPEG", {"quality": 95}), ".webp": ("WEBP", {"lossless": True})}


def save_png(img: Image.Image, path: str | os.PathLike[str]) -> Path:
    """Write an image atomically in the format its suffix names (PNG, JPEG at quality 95, lossless
    WebP); another suffix is refused rather than written as PNG bytes under a wrong name."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise CvaeganError(f"{path}: cannot write '{path.suffix}' images; use .png, .jpg or .webp")
    fmt, params = FORMATS[path.suffix.lower()]
    with atomic_path(path) as tmp:
        img.save(tmp, format=fmt, **params)
    return path


def grid_image(x: torch.Tensor, nrow: int | None = None, padding: int = 2) -> Image.Image:
    """Images in [-1, 1] → one PIL grid, `nrow` per row (default: as square as possible)."""
    nrow = nrow or max(1, math.ceil(math.sqrt(x.shape[0])))
    grid = make_grid(to_uint8(x), nrow=nrow, padding=padding, pad_value=255)
    return Image.fromarray(grid.permute(1, 2, 0).numpy())


def save_grid(x: torch.Tensor, path: str | os.PathLike[str], nrow: int | None = None) -> Path:
    return save_png(grid_image(x, nrow), path)


def swap_cells(swap: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], identities: torch.Tensor,
               attributes: torch.Tensor) -> torch.Tensor:
    """The identities × attributes figure of an identity-swap model as (1 + n) × (1 + m) cells,
    row-major (`grid_image(cells, nrow=m + 1)`): the m attribute images along the top, the n
    identity images down the left, a white corner, and in cell (i, j) `swap(identity i, attribute
    image j)`. `swap(x_identity, x_attributes)` takes (N, 3, R, R) pairs in [-1, 1]."""
    n, m = len(identities), len(attributes)
    cells = swap(identities.repeat_interleave(m, 0), attributes.repeat(n, 1, 1, 1)).view(n, m, *attributes.shape[1:])
    top = torch.cat([torch.ones_like(attributes[:1]), attributes])[None]
    rows = torch.cat([identities[:, None].to(cells), cells], dim=1)
    return torch.cat([top.to(cells), rows]).flatten(0, 1)
