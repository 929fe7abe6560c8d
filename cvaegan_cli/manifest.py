"""`dataset.json`: the one manifest that `prepare` and `augment` write and `train` reads.

Schema (version 1)::

    {
      "format": "cvaegan-dataset", "version": 1,
      "kind": "faces" | "facescrub" | "flowers" | "cub" | "folder" | "synthetic" | ...,
      "size": 128,                       # crop side in pixels (optional)
      "classes": [{"index": 0, "name": "Ada Lovelace", "folder": "Ada_Lovelace", "count": 30}, ...],
      "items": [                         # optional; without it the class folders are scanned
        {"file": "Ada_Lovelace/0001.png", "class": 0, "split": "train", ...free-form extras...}
      ],
      ...free-form extras (template, detector, counts, sources)...
    }

`file` is relative to the folder holding `dataset.json` (or absolute, for merged manifests that
point at real images elsewhere). `class` indexes `classes`. `split` is "train" or "test" when known.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cvaegan_cli.errors import CvaeganError

MANIFEST_NAME = "dataset.json"
MANIFEST_FORMAT = "cvaegan-dataset"
MANIFEST_VERSION = 1
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


@dataclass
class DatasetIndex:
    """The images of a dataset and their class indices, in a stable order."""

    root: Path
    class_names: list[str]
    files: list[Path]
    labels: list[int]
    splits: list[str | None] = field(default_factory=list)
    manifest: dict[str, Any] | None = None

    def __len__(self) -> int:
        return len(self.files)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def subset(self, split: str) -> "DatasetIndex":
        keep = [i for i, s in enumerate(self.splits) if s == split]
        return DatasetIndex(
            self.root,
            self.class_names,
            [self.files[i] for i in keep],
            [self.labels[i] for i in keep],
            [self.splits[i] for i in keep],
            self.manifest,
        )


def new_manifest(kind: str, classes: list[dict[str, Any]], items: list[dict[str, Any]] | None = None,
                 **extras: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "kind": kind,
                           "classes": classes}
    out.update(extras)
    if items is not None:
        out["items"] = items
    return out


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CvaeganError(f"{path}: not a readable dataset manifest ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise CvaeganError(f"{path}: not a cvaegan dataset manifest (no format '{MANIFEST_FORMAT}')")
    if data.get("version") != MANIFEST_VERSION:
        raise CvaeganError(
            f"{path}: dataset manifest version {data.get('version')!r}; this cvaegan reads version "
            f"{MANIFEST_VERSION}")
    return data


def index_dataset(root: str | os.PathLike[str]) -> DatasetIndex:
    """Index DATA: `dataset.json` items when present, else an ImageFolder scan of class folders.

    `root` may also be the path of a manifest file itself (e.g. a merged real+synthetic manifest).
    """
    root = Path(root)
    if root.is_file() and root.suffix == ".json":
        manifest_path, root = root, root.parent
    else:
        manifest_path = root / MANIFEST_NAME
    if not root.is_dir():
        raise CvaeganError(f"{root}: no such dataset folder")
    if manifest_path.is_file():
        manifest = read_manifest(manifest_path)
        classes = sorted(manifest.get("classes", []), key=lambda c: c["index"])
        names = [str(c.get("name", c.get("folder"))) for c in classes]
        if "items" in manifest:
            files, labels, splits = [], [], []
            for item in manifest["items"]:
                label = int(item["class"])
                if not 0 <= label < len(names):
                    raise CvaeganError(f"{manifest_path}: item {item['file']} has class {label} "
                                       f"outside 0..{len(names) - 1}")
                files.append((root / item["file"]).resolve())
                labels.append(label)
                splits.append(item.get("split"))
            return DatasetIndex(root, names, files, labels, splits, manifest)
        folders = [str(c.get("folder", c.get("name"))) for c in classes]
        return _scan(root, folders, names, manifest)
    folders = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    return _scan(root, folders, folders, None)


def _scan(root: Path, folders: list[str], names: list[str], manifest: dict[str, Any] | None) -> DatasetIndex:
    files: list[Path] = []
    labels: list[int] = []
    for label, folder in enumerate(folders):
        class_dir = root / folder
        if not class_dir.is_dir():
            raise CvaeganError(f"{root}: class folder '{folder}' named in the manifest is missing")
        for f in sorted(class_dir.rglob("*")):
            if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file() and not f.name.startswith("."):
                files.append(f)
                labels.append(label)
    if not folders:
        raise CvaeganError(f"{root}: no class subfolders found (expected DATA/<class>/<image>)")
    if not files:
        raise CvaeganError(f"{root}: no images found in its {len(folders)} class folders")
    return DatasetIndex(root, names, files, labels, [None] * len(files), manifest)
