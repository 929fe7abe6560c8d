"""What every application needs besides its session (`cvaegan.session`): input crops read at the
model's resolution, the class condition (given, or C's posterior), and PSNR."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from cvaegan.core.condition import one_hot
from cvaegan.data.dataset import load_image_square
from cvaegan.data.images import from_hwc_uint8, to_hwc_uint8
from cvaegan.pipelines.sample import resolve_class
from cvaegan.runtime.errors import CvaeganError
from cvaegan.session import Session


def read_crop(path: str | os.PathLike[str], resolution: int) -> torch.Tensor:
    """An already-aligned crop as (3, R, R) in [-1, 1] (short side resized, centre-cropped), the
    same way `train` reads its images, so a crop is seen as in training."""
    path = Path(path)
    if not path.is_file():
        raise CvaeganError(f"{path}: no such image file")
    try:
        arr = load_image_square(path, resolution)
    except Exception as exc:  # noqa: BLE001 — PIL raises many types for non-images
        raise CvaeganError(f"{path}: not a readable image ({type(exc).__name__})") from exc
    return array_to_tensor(arr)


def array_to_tensor(arr: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 RGB → (3, H, W) float in [-1, 1]."""
    return from_hwc_uint8(np.array(arr, dtype=np.uint8, copy=True)[None])[0]


def tensor_to_array(x: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [-1, 1] → (H, W, 3) uint8 RGB."""
    return to_hwc_uint8(x[None])[0]


@dataclass
class ClassChoice:
    """The condition c used, and where it came from (printed, and kept in run records)."""

    vector: torch.Tensor            # (K,) probability vector
    index: int                      # the given class, or C's top class
    source: Literal["given", "posterior", "prediction"]
    probability: float              # C's probability of `index` (1.0 when given)

    def describe(self, names: list[str]) -> str:
        name = f"class {self.index} ({names[self.index]})"
        if self.source == "given":
            return f"{name}, given by --class"
        if self.source == "prediction":
            return f"{name}, C's prediction (p={self.probability:.2f})"
        return f"C's posterior on the input (top: {name}, p={self.probability:.2f})"

    def record(self, names: list[str]) -> dict:
        return {"source": self.source, "index": self.index, "name": names[self.index],
                "probability": round(self.probability, 4), "vector": [round(v, 5) for v in self.vector.tolist()]}


def choose_class(loaded: Session, x: torch.Tensor, spec: str | None, *,
                 soft: bool = True) -> ClassChoice:
    """`--class` as a one-hot vector; without it C's posterior on `x` (3, R, R): the full posterior
    when `soft` (a face the model never saw is best described as a mixture of the classes it knows),
    else C's top class one-hot."""
    k = loaded.num_classes
    if spec is not None:
        idx = resolve_class(spec, loaded.class_names)
        return ClassChoice(one_hot(torch.tensor(idx), k), idx, "given", 1.0)
    if "classify" not in loaded.capabilities:
        raise CvaeganError(f"a '{loaded.model.cfg.model.model}' model has no classifier; name the class "
                           "with --class")
    post = loaded.model.classify(x[None].to(loaded.device))[0].cpu()
    idx = int(post.argmax())
    if soft:
        return ClassChoice(post, idx, "posterior", float(post[idx]))
    return ClassChoice(one_hot(torch.tensor(idx), k), idx, "prediction",
                       float(post[idx]))


def psnr(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """PSNR in dB of images in [-1, 1] (peak-to-peak 2), optionally over a mask's pixels only."""
    d2 = (a.float().clamp(-1, 1) - b.float().clamp(-1, 1)) ** 2
    if mask is not None:
        m = mask.expand_as(d2).bool()
        d2 = d2[m]
    mse = float(d2.mean())
    return float("inf") if mse == 0 else 10.0 * float(np.log10(4.0 / mse))
