"""Five-point face alignment to a canonical template, and the square crops that other kinds use.

The template (fractions of the crop side, image-left eye first, nose tip exactly at the centre)::

    left eye     (0.3663, 0.3472)      right eye     (0.6337, 0.3472)
    nose tip     (0.5000, 0.5000)
    left mouth   (0.3892, 0.6560)      right mouth   (0.6108, 0.6560)

It is ArcFace's 112×112 template made left/right symmetric, scaled by 0.85 about the nose tip and
moved so that the nose tip is the crop centre, as §5 of the paper asks ("a 128×128 face region centred
around the nose tip"); the 0.85 keeps the forehead and chin in the crop. In pixel coordinates (pixel
centres at integers, as OpenCV and the detector use) a point is `fraction * size - 0.5`, so at 128 the
nose tip is at (63.5, 63.5) and the eyes are 34.2 px apart.

`matrix` is always the 2×3 affine map photo -> crop (full-size photo coordinates, after EXIF
orientation); `invert_matrix` gives crop -> photo for pasting results back.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from skimage.transform import SimilarityTransform

TEMPLATE_FRACTIONS = np.array([
    [0.3663, 0.3472],
    [0.6337, 0.3472],
    [0.5000, 0.5000],
    [0.3892, 0.6560],
    [0.6108, 0.6560],
], dtype=np.float32)
LANDMARK_NAMES = ("left_eye", "right_eye", "nose_tip", "left_mouth", "right_mouth")


def canonical_template(size: int) -> np.ndarray:
    """(5, 2) float32 pixel coordinates of the template in a `size`×`size` crop."""
    return (TEMPLATE_FRACTIONS * np.float32(size) - np.float32(0.5)).astype(np.float32)


@dataclass
class Face:
    """One detection: box x1, y1, x2, y2 and 5 landmarks (template order), in photo pixels."""

    bbox: np.ndarray       # (4,) float32
    score: float
    landmarks: np.ndarray  # (5, 2) float32

    @property
    def width(self) -> float:
        return float(self.bbox[2] - self.bbox[0])

    @property
    def height(self) -> float:
        return float(self.bbox[3] - self.bbox[1])

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)


@dataclass
class AlignedFace:
    crop: np.ndarray    # (size, size, 3) uint8 RGB
    matrix: np.ndarray  # (2, 3) float64, photo -> crop
    face: Face


def similarity_matrix(landmarks: np.ndarray, size: int) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, shift) taking `landmarks` onto the template."""
    src = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    tform = SimilarityTransform.from_estimate(src, canonical_template(size).astype(np.float64))
    if not tform:  # degenerate (e.g. all points equal)
        raise ValueError("landmarks do not determine a similarity transform")
    return np.asarray(tform.params[:2, :], dtype=np.float64)


def align_face(photo_rgb: np.ndarray, face: Face, size: int) -> AlignedFace:
    """Warp the face onto the canonical template: a `size`×`size` RGB crop, nose tip at the centre."""
    matrix = similarity_matrix(face.landmarks, size)
    return AlignedFace(warp_crop(photo_rgb, matrix, size), matrix, face)


def box_matrix(box: tuple[float, float, float, float], size: int) -> np.ndarray:
    """photo -> crop matrix mapping the box (x1, y1, x2, y2; pixel edges) onto a size×size crop (square box: a similarity)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    sx, sy = size / max(x2 - x1, 1e-6), size / max(y2 - y1, 1e-6)
    # box edges are continuous coordinates (pixel i spans [i, i+1)); edge x1 lands on crop edge -0.5
    return np.array([[sx, 0.0, sx * (0.5 - x1) - 0.5], [0.0, sy, sy * (0.5 - y1) - 0.5]], dtype=np.float64)


def warp_crop(photo_rgb: np.ndarray, matrix: np.ndarray, size: int,
              border: int = cv2.BORDER_CONSTANT) -> np.ndarray:
    """cv2.warpAffine with antialiasing: when the crop shrinks the photo by more than 2×, only the
    crop's footprint is first reduced with INTER_AREA (warpAffine alone would alias)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    src = photo_rgb
    if scale < 0.5:
        inv = invert_matrix(matrix)
        corners = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [-0.5, size - 0.5], [size - 0.5, size - 0.5]])
        foot = map_points(inv, corners)
        h, w = photo_rgb.shape[:2]
        pad = 2.0 / scale
        x0 = int(np.clip(np.floor(foot[:, 0].min() - pad), 0, w - 1))
        y0 = int(np.clip(np.floor(foot[:, 1].min() - pad), 0, h - 1))
        x1 = int(np.clip(np.ceil(foot[:, 0].max() + pad), x0 + 1, w))
        y1 = int(np.clip(np.ceil(foot[:, 1].max() + pad), y0 + 1, h))
        roi = photo_rgb[y0:y1, x0:x1]
        f = min(1.0, 2.0 * scale)  # leave the final ≤2× reduction to the bilinear warp
        rw, rh = max(1, round(roi.shape[1] * f)), max(1, round(roi.shape[0] * f))
        src = cv2.resize(roi, (rw, rh), interpolation=cv2.INTER_AREA)
        fx, fy = rw / roi.shape[1], rh / roi.shape[0]
        # roi pixel (u, v) -> reduced ((u + .5) * fx - .5, ...); photo (x, y) -> roi (x - x0, y - y0)
        pre = np.array([[fx, 0.0, (0.5 - x0) * fx - 0.5], [0.0, fy, (0.5 - y0) * fy - 0.5], [0, 0, 1]])
        matrix = matrix @ np.linalg.inv(pre)
    return cv2.warpAffine(np.ascontiguousarray(src), matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=border, borderValue=(0, 0, 0))


def invert_matrix(matrix: np.ndarray) -> np.ndarray:
    """The inverse 2×3 affine map (crop -> photo for a photo -> crop matrix)."""
    full = np.vstack([np.asarray(matrix, dtype=np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def map_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2×3 affine map to (N, 2) points."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return pts @ np.asarray(matrix, dtype=np.float64)[:, :2].T + np.asarray(matrix, dtype=np.float64)[:, 2]


def paste_back(photo_rgb: np.ndarray, crop_rgb: np.ndarray, matrix: np.ndarray,
               mask: np.ndarray | None = None) -> np.ndarray:
    """Put a (possibly edited) crop back into a copy of its photo; `mask` (crop-sized, 0..1) limits
    where it goes, defaulting to the whole crop with a 2 px feathered edge."""
    h, w = photo_rgb.shape[:2]
    size = crop_rgb.shape[0]
    if mask is None:
        mask = np.zeros((size, size), np.float32)
        mask[2:-2, 2:-2] = 1.0
        mask = cv2.GaussianBlur(mask, (5, 5), 0)
    inv = invert_matrix(matrix)
    back = cv2.warpAffine(crop_rgb, inv, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    alpha = cv2.warpAffine(mask.astype(np.float32), inv, (w, h), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT)[..., None]
    out = photo_rgb.astype(np.float32) * (1.0 - alpha) + back.astype(np.float32) * alpha
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
