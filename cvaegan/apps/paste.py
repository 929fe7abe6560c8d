"""Putting an edited aligned crop back into the user's photo with a feathered edge around the edit
only: every photo pixel outside the warped, feathered edit mask keeps its exact value. The inverse
warp and blend are `prepare`'s (`cvaegan.prepare.align.paste_back`); this module supplies the
alpha, and the band a test may check."""

from __future__ import annotations

import math

import cv2
import numpy as np

from cvaegan.prepare.align import paste_back


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
