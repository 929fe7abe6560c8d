"""Putting an edited aligned crop back into the user's photo with a feathered edge around the edit
only: every photo pixel outside the warped, feathered edit mask keeps its exact value. The inverse
warp and blend are `prepare`'s (`cvaegan.prepare.align.paste_back`); this module supplies the
alpha, the face region that `edit` and `swap` paste inside, and the band a test may check.

With `blend`, the face region of the crop is first Poisson-blended (`cvaegan.apps.blend`) into
the input's own aligned crop: it keeps G's gradients, and G's colour offset against the photo
(a swap's skin tone, a reconstruction's tint) fades out towards the region's edge, so the paste
has no seam even where the feather is narrow."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image

from cvaegan.apps.blend import poisson_blend
from cvaegan.apps.common import array_to_tensor, tensor_to_array
from cvaegan.data.images import save_png
from cvaegan.prepare.align import paste_back

# The face region of an aligned crop (fractions of its side): an ellipse from the brows to the
# chin and cheek to cheek around the template (eyes at y = 0.347, mouth at y = 0.656).
FACE_CENTRE, FACE_RADII = (0.5, 0.52), (0.34, 0.40)


def face_mask(resolution: int) -> np.ndarray:
    """(R, R) bool: the face region of an aligned crop, where a raw photo takes the edit."""
    c = (np.arange(resolution, dtype=np.float32) + 0.5) / resolution
    dx = (c[None, :] - FACE_CENTRE[0]) / FACE_RADII[0]
    dy = (c[:, None] - FACE_CENTRE[1]) / FACE_RADII[1]
    return dx * dx + dy * dy <= 1.0


def default_feather(resolution: int) -> float:
    """The blend width of a face paste in crop pixels: resolution/32, at least 2."""
    return max(2.0, resolution / 32)


def blended_face(crop: np.ndarray, x: torch.Tensor) -> np.ndarray:
    """The face region (`face_mask`) of `crop` (R, R, 3) uint8, Poisson-blended into the input's
    aligned crop `x` (3, R, R) in [-1, 1]; outside the region, x. Returns (R, R, 3) uint8."""
    res = crop.shape[0]
    mask = torch.from_numpy(face_mask(res))[None, None]
    return tensor_to_array(poisson_blend(array_to_tensor(crop)[None], x[None].float(), mask)[0])


def write_face_result(crop: np.ndarray, inp: Any, out: Path, feather: float | None = None,
                      blend: bool = False) -> str:
    """Write an edited crop (R, R, 3) uint8 of the input `inp` (a `faces.FaceInput`) to `out`: for
    a raw photo pasted back inside the face region (`face_mask`, feathered by `feather` crop pixels,
    default `default_feather`; with `blend`, Poisson-blended first, `blended_face`), else the crop
    itself. Returns what was written, for the summary and the record."""
    res = crop.shape[0]
    if inp.raw:
        width = feather if feather is not None else default_feather(res)
        face = blended_face(crop, inp.x) if blend else crop
        photo = paste_edit(inp.photo, face, inp.matrix, face_mask(res), width)
        save_png(Image.fromarray(photo), out)
        changed = int((photo != inp.photo).any(axis=2).sum())
        how = "Poisson-blended into" if blend else "pasted into"
        return f"{how} the face region of the {inp.photo.shape[1]}×{inp.photo.shape[0]} photo, " \
               f"{changed} pixels changed"
    save_png(Image.fromarray(crop), out)
    return f"{res}×{res} crop"


def feathered_alpha(mask: np.ndarray, feather: float) -> np.ndarray:
    """(R, R) bool edit mask → float32 alpha: 1 on the mask, a smooth fall to 0 over `feather`
    crop pixels outside it, exactly 0 beyond."""
    if feather <= 0:
        return mask.astype(np.float32)
    outside = (~mask).astype(np.uint8)
    dist = cv2.distanceTransform(outside, cv2.DIST_L2, 5)  # 0 on the mask
    t = np.clip(1.0 - dist / float(feather), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)  # smoothstep: no visible seam


def paste_edit(photo: np.ndarray, crop: np.ndarray, matrix: np.ndarray, mask: np.ndarray,
               feather: float) -> np.ndarray:
    """photo (H, W, 3) uint8, edited crop (R, R, 3) uint8, matrix (2, 3) photo → crop, mask (R, R)
    bool = the edited crop pixels. `prepare`'s paste_back does the inverse warp and the blend
    round((1−a)·photo + a·crop); with this alpha, a is exactly 0 — the photo's own bits — beyond the
    feathered band around the edit."""
    return paste_back(photo, crop, matrix, feathered_alpha(mask, feather))


def changed_band(matrix: np.ndarray, mask: np.ndarray, feather: float, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: the photo pixels `paste_edit` may change for this mask and feather — the mask
    grown by the feather (+1 crop pixel for bilinear sampling), warped to the photo and grown by
    one crop pixel's size in photo pixels. Tests check nothing outside it changes."""
    grow = int(math.ceil(feather)) + 2
    k = np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)
    grown = cv2.dilate(mask.astype(np.uint8), k)
    h, w = shape
    band = cv2.warpAffine(grown.astype(np.float32), matrix, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0
    scale = math.sqrt(abs(np.linalg.det(matrix[:, :2])))  # crop px per photo px
    r = max(1, int(math.ceil(1.0 / max(scale, 1e-6))))
    return cv2.dilate(band.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0
