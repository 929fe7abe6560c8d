"""Drawing samples from a checkpoint: class lookup by index or name, seeded z ~ N(0, I)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from cvaegan.data.images import save_grid, to_pil, save_png
from cvaegan.data.naming import distinct_folders
from cvaegan.runtime.device import autocast
from cvaegan.data.naming import resolve_name


def resolve_class(spec: str | int, class_names: list[str]) -> int:
    """An index ("42") or a class name; unknown names get an error listing the closest names."""
    return resolve_name(spec, class_names, "class")


def safe_name(name: str) -> str:
    """A class name as a folder name: no separators, no leading dots."""
    out = re.sub(r"[^\w\-. ]+", "_", name).strip().replace(" ", "_").lstrip(".")
    return out or "class"


def class_folders(class_names: list[str]) -> list[str]:
    """One distinct folder per class (`naming.distinct_folders` of `safe_name`)."""
    return distinct_folders([safe_name(n) for n in class_names])


@torch.no_grad()
def sample(model: torch.nn.Module, labels: torch.Tensor, seed: int, batch_size: int = 256,
           progress: Callable[[int], None] | None = None, precision: str = "auto") -> torch.Tensor:
    """x = G(z, c), z ~ N(0, I) drawn on the CPU from `seed`, so results match across devices.
    `progress(n_done)` is called after each batch (evaluate's progress bar)."""
    device = next(model.parameters()).device
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(len(labels), model.latent_dim, generator=g)
    out = []
    for i in range(0, len(labels), batch_size):
        with autocast(device, precision):
            c = model.class_vector(labels[i:i + batch_size].to(device))
            out.append(model.generate(z[i:i + batch_size].to(device), c).cpu())
        if progress is not None:
            progress(min(i + batch_size, len(labels)))
    return torch.cat(out)


@dataclass
class SampleResult:
    grid: Path
    files: list[Path]
    classes: list[int]


def sample_to_files(model: torch.nn.Module, class_names: list[str], classes: list[int], n: int, seed: int,
                    out: Path, separate: Path | None = None, precision: str = "auto") -> SampleResult:
    """n samples of each class: one grid (a row per class, or a square grid for one class) and,
    with `separate`, one PNG per sample in an ImageFolder tree separate/<class>/<seed>_<i>.png."""
    labels = torch.tensor(classes).repeat_interleave(n)
    x = sample(model, labels, seed, precision=precision)
    grid = save_grid(x, out, nrow=None if len(classes) == 1 else n)
    files: list[Path] = []
    if separate is not None:
        folders = class_folders(class_names)
        for j, (img, y) in enumerate(zip(x, labels.tolist())):
            files.append(save_png(to_pil(img), separate / folders[y] / f"{seed}_{j % n:05d}.png"))
    return SampleResult(grid, files, classes)
