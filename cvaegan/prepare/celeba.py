"""`cvaegan prepare celeba RAW`: aligned CelebA with its 40 binary attributes.

RAW holds `img_align_celeba/*.jpg` (the official aligned-and-cropped 178×218 release) and
`list_attr_celeba.txt` (a count line, the attribute names, then `<file> ±1 …`); optionally
`identity_CelebA.txt` (`<file> <identity>`: the classes; without it every image is one class
`celeba`) and `list_eval_partition.txt` (`<file> 0|1|2`: 0 is recorded as `train`, 1 and 2 — the
official validation and test parts — as `test`, the held-out split every cvaegan tool reads; the
official number stays on the item as `partition`).

Each image becomes the usual centred square crop (`--fit`, default `crop`: 178×178 from the middle
of 178×218) at `--size`, in DIR/<identity>/; `dataset.json` gives every item its attribute vector
(`target`, 1 = present, 0 = absent) under `targets.names`, so a family that edits attributes
trains on them and `dataset.json` alone says what each image shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cvaegan.prepare.common import ClassInfo, Job, Plan, PrepareOptions, crop_name, fit_box, reject, unique_folders
from cvaegan.prepare.io import PhotoError, read_photo
from cvaegan.prepare.objects import _write_box
from cvaegan.runtime.errors import CvaeganError

PARTITION_SPLIT = {"0": "train", "1": "test", "2": "test"}


def read_attributes(path: Path) -> tuple[list[str], dict[str, list[int]]]:
    """The attribute names and, per file, its 0/1 vector. Raises CvaeganError naming the line."""
    try:
        lines = [ln.split() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise CvaeganError(f"{path}: cannot read the attribute list ({exc})") from exc
    if len(lines) < 2:
        raise CvaeganError(f"{path}: not a CelebA attribute list (expected a count line and the attribute names)")
    start = 1 if len(lines[0]) == 1 and lines[0][0].isdigit() else 0
    names = lines[start]
    if len(set(names)) != len(names):
        raise CvaeganError(f"{path}: repeated attribute names")
    rows: dict[str, list[int]] = {}
    for n, parts in enumerate(lines[start + 1:], start + 2):
        if len(parts) != len(names) + 1 or any(v not in ("1", "-1", "0") for v in parts[1:]):
            raise CvaeganError(f"{path}: line {n} is not '<file>' and {len(names)} values of 1 or -1")
        rows[parts[0]] = [1 if v == "1" else 0 for v in parts[1:]]
    return names, rows


def _pairs(path: Path, what: str) -> dict[str, str]:
    """`<file> <value>` lines (a header line such as 'image identity' is skipped)."""
    out: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CvaeganError(f"{path}: cannot read the {what} list ({exc})") from exc
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise CvaeganError(f"{path}: line {n} is not '<file> <{what}>'")
        if n == 1 and not parts[0].lower().endswith((".jpg", ".png")):
            continue
        out[parts[0]] = parts[1]
    return out


def scan_celeba(opts: PrepareOptions) -> Plan:
    raw = opts.raw
    images = raw / "img_align_celeba"
    attr = raw / "list_attr_celeba.txt"
    if not images.is_dir() or not attr.is_file():
        missing = [str(p.name) for p in (images, attr) if not p.exists()]
        raise CvaeganError(f"{raw}: not aligned CelebA (missing {', '.join(missing)})")
    names, attrs = read_attributes(attr)
    ident = _pairs(raw / "identity_CelebA.txt", "identity") if (raw / "identity_CelebA.txt").is_file() else {}
    part = (_pairs(raw / "list_eval_partition.txt", "partition")
            if (raw / "list_eval_partition.txt").is_file() else {})
    bad = sorted({v for v in part.values() if v not in PARTITION_SPLIT})
    if bad:
        raise CvaeganError(f"{raw / 'list_eval_partition.txt'}: partition values must be 0, 1 or 2; found {bad[:3]}")
    files = sorted(f for f in attrs if (images / f).is_file())
    if not files:
        raise CvaeganError(f"{images}: none of the {len(attrs)} images of {attr.name} is there")
    class_names = sorted({ident.get(f, "celeba") for f in files}, key=lambda s: (len(s), s))  # numeric order
    folders = unique_folders([f"id_{k}" if k.isdigit() else k for k in class_names])
    index = {k: i for i, k in enumerate(class_names)}
    jobs, per_class, unlisted = [], {}, 0
    for f in files:
        if ident and f not in ident:
            unlisted += 1
            continue
        ci = index[ident.get(f, "celeba")]
        if opts.limit and per_class.get(ci, 0) >= opts.limit:
            continue
        per_class[ci] = per_class.get(ci, 0) + 1
        jobs.append(Job(key=f"celeba:{f}", source=str(images / f), rel=f"img_align_celeba/{f}", cls=ci,
                        out=f"{folders[ci]}/{crop_name(f)}", split=PARTITION_SPLIT.get(part.get(f, ""), None),
                        extra={"target": attrs[f], "partition": part.get(f)}))
    notes = [f"{len(attrs) - len(files)} listed images are not in {images.name}/"] if len(files) < len(attrs) else []
    if unlisted:
        notes.append(f"skipped {unlisted} images that identity_CelebA.txt does not list")
    classes = [ClassInfo(n, fo, {"identity": n} if ident else {}) for n, fo in zip(class_names, folders)]
    return Plan(classes, jobs, notes, {"targets": {"names": names, "values": "1 = present, 0 = absent",
                                                   "source": attr.name}})


def process_celeba(job: Job, opts: PrepareOptions, write: Any) -> dict[str, Any]:
    try:
        photo = read_photo(job.source)
    except PhotoError as exc:
        return {"rejects": [reject(job, exc.reason, str(exc))]}
    H, W = photo.rgb.shape[:2]
    out = _write_box(job, opts, photo.rgb, None, fit_box(W, H, opts.fit), opts.fit == "pad", write)
    out["item"]["target"] = job.extra["target"]
    if job.extra.get("partition") is not None:
        out["item"]["partition"] = int(job.extra["partition"])
    return out
