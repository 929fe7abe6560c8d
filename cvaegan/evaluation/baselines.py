"""The applications against their classical baselines, on held-out crops of a dataset:

- `inpaint_vs_opencv`: §5.4's random patch (50×50 at 128, scaled with the resolution, seeded by
  the image's position), masked-region PSNR of the z search and of Eq. 8 inpainting against
  cv2.inpaint (Telea and Navier–Stokes). The masked pixels start grey for our methods (OpenCV
  ignores them). Class: C's posterior on the corrupted crop, as the CLI does (or the true label
  with `oracle_class`).
- `superres_vs_bicubic`: y = s×s box average of the crop, whole-image PSNR of `super_resolve_fit`
  and `super_resolve` against bicubic up-sampling and against bicubic projected onto y. Class:
  C's posterior on the bicubic image, as the CLI does.

Used by `benchmarks/inpaint_vs_opencv.py` and `benchmarks/fidelity.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from cvaegan.apps.common import choose_class, psnr, read_crop, tensor_to_array
from cvaegan.apps.inpaint import box_mask, eq8_steps, fill_hole, fill_masked, fit_fill, random_patch
from cvaegan.apps.superres import bicubic, down, super_resolve, super_resolve_fit
from cvaegan.data.images import from_hwc_uint8
from cvaegan.data.manifest import index_dataset
from cvaegan.session import Session


def heldout_crops(loaded: Session, data: Path, limit: int
                  ) -> tuple[torch.Tensor, list[int], list[str], str | None]:
    """Up to `limit` crops of DATA's test split (all images when it has none) at the model's
    resolution, with their labels in the dataset's class order and that order's names."""
    index = index_dataset(data)
    split = "test" if "test" in index.splits else None
    if split:
        index = index.subset(split)
    files, labels = index.files[:limit], index.labels[:limit]
    return torch.stack([read_crop(f, loaded.resolution) for f in files]), list(labels), index.class_names, split


def _oracle(loaded: Session, names: list[str], labels: list[int]) -> torch.Tensor:
    ckpt_index = {n: i for i, n in enumerate(loaded.class_names)}
    return loaded.model.class_vector(torch.tensor([ckpt_index[names[y]] for y in labels])).cpu()


def opencv_inpaint(x: torch.Tensor, mask: np.ndarray, method: int, radius: int) -> torch.Tensor:
    bgr = cv2.cvtColor(tensor_to_array(x), cv2.COLOR_RGB2BGR)
    out = cv2.inpaint(bgr, mask.astype(np.uint8) * 255, radius, method)
    rgb = cv2.cvtColor(out, cv2.COLOR_BGR2RGB)
    return from_hwc_uint8(rgb[None])[0]


def inpaint_vs_opencv(loaded: Session, data: Path, limit: int = 200, iters: int = 10, radius: int = 3,
                      oracle_class: bool = False, method: str = "fit", fit_steps: int = 100,
                      blend: bool = True) -> dict[str, Any]:
    """Both of our methods are scored, pasted and Poisson-blended; `method` and `blend` (the CLI's
    defaults: fit, blended) decide which is "ours"."""
    x, labels, names, split = heldout_crops(loaded, data, limit)
    res = loaded.resolution
    masks = [box_mask(res, res, random_patch(res, i)) for i in range(len(x))]
    m = torch.stack([torch.from_numpy(mk)[None] for mk in masks])
    x0 = torch.stack([fill_masked(xi, mi, "grey", 0) for xi, mi in zip(x, m)])
    c = _oracle(loaded, names, labels) if oracle_class else \
        torch.stack([choose_class(loaded, xi, None).vector for xi in x0])
    steps, last_rec = eq8_steps(loaded, x0, m, c, iters)

    def score(imgs: list[torch.Tensor]) -> float:
        return float(np.mean([psnr(a, b, mk) for a, b, mk in zip(imgs, x, m)]))

    table = {"grey fill (start)": score(list(x0))}
    for k in sorted({1, min(5, iters), iters}):
        table[f"ours, Eq. 8 × {k}"] = score(list(steps[k]))
    table[f"ours, Eq. 8 × {iters}, blended"] = score(list(fill_hole(last_rec, x0, m, blend=True).cpu()))
    _, fitted = fit_fill(loaded, x0, m, c, fit_steps)  # one search, put in both ways
    table[f"ours, fit ({fit_steps} steps)"] = score(list(fill_hole(fitted, x0, m, blend=False).cpu()))
    table[f"ours, fit ({fit_steps} steps), blended"] = score(list(fill_hole(fitted, x0, m, blend=True).cpu()))
    table["cv2 Telea"] = score([opencv_inpaint(xi, mk, cv2.INPAINT_TELEA, radius) for xi, mk in zip(x0, masks)])
    table["cv2 Navier–Stokes"] = score([opencv_inpaint(xi, mk, cv2.INPAINT_NS, radius) for xi, mk in zip(x0, masks)])
    ours = table[(f"ours, fit ({fit_steps} steps)" if method == "fit" else f"ours, Eq. 8 × {iters}")
                 + (", blended" if blend else "")]
    return {"checkpoint": str(loaded.path), "step": loaded.step, "data": str(data), "split": split,
            "images": len(x), "resolution": res, "patch_pixels": int(masks[0].sum()), "iters": iters,
            "radius": radius, "oracle_class": oracle_class, "method": method, "fit_steps": fit_steps,
            "blend": blend, "ours_db": round(ours, 3),
            "psnr_masked_db": {k: round(v, 3) for k, v in table.items()},
            "beats_both_opencv": bool(ours > table["cv2 Telea"] and ours > table["cv2 Navier–Stokes"])}


def superres_vs_bicubic(loaded: Session, data: Path, limit: int = 200, scale: int = 4, iters: int = 3,
                        oracle_class: bool = False, method: str = "fit", fit_steps: int = 100) -> dict[str, Any]:
    """Both methods are scored; `method` (the CLI's default, `fit`) decides which one is "ours"."""
    x, labels, names, split = heldout_crops(loaded, data, limit)
    y = down(x, scale)
    base = bicubic(y, scale)
    c = _oracle(loaded, names, labels) if oracle_class else \
        torch.stack([choose_class(loaded, b, None).vector for b in base])
    steps = super_resolve(loaded, y, c, scale, iters)
    fitted = super_resolve_fit(loaded, y, c, scale, fit_steps)[-1]

    def score(imgs: torch.Tensor) -> float:
        return float(np.mean([psnr(a, b) for a, b in zip(imgs, x)]))

    table = {"bicubic": score(base)}
    for k in range(len(steps)):
        table["projected bicubic" if k == 0 else f"ours, iterate × {k}"] = score(steps[k])
    table[f"ours, fit ({fit_steps} steps)"] = score(fitted)
    best_iter = max(range(1, len(steps)), key=lambda k: table[f"ours, iterate × {k}"])
    ours = table[f"ours, fit ({fit_steps} steps)" if method == "fit" else f"ours, iterate × {iters}"]
    return {"checkpoint": str(loaded.path), "step": loaded.step, "data": str(data), "split": split,
            "images": len(x), "resolution": loaded.resolution, "scale": scale, "method": method,
            "iters": iters, "fit_steps": fit_steps, "oracle_class": oracle_class,
            "psnr_db": {k: round(v, 3) for k, v in table.items()},
            "ours_db": round(ours, 3), "best_iter": best_iter,
            "beats_bicubic": bool(ours > table["bicubic"]),
            "beats_projected_bicubic": bool(ours > table["projected bicubic"])}
