"""What every kind shares: options, jobs (one per source image), outcomes, safe names, square fits."""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cvaegan.data.manifest import IMAGE_EXTENSIONS
from cvaegan.data.naming import distinct_folders

KINDS = ("faces", "facescrub", "flowers", "cub", "celeba", "chars", "folder")
FACE_KINDS = ("faces", "facescrub")
PICKS = ("largest", "center", "score")
FITS = ("crop", "pad", "squash")
MASKS = ("segmim", "labelmap")


@dataclass
class PrepareOptions:
    """Everything `cvaegan prepare` takes. Fields in `output_config()` decide the crops; changing one
    of them makes an existing output folder stale (see runner)."""

    kind: str
    raw: Path
    out: Path
    size: int = 128
    workers: int = 1
    detector: Path | None = None
    pick: str = "largest"
    min_face: int = 32
    det_thresh: float = 0.5
    masks: str = "segmim"
    flower_label: int = 1
    bbox: bool = False
    fit: str = "crop"
    identities: Path | None = None
    reference_style: str | None = None   # chars: the font of the plain "content" glyphs (None: "1")
    download: bool = False
    download_workers: int = 8
    timeout: float = 20.0
    retries: int = 3
    max_bytes: int = 20 * 1024 * 1024
    deadline: float = 120.0
    allow_private_hosts: bool = False
    limit: int | None = None
    overwrite: bool = False
    device: str = "cpu"
    seed: int = 0

    def output_config(self) -> dict[str, Any]:
        keys = ["kind", "size", "fit"]
        if self.kind in FACE_KINDS:
            keys += ["pick", "min_face", "det_thresh"]
        if self.kind == "flowers":
            keys += ["masks", "flower_label"]
        if self.kind == "cub":
            keys += ["bbox"]
        cfg = {k: getattr(self, k) for k in keys}
        if self.kind == "chars":  # decides the splits recorded on the items
            cfg["reference_style"] = str(self.reference_style or "1")
        if self.kind in FACE_KINDS:
            from cvaegan.prepare.align import TEMPLATE_FRACTIONS

            cfg["template"] = TEMPLATE_FRACTIONS.tolist()
        return cfg

    def to_json(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


@dataclass
class ClassInfo:
    name: str                 # the real name (kept in the manifest)
    folder: str               # safe folder name under --out
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Job:
    """One source image (one listed face for FaceScrub)."""

    key: str                  # stable id used to resume
    source: str               # absolute path of the photo
    rel: str                  # path shown to the user and kept in the manifest (relative to RAW)
    cls: int                  # index into Plan.classes
    out: str                  # crop path relative to --out
    split: str | None = None
    box: list[float] | None = None     # a listed box, x1 y1 x2 y2 (FaceScrub face, CUB bird)
    mask: str | None = None            # flowers: the mask file
    url: str | None = None             # facescrub: where to download it from
    sha256: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    classes: list[ClassInfo]
    jobs: list[Job]
    notes: list[str] = field(default_factory=list)          # shown under the summary
    manifest_extras: dict[str, Any] = field(default_factory=dict)


def reject(job: Job, reason: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"source": job.rel, "key": job.key, "reason": reason, "detail": detail, **extra}


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str, fallback: str = "item", max_len: int = 80) -> str:
    """A folder/file name that cannot escape its parent: ASCII letters, digits, '.', '_', '-';
    no leading dot, never '.' or '..'."""
    ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    s = _UNSAFE.sub("_", ascii_).strip("._-")
    s = re.sub(r"_+", "_", s)[:max_len].strip("._-")
    return s or fallback


def unique_folders(names: list[str]) -> list[str]:
    """safe_name for each, made distinct (`naming.distinct_folders`)."""
    return distinct_folders([safe_name(n, f"class_{i:04d}") for i, n in enumerate(names)])


def crop_name(rel_in_class: str) -> str:
    """Output file name for a source path inside its class folder: nested folders joined with '__'."""
    p = Path(rel_in_class)
    parts = [safe_name(x, "d") for x in p.parent.parts] + [safe_name(p.stem, "img")]
    return "__".join(parts) + ".png"


def is_image_name(path: str | os.PathLike[str]) -> bool:
    name = os.path.basename(path)
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS + (".gif",)


def list_images(folder: Path) -> tuple[list[Path], int]:
    """Image files under `folder` (recursively, sorted) and how many other files were ignored."""
    images, ignored = [], 0
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            if is_image_name(f):
                images.append(f)
            elif not f.name.startswith("."):
                ignored += 1
    return images, ignored


def class_subfolders(raw: Path) -> list[str]:
    """RAW's class (or identity) subfolders, sorted, hidden ones skipped."""
    return sorted(d.name for d in raw.iterdir() if d.is_dir() and not d.name.startswith("."))


def plan_class_folders(raw: Path, names: list[str], limit: int | None) -> Plan:
    """One job per image of RAW/<name>/… (recursively), crops written under each class's safe
    folder; shared by `faces` (identity folders) and `folder` (ImageFolder trees)."""
    folders = unique_folders(names)
    jobs, ignored = [], 0
    for ci, (name, folder) in enumerate(zip(names, folders)):
        images, ign = list_images(raw / name)
        ignored += ign
        for f in images[: limit or None]:
            rel_in = f.relative_to(raw / name).as_posix()
            jobs.append(Job(key=f"{name}/{rel_in}", source=str(f), rel=f"{name}/{rel_in}", cls=ci,
                            out=f"{folder}/{crop_name(rel_in)}"))
    notes = [f"ignored {ignored} files that are not images (by extension)"] if ignored else []
    return Plan([ClassInfo(n, f) for n, f in zip(names, folders)], jobs, notes)


def square_box(box: tuple[float, float, float, float], width: int, height: int) -> tuple[list[float], bool]:
    """The square with side max(box w, h) centred on `box`, shifted inside the photo where it fits.
    Returns the square and whether it still sticks out (the crop then needs border padding)."""
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    sx, sy = cx - side / 2, cy - side / 2
    if side <= width:
        sx = min(max(sx, 0.0), width - side)
    if side <= height:
        sy = min(max(sy, 0.0), height - side)
    outside = sx < 0 or sy < 0 or sx + side > width or sy + side > height
    return [sx, sy, sx + side, sy + side], outside


def fit_box(width: int, height: int, fit: str) -> list[float]:
    """The region of a whole photo that becomes the crop: centre square (crop), the photo centred in
    a square (pad), or the photo itself, squashed (squash)."""
    if fit == "squash":
        return [0.0, 0.0, float(width), float(height)]
    side = min(width, height) if fit == "crop" else max(width, height)
    x, y = (width - side) / 2, (height - side) / 2
    return [x, y, x + side, y + side]
