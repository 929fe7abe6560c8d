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
point at real images elsewhere). `class` indexes `classes`. `split` is "train" or "test" when known. `style` (optional) names the
item's style group — the font of a character image — and the manifest's `"styles": {"name": …,
"reference": …}` says what the groups are and which one draws each class's plain content image;
`"flip": false` forbids mirrored training images (characters).
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cvaegan.runtime.errors import CvaeganError

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
    # Per-item target vectors (e.g. named binary attributes), when the manifest declares
    # "targets": {"names": [...]} and gives every item a "target" list of that length.
    target_names: list[str] | None = None
    targets: list[list[float]] | None = None
    # Per-item style group (e.g. the font of a character image), when the manifest gives items a
    # "style"; None for items without one. Style-transfer families pair images of one style.
    styles: list[str | None] | None = None

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
            self.target_names,
            [self.targets[i] for i in keep] if self.targets is not None else None,
            [self.styles[i] for i in keep] if self.styles is not None else None,
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
        names, folders = _classes(manifest, manifest_path)
        if "items" in manifest:
            allowed = [root.absolute(), *listed_sources(manifest)]
            target_names = _target_names(manifest, manifest_path)
            files, labels, splits, targets, styles = [], [], [], [], []
            for item in _list(manifest["items"], "items", manifest_path):
                if not isinstance(item, dict) or not isinstance(item.get("file"), str):
                    raise CvaeganError(f"{manifest_path}: every item needs a 'file' string; found {_short(item)}")
                label = item.get("class")
                if type(label) is not int or not 0 <= label < len(names):
                    raise CvaeganError(f"{manifest_path}: item {item['file']} has class {label!r}; expected an "
                                       f"integer in 0..{len(names) - 1}")
                split = item.get("split")
                if split is not None and not isinstance(split, str):
                    raise CvaeganError(f"{manifest_path}: item {item['file']} has split {split!r}; expected a string")
                if target_names is not None:
                    targets.append(_target(item, len(target_names), manifest_path))
                style = item.get("style")
                if style is not None and (isinstance(style, bool) or not isinstance(style, (str, int))):
                    raise CvaeganError(f"{manifest_path}: item {item['file']} has style {style!r}; expected a "
                                       "string or an integer")
                styles.append(None if style is None else str(style))
                files.append(_contained(root, item["file"], allowed, manifest_path).resolve())
                labels.append(label)
                splits.append(split)
            return DatasetIndex(root, names, files, labels, splits, manifest, target_names,
                                targets if target_names is not None else None,
                                styles if any(v is not None for v in styles) else None)
        for folder in folders:
            _contained(root, folder, [root.absolute()], manifest_path)
        return _scan(root, folders, names, manifest)
    folders = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    return _scan(root, folders, folders, None)


def _classes(manifest: dict[str, Any], path: Path) -> tuple[list[str], list[str]]:
    """Names and folders of the manifest's classes, in index order; indices must be 0..n-1."""
    classes = _list(manifest.get("classes", []), "classes", path)
    for c in classes:
        if not isinstance(c, dict) or type(c.get("index")) is not int:
            raise CvaeganError(f"{path}: every class needs an integer 'index'; found {_short(c)}")
        if not isinstance(c.get("name", c.get("folder")), str) or not isinstance(c.get("folder", ""), str):
            raise CvaeganError(f"{path}: class {c['index']} needs a 'name' or 'folder' string")
    classes = sorted(classes, key=lambda c: c["index"])
    if [c["index"] for c in classes] != list(range(len(classes))):
        raise CvaeganError(f"{path}: class indices must be 0..{len(classes) - 1}, each once")
    return [c.get("name", c.get("folder")) for c in classes], [c.get("folder", c.get("name")) for c in classes]


def _target_names(manifest: dict[str, Any], path: Path) -> list[str] | None:
    spec = manifest.get("targets")
    if spec is None:
        return None
    names = spec.get("names") if isinstance(spec, dict) else None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise CvaeganError(f"{path}: 'targets' must be {{\"names\": [one or more strings]}}; found {_short(spec)}")
    return names


def _target(item: dict[str, Any], dim: int, path: Path) -> list[float]:
    v = item.get("target")
    if (not isinstance(v, list) or len(v) != dim
            or not all(type(e) in (int, float) and math.isfinite(e) for e in v)):
        raise CvaeganError(f"{path}: item {item['file']} needs a 'target' of {dim} finite numbers; "
                           f"found {_short(v)}")
    return [float(e) for e in v]


def listed_sources(manifest: dict[str, Any]) -> list[Path]:
    """The datasets a merged or split-view manifest may point into (its `sources`, absolute)."""
    src = manifest.get("sources") or []
    values = list(src.values()) if isinstance(src, dict) else src if isinstance(src, list) else []
    return [Path(os.path.abspath(v)) for v in values if isinstance(v, str)]


def _contained(root: Path, name: str, allowed: list[Path], path: Path) -> Path:
    """ROOT/name, refused unless it lies inside one of `allowed`, as written or once links are
    followed: a manifest's `../` or absolute path must not reach the rest of the file system,
    while the user's own symbolic links inside a dataset keep working."""
    target = Path(os.path.normpath(root.absolute() / name))
    real = target.resolve()
    if not any(target.is_relative_to(a) or real.is_relative_to(a.resolve()) for a in allowed):
        where = "the dataset folder" + (" and its listed sources" if len(allowed) > 1 else "")
        raise CvaeganError(f"{path}: '{name}' lies outside {where}; refusing to read it")
    return target


def _list(value: Any, what: str, path: Path) -> list[Any]:
    if not isinstance(value, list):
        raise CvaeganError(f"{path}: '{what}' must be a list, not {type(value).__name__}")
    return value


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


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
    empty = sorted(set(range(len(folders))) - set(labels))
    if empty:
        shown = ", ".join(folders[k] for k in empty[:5]) + (" …" if len(empty) > 5 else "")
        warnings.warn(f"{root}: {len(empty)} of {len(folders)} class folders hold no image and stay empty "
                      f"classes: {shown}", stacklevel=2)
    return DatasetIndex(root, names, files, labels, [None] * len(files), manifest)
