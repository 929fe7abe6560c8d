"""Inputs that may be raw photos: detect and align them exactly as `prepare` does (its aligner and
detector are reused, never re-implemented), or take them as already-aligned crops.

Auto mode treats a square image whose side is the model's resolution or a size `prepare` writes
(32, 64, 128, 256) as an aligned crop, and anything else as a raw photo; `--raw` / `--aligned`
override that.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image

from cvaegan.apps.common import array_to_tensor, read_crop
from cvaegan.prepare.align import align_face
from cvaegan.prepare.detect import FaceDetector, default_detector_path
from cvaegan.prepare.io import load_photo
from cvaegan.runtime.errors import CvaeganError

InputMode = Literal["auto", "raw", "aligned"]
ALIGNED_SIDES = (32, 64, 128, 256)


@dataclass
class FaceInput:
    """One input, as the model sees it (`x`: (3, R, R) in [-1, 1]) and, for a raw photo, what it
    takes to put an edited crop back: the photo and the photo→crop affine."""

    path: Path
    x: torch.Tensor
    raw: bool
    photo: np.ndarray | None = None          # (H, W, 3) uint8 RGB, raw photos only
    matrix: np.ndarray | None = None         # (2, 3) photo → crop, raw photos only
    face_index: int | None = None
    faces_found: int | None = None
    score: float | None = None

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": str(self.path), "raw": self.raw}
        if self.raw:
            out.update(face_index=self.face_index, faces_found=self.faces_found,
                       score=None if self.score is None else round(float(self.score), 4),
                       matrix=np.asarray(self.matrix).round(6).tolist(),
                       photo_size=[int(self.photo.shape[1]), int(self.photo.shape[0])])
        return out


def image_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as im:
            return im.size
    except Exception as exc:  # noqa: BLE001
        raise CvaeganError(f"{path}: not a readable image ({type(exc).__name__})") from exc


def looks_aligned(path: Path, resolution: int) -> bool:
    w, h = image_size(path)
    return w == h and (w == resolution or w in ALIGNED_SIDES)


def resolve_mode(path: Path, mode: InputMode, resolution: int) -> bool:
    """True when `path` is to be detected and aligned."""
    if not path.is_file():
        raise CvaeganError(f"{path}: no such image file")
    if mode == "raw":
        return True
    if mode == "aligned":
        return False
    return not looks_aligned(path, resolution)


class FaceAligner:
    """The detector and aligner of `prepare`, loaded once and shared by all inputs of a command."""

    def __init__(self, detector_path: str | os.PathLike[str] | None = None):
        self.detector = FaceDetector(Path(detector_path) if detector_path else default_detector_path())
        self.detector_path = self.detector.path

    def load(self, path: Path, resolution: int, face: int | None) -> FaceInput:
        try:
            photo = load_photo(path)
        except CvaeganError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise CvaeganError(f"{path}: not a readable photo ({type(exc).__name__})") from exc
        faces = self.detector.detect(photo)
        if not faces:
            raise CvaeganError(f"{path}: no face found (if it is already an aligned crop, pass --aligned)")
        if face is None and len(faces) > 1:
            raise CvaeganError(f"{path}: {len(faces)} faces found; choose one with --face INDEX "
                               f"(0 = the largest … {len(faces) - 1} = the smallest)")
        index = 0 if face is None else face
        if not 0 <= index < len(faces):
            raise CvaeganError(f"{path}: --face {index} is out of range: {len(faces)} face(s) found "
                               f"(0..{len(faces) - 1})")
        aligned = align_face(photo, faces[index], resolution)
        return FaceInput(path, array_to_tensor(aligned.crop), True, photo, np.asarray(aligned.matrix, np.float64),
                         index, len(faces), float(faces[index].score))


def load_inputs(paths: list[Path], resolution: int, mode: InputMode = "auto",
                detector: str | os.PathLike[str] | None = None, face: int | None = None) -> list[FaceInput]:
    """Read every input at the model's resolution, aligning the raw photos among them."""
    raw = [resolve_mode(Path(p), mode, resolution) for p in paths]
    aligner = FaceAligner(detector) if any(raw) else None
    out = []
    for p, r in zip(paths, raw):
        p = Path(p)
        out.append(aligner.load(p, resolution, face) if r and aligner else FaceInput(p, read_crop(p, resolution), False))
    return out


def mode_from_flags(raw: bool, aligned: bool) -> InputMode:
    if raw and aligned:
        raise CvaeganError("--raw and --aligned contradict each other; give one of them")
    return "raw" if raw else "aligned" if aligned else "auto"
