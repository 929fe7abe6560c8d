"""An identity embedding that owes nothing to our models: dlib's face-recognition ResNet.

dlib's `dlib_face_recognition_resnet_model_v1` maps a face to 128 numbers such that two photos of
one person lie closer than 0.6 (Euclidean) and two people farther (99.38 % on LFW, dlib's figure).
It was trained on millions of real photos by someone else, so it can judge whether a generated
face is still person s without grading our models by our own networks (the project's judge is
trained from scratch on our data; a swap model's own identity encoder would grade its own
homework).

Input: uint8 RGB face crops (N, H, W, 3) that are already aligned (`cvaegan prepare` output,
Glint360k-style crops) at any size. Each crop is resized to `upsample` px (150: dlib's chip size),
dlib's 5-point shape predictor runs with the whole crop (or `box`, fractions of it) as the face
rectangle — no detector, a tight crop is the face — then `get_face_chip` aligns the 150-px chip
dlib's network expects and `compute_face_descriptor` embeds it.

Models: the two files of the `face_recognition_models` package (`shape_predictor_5_face_landmarks.dat`,
`dlib_face_recognition_resnet_model_v1.dat`), found in that package's folder without importing it
(its `__init__` needs `pkg_resources`, which recent setuptools no longer ship), or any paths given.
Nothing is ever downloaded. Install: `pip install 'cvaegan[faceid]'` (the `dlib-bin` wheel and
`face_recognition_models`).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from cvaegan.runtime.errors import CvaeganError

DESCRIPTOR_DIM = 128
SAME_PERSON_THRESHOLD = 0.6   # dlib's threshold on the Euclidean distance: below = the same person
CHIP_SIZE = 150               # dlib's aligned chip for the recognition network
PREDICTOR_FILE = "shape_predictor_5_face_landmarks.dat"
RECOGNITION_FILE = "dlib_face_recognition_resnet_model_v1.dat"
INSTALL_HINT = "pip install 'cvaegan[faceid]' (or: pip install dlib-bin face_recognition_models)"


def _dlib() -> Any:
    try:
        import dlib
    except ImportError as exc:
        raise CvaeganError(f"the face-identity embedding needs dlib, which is not installed: {INSTALL_HINT}") from exc
    return dlib


def default_model_dir() -> Path | None:
    """The `face_recognition_models` package's models/ folder, or None when it is not installed."""
    try:
        spec = importlib.util.find_spec("face_recognition_models")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def model_paths(model_dir: str | os.PathLike[str] | None = None, predictor: str | os.PathLike[str] | None = None,
                recognition: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """(shape predictor, recognition network): each given path, else the file of that name in
    `model_dir`, else in the installed `face_recognition_models` package. One-line error when a
    file is missing."""
    folder = Path(model_dir).expanduser() if model_dir is not None else default_model_dir()
    out = []
    for given, name in ((predictor, PREDICTOR_FILE), (recognition, RECOGNITION_FILE)):
        if given is not None:
            path = Path(given).expanduser()
        elif folder is not None:
            path = folder / name
        else:
            raise CvaeganError(f"dlib's model {name} not found: the face_recognition_models package is not "
                               f"installed ({INSTALL_HINT}); or pass --faceid-model DIR holding {PREDICTOR_FILE} "
                               f"and {RECOGNITION_FILE}")
        if not path.is_file():
            raise CvaeganError(f"{path}: no such file (dlib's {name}; --faceid-model DIR is a folder holding "
                               f"{PREDICTOR_FILE} and {RECOGNITION_FILE})")
        out.append(path)
    return out[0], out[1]


# Face rectangles tried by `FaceEmbedder.fit_box`, as fractions (x0, y0, x1, y1) of a crop: the
# whole crop (tight crops: insightface's template, glint), then ever tighter boxes for crops that
# keep hair and background (CelebA's centre crop, LFW's 250-px frames).
CANDIDATE_BOXES = ((0.0, 0.0, 1.0, 1.0), (0.1, 0.1, 0.9, 0.9), (0.15, 0.2, 0.85, 0.9), (0.2, 0.25, 0.8, 0.9),
                   (0.28, 0.28, 0.72, 0.72))


class FaceEmbedder:
    """dlib's 128-d face descriptor of aligned face crops (module docstring).

    `embed(uint8 (N, H, W, 3))` → float32 (N, 128); calling it with images in [-1, 1] (N, 3, H, W)
    returns a tensor (N, 128): the embedder callable `evaluation.swap` takes. `threshold` is dlib's
    same-person distance. `box`: the face rectangle as fractions (x0, y0, x1, y1) of the crop
    (default the whole crop, right for tight aligned crops). `jitters` > 0 averages that many
    randomly jittered chips (dlib's option; slower, slightly more stable)."""

    name = "dlib face_recognition_resnet_model_v1"
    threshold = SAME_PERSON_THRESHOLD
    dim = DESCRIPTOR_DIM

    def __init__(self, model_dir: str | os.PathLike[str] | None = None, *,
                 predictor: str | os.PathLike[str] | None = None, recognition: str | os.PathLike[str] | None = None,
                 box: Sequence[float] = (0.0, 0.0, 1.0, 1.0), upsample: int = CHIP_SIZE, padding: float = 0.25,
                 jitters: int = 0):
        dlib = _dlib()
        self.predictor_path, self.recognition_path = model_paths(model_dir, predictor, recognition)
        if len(box) != 4 or not 0 <= box[0] < box[2] <= 1 or not 0 <= box[1] < box[3] <= 1:
            raise CvaeganError(f"face box {tuple(box)}: need 0 ≤ x0 < x1 ≤ 1 and 0 ≤ y0 < y1 ≤ 1")
        if upsample < 32:
            raise CvaeganError(f"upsample must be at least 32 px, got {upsample}")
        try:
            self._predictor = dlib.shape_predictor(str(self.predictor_path))
            self._net = dlib.face_recognition_model_v1(str(self.recognition_path))
        except RuntimeError as exc:
            raise CvaeganError(f"dlib could not read its models ({' '.join(str(exc).split())[:160]})") from exc
        self._dlib = dlib
        self.box = tuple(float(b) for b in box)
        self.upsample = int(upsample)
        self.padding = float(padding)
        self.jitters = int(jitters)

    def fit_box(self, x: Tensor, person: np.ndarray, candidates: Sequence[Sequence[float]] = CANDIDATE_BOXES
                ) -> dict[str, Any]:
        """Choose the face rectangle from real images of known people: the candidate box under which
        each image's nearest person (mean distance to that person's other images) is its own most
        often. How much of a crop the face fills depends on how the crops were made (insightface's
        template, CelebA's 178×218 centre crop, …); with the wrong rectangle dlib's landmarks miss
        and its descriptors stop separating people. Sets `box`; returns every candidate's score."""
        person = np.asarray(person)
        scores = []
        for box in candidates:
            self.box = tuple(float(b) for b in box)
            scores.append(leave_one_out_identification(self(x).numpy(), person))
        best = int(np.argmax(scores))
        self.box = tuple(float(b) for b in candidates[best])
        return {"box": list(self.box), "fitted_on": f"{len(person)} real images of {len(np.unique(person))} people",
                "candidates": [{"box": list(map(float, b)), "leave_one_out_identification": round(float(v), 4)}
                               for b, v in zip(candidates, scores)]}

    def describe(self) -> dict[str, Any]:
        """What the record says about this embedding."""
        return {"name": self.name, "threshold": self.threshold, "dim": self.dim,
                "predictor": str(self.predictor_path), "recognition": str(self.recognition_path),
                "box": list(self.box), "upsample": self.upsample, "padding": self.padding, "jitters": self.jitters}

    def chip(self, crop: np.ndarray) -> np.ndarray:
        """One uint8 RGB crop (H, W, 3) → dlib's aligned 150×150 chip."""
        crop = np.asarray(crop)
        if crop.dtype != np.uint8 or crop.ndim != 3 or crop.shape[2] != 3:
            raise ValueError(f"faceid takes uint8 RGB crops (H, W, 3), got {crop.dtype} {crop.shape}")
        s = self.upsample
        if crop.shape[0] != s or crop.shape[1] != s:
            crop = np.asarray(Image.fromarray(crop).resize((s, s), Image.Resampling.BICUBIC))
        crop = np.ascontiguousarray(crop)
        x0, y0, x1, y1 = (round(f * (s - 1)) for f in self.box)
        shape = self._predictor(crop, self._dlib.rectangle(x0, y0, x1, y1))
        return np.asarray(self._dlib.get_face_chip(crop, shape, size=CHIP_SIZE, padding=self.padding))

    def embed(self, crops: np.ndarray | Sequence[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """uint8 RGB crops (N, H, W, 3) (or a list of (H, W, 3)) → float32 descriptors (N, 128)."""
        n = len(crops)
        out = np.zeros((n, DESCRIPTOR_DIM), np.float32)
        for i in range(0, n, batch_size):
            chips = [self.chip(c) for c in crops[i:i + batch_size]]
            desc = self._net.compute_face_descriptor(chips, self.jitters)
            out[i:i + len(chips)] = np.asarray([np.asarray(d) for d in desc], np.float32)
        return out

    def __call__(self, x: Tensor) -> Tensor:
        """Images in [-1, 1] (N, 3, H, W) → descriptors (N, 128) (float32, on the CPU)."""
        u8 = ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return torch.from_numpy(self.embed(u8.permute(0, 2, 3, 1).numpy()))


def leave_one_out_identification(e: np.ndarray, person: np.ndarray) -> float:
    """Share of images whose nearest person — by mean distance to that person's images, itself left
    out — is its own (people with one image count as misses)."""
    d = np.linalg.norm(e[:, None].astype(np.float64) - e[None], axis=-1)   # (N, N), zero diagonal
    people = np.unique(person)
    member = (person[:, None] == people[None, :]).astype(np.float64)      # (N, P)
    count = member.sum(0)[None, :] - member                               # others of each person, itself out
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(count > 0, (d @ member) / count, np.inf)          # (N, P)
    return float((people[mean.argmin(1)] == person).mean())


def distances(a: np.ndarray | Tensor, b: np.ndarray | Tensor) -> np.ndarray:
    """Euclidean distances between matched rows of two descriptor arrays (N,)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.linalg.norm(a - b, axis=1)
