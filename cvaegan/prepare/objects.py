"""The object kinds: `flowers` (Oxford 102 with segmim masks, or label maps), `cub` (CUB-200-2011)
and `folder` (any ImageFolder tree): no detector, the crop region comes from a mask, a listed box
or the photo itself."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from cvaegan.prepare.align import box_matrix, warp_crop
from cvaegan.runtime.errors import CvaeganError
from cvaegan.prepare.common import (ClassInfo, Job, Plan, PrepareOptions, class_subfolders, crop_name, fit_box,
                                        list_images, plan_class_folders, reject, square_box, unique_folders)
from cvaegan.prepare.io import PhotoError, read_photo

SEGMIM_BLUE_TOLERANCE = 60  # JPEG ringing around the painted (0, 0, 254) background


# ------------------------------------------------------------------------------------------ flowers
def scan_flowers(opts: PrepareOptions) -> Plan:
    """Images in RAW/jpg/ (Oxford 102) or RAW/images/; masks RAW/segmim/segmim_NNNNN.jpg (--masks
    segmim) or RAW/labels/<stem>.png (--masks labelmap, pixel value --flower-label is the flower);
    classes from RAW/imagelabels.mat (+ cat_to_name.json) or RAW/labels.txt ("<stem> <class> <name>");
    split from RAW/setid.mat when present."""
    raw = opts.raw
    img_dir = next((raw / d for d in ("jpg", "images") if (raw / d).is_dir()), None)
    if img_dir is None:
        raise CvaeganError(f"{raw}: no jpg/ or images/ folder (Oxford 102 Flowers layout expected)")
    stems_to_file = {p.stem: p for p in list_images(img_dir)[0]}
    labels, names = _flower_labels(raw, stems_to_file)
    split = _flower_split(raw)
    used = sorted({c for s, c in labels.items() if s in stems_to_file})
    folders = unique_folders([names.get(c, f"class_{c:03d}") for c in used])
    classes = [ClassInfo(names.get(c, f"class_{c:03d}"), f, {"source_label": c}) for c, f in zip(used, folders)]
    cls_index = {c: i for i, c in enumerate(used)}
    mask_dir = raw / ("segmim" if opts.masks == "segmim" else "labels")
    if not mask_dir.is_dir():
        alt = [raw / d for d in ("labelmaps", "trimaps") if (raw / d).is_dir()]
        if opts.masks == "labelmap" and alt:
            mask_dir = alt[0]
        else:
            raise CvaeganError(f"{raw}: no {mask_dir.name}/ folder for --masks {opts.masks}")
    jobs, per_class = [], {}
    absent = [s for s in labels if s not in stems_to_file]
    for stem in sorted(labels):
        if stem not in stems_to_file:
            continue
        ci = cls_index[labels[stem]]
        if opts.limit and per_class.get(ci, 0) >= opts.limit:
            continue
        per_class[ci] = per_class.get(ci, 0) + 1
        src = stems_to_file[stem]
        mask = _mask_path(mask_dir, stem, opts.masks)
        num = _number(stem)
        jobs.append(Job(key=stem, source=str(src), rel=src.relative_to(raw).as_posix(), cls=ci,
                        out=f"{classes[ci].folder}/{crop_name(src.name)}", mask=str(mask) if mask else None,
                        split=split.get(num) if num is not None else None))
    notes = [f"skipped {len(absent)} labelled images that are not in {img_dir.name}/"] if absent else []
    return Plan(classes, jobs, notes, manifest_extras={"masks": opts.masks})


def _number(stem: str) -> int | None:
    m = re.search(r"(\d+)$", stem)
    return int(m.group(1)) if m else None


def _mask_path(mask_dir: Path, stem: str, masks: str) -> Path | None:
    num = _number(stem)
    cands = [mask_dir / f"{stem}.png"]
    if masks == "segmim" and num is not None:
        cands = [mask_dir / f"segmim_{num:05d}.jpg", mask_dir / f"segmim_{num:05d}.png"] + cands
    return next((c for c in cands if c.is_file()), None)


def _flower_labels(raw: Path, files: dict[str, Path]) -> tuple[dict[str, int], dict[int, str]]:
    names: dict[int, str] = {}
    if (raw / "cat_to_name.json").is_file():
        try:
            names = {int(k): str(v) for k, v in json.loads((raw / "cat_to_name.json").read_text()).items()}
        except (ValueError, OSError, AttributeError) as exc:
            raise CvaeganError(f"{raw / 'cat_to_name.json'}: unreadable ({exc})") from exc
    if (raw / "imagelabels.mat").is_file():
        from scipy.io import loadmat

        try:
            lab = np.asarray(loadmat(raw / "imagelabels.mat")["labels"]).ravel()
        except Exception as exc:  # noqa: BLE001 — any failure: one clear line
            raise CvaeganError(f"{raw / 'imagelabels.mat'}: unreadable ({exc})") from exc
        by_num = {_number(s): s for s in files}
        labels = {}
        for i, c in enumerate(lab, start=1):
            labels[by_num.get(i, f"image_{i:05d}")] = int(c)
        return labels, names
    if (raw / "labels.txt").is_file():
        labels = {}
        for line in (raw / "labels.txt").read_text().splitlines():
            parts = line.split(maxsplit=2)
            if len(parts) >= 2 and not line.startswith("#") and parts[1].lstrip("-").isdigit():
                stem = parts[0] if parts[0] in files else f"image_{parts[0]}"
                labels[stem] = int(parts[1])
                if len(parts) == 3:
                    names.setdefault(int(parts[1]), parts[2].strip())
        if labels:
            return labels, names
    raise CvaeganError(f"{raw}: no imagelabels.mat or labels.txt giving each image's class")


def _flower_split(raw: Path) -> dict[int, str]:
    if not (raw / "setid.mat").is_file():
        return {}
    from scipy.io import loadmat

    m = loadmat(raw / "setid.mat")
    out = {}
    for key, name in (("trnid", "train"), ("valid", "val"), ("tstid", "test")):
        for n in np.asarray(m.get(key, [])).ravel():
            out[int(n)] = name
    return out


def flower_mask(path: str, masks: str, label: int) -> np.ndarray:
    """Boolean foreground: not-blue pixels of a segmim image, or `label` pixels of a label map."""
    with Image.open(path) as im:
        if masks == "segmim":
            rgb = np.asarray(im.convert("RGB")).astype(np.int16)
            r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
            bg = (b > 255 - SEGMIM_BLUE_TOLERANCE) & (r < SEGMIM_BLUE_TOLERANCE) & (g < SEGMIM_BLUE_TOLERANCE)
            fg = (~bg).astype(np.uint8)
            return cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)
        arr = np.asarray(im if im.mode in ("P", "L", "I", "I;16") else im.convert("L"))
        return arr == label


def process_flower(job: Job, opts: PrepareOptions, write: Any) -> dict[str, Any]:
    try:
        photo = read_photo(job.source)
    except PhotoError as exc:
        return {"rejects": [reject(job, exc.reason, str(exc))]}
    if not job.mask:
        return {"rejects": [reject(job, "no_mask", "no segmentation mask for this image")]}
    try:
        fg = flower_mask(job.mask, opts.masks, opts.flower_label)
    except (OSError, ValueError, SyntaxError) as exc:
        return {"rejects": [reject(job, "bad_mask", f"{job.mask}: {exc}".splitlines()[0][:200])]}
    H, W = photo.rgb.shape[:2]
    if fg.shape != (H, W):
        fg = cv2.resize(fg.astype(np.uint8), (W, H), interpolation=cv2.INTER_NEAREST).astype(bool)
    ys, xs = np.nonzero(fg)
    if xs.size == 0:
        return {"rejects": [reject(job, "empty_mask", "the mask has no foreground")]}
    box = [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
    square, outside = square_box(box, W, H)
    return _write_box(job, opts, photo.rgb, box, square, outside, write)


def _write_box(job: Job, opts: PrepareOptions, rgb: np.ndarray, box: list[float] | None,
               region: list[float], outside: bool, write: Any) -> dict[str, Any]:
    matrix = box_matrix(region, opts.size)
    crop = warp_crop(rgb, matrix, opts.size, border=cv2.BORDER_REPLICATE)
    write(job.out, crop)
    H, W = rgb.shape[:2]
    item: dict[str, Any] = {"file": job.out, "source": job.rel, "photo_size": [W, H],
                            "crop_box": [round(v, 2) for v in region],
                            "transform": [[round(float(v), 6) for v in row] for row in matrix]}
    if box is not None:
        item["box"] = [round(v, 2) for v in box]
    if outside:
        item["padded"] = True
    if job.split:
        item["split"] = job.split
    return {"item": item, "rejects": []}


# ---------------------------------------------------------------------------------------------- cub
def _read_table(path: Path) -> dict[int, list[str]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CvaeganError(f"{path}: cannot read ({exc})") from exc
    out = {}
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0].isdigit():
            out[int(parts[0])] = parts[1:]
    return out


def scan_cub(opts: PrepareOptions) -> Plan:
    """CUB-200-2011's images/ and its index files; classes whose folder is absent are skipped."""
    raw = opts.raw
    if not (raw / "images.txt").is_file() and (raw / "CUB_200_2011" / "images.txt").is_file():
        raw = raw / "CUB_200_2011"
    need = ("images.txt", "classes.txt", "image_class_labels.txt")
    missing = [n for n in need if not (raw / n).is_file()]
    if missing or not (raw / "images").is_dir():
        raise CvaeganError(f"{raw}: not CUB-200-2011 (missing {', '.join(missing) or 'images/'})")
    images = _read_table(raw / "images.txt")
    classes_t = _read_table(raw / "classes.txt")
    labels = _read_table(raw / "image_class_labels.txt")
    boxes = _read_table(raw / "bounding_boxes.txt") if (raw / "bounding_boxes.txt").is_file() else {}
    splits = _read_table(raw / "train_test_split.txt") if (raw / "train_test_split.txt").is_file() else {}
    if opts.bbox and not boxes:
        raise CvaeganError(f"{raw}: --bbox needs bounding_boxes.txt")
    present = [cid for cid in sorted(classes_t) if (raw / "images" / classes_t[cid][0]).is_dir()]
    if not present:
        raise CvaeganError(f"{raw / 'images'}: none of the {len(classes_t)} class folders is there")
    dirs = [classes_t[c][0] for c in present]
    names = [re.sub(r"^\d+\.", "", d).replace("_", " ") for d in dirs]
    folders = unique_folders(dirs)
    classes = [ClassInfo(n, f, {"source_id": c}) for n, f, c in zip(names, folders, present)]
    cls_index = {c: i for i, c in enumerate(present)}
    jobs, per_class, absent = [], {}, 0
    for iid in sorted(images):
        rel = images[iid][0]
        cid = int(labels.get(iid, ["0"])[0])
        if cid not in cls_index:
            continue
        if not (raw / "images" / rel).is_file():
            absent += 1
            continue
        ci = cls_index[cid]
        if opts.limit and per_class.get(ci, 0) >= opts.limit:
            continue
        per_class[ci] = per_class.get(ci, 0) + 1
        box = None
        if iid in boxes:
            x, y, w, h = (float(v) for v in boxes[iid][:4])
            box = [x, y, x + w, y + h]
        split = {"1": "train", "0": "test"}.get(splits.get(iid, [""])[0])
        jobs.append(Job(key=f"cub:{iid}", source=str(raw / "images" / rel), rel=f"images/{rel}", cls=ci,
                        out=f"{folders[ci]}/{crop_name(Path(rel).name)}", split=split, box=box,
                        extra={"image_id": iid}))
    skipped = len(classes_t) - len(present)
    notes = [f"skipped {skipped} of {len(classes_t)} classes whose image folder is absent"] if skipped else []
    if absent:
        notes.append(f"skipped {absent} listed images of the present classes that are not on disk")
    return Plan(classes, jobs, notes, {"bbox": opts.bbox})


def process_cub(job: Job, opts: PrepareOptions, write: Any) -> dict[str, Any]:
    try:
        photo = read_photo(job.source)
    except PhotoError as exc:
        return {"rejects": [reject(job, exc.reason, str(exc))]}
    H, W = photo.rgb.shape[:2]
    if opts.bbox:
        if job.box is None:
            return {"rejects": [reject(job, "no_box", "no bounding box listed")]}
        b = [max(0.0, job.box[0]), max(0.0, job.box[1]), min(float(W), job.box[2]), min(float(H), job.box[3])]
        if b[2] - b[0] < 2 or b[3] - b[1] < 2:
            return {"rejects": [reject(job, "bad_box", f"listed box {job.box} lies outside the {W}×{H} photo")]}
        square, outside = square_box(b, W, H)
        out = _write_box(job, opts, photo.rgb, b, square, outside, write)
    else:
        out = _write_box(job, opts, photo.rgb, None, fit_box(W, H, opts.fit), opts.fit == "pad", write)
        if job.box is not None:
            out["item"]["box"] = [round(v, 2) for v in job.box]
    out["item"]["image_id"] = job.extra.get("image_id")
    return out


# ------------------------------------------------------------------------------------------- folder
def scan_folder(opts: PrepareOptions) -> Plan:
    names = class_subfolders(opts.raw)
    if not names:
        raise CvaeganError(f"{opts.raw}: no class subfolders (expected RAW/<class>/<image>)")
    return plan_class_folders(opts.raw, names, opts.limit)


def process_folder(job: Job, opts: PrepareOptions, write: Any) -> dict[str, Any]:
    try:
        photo = read_photo(job.source, min_long_side=4 * opts.size)
    except PhotoError as exc:
        return {"rejects": [reject(job, exc.reason, str(exc))]}
    H, W = photo.rgb.shape[:2]
    out = _write_box(job, opts, photo.rgb, None, fit_box(W, H, opts.fit), opts.fit == "pad", write)
    if photo.scale > 1:  # boxes and transform in full-photo coordinates
        s = float(photo.scale)
        m = np.array(out["item"]["transform"]) @ np.array([[1 / s, 0, (0.5 - 0.5 * s) / s], [0, 1 / s, (0.5 - 0.5 * s) / s], [0, 0, 1]])
        out["item"]["transform"] = [[round(float(v), 6) for v in row] for row in m]
        out["item"]["crop_box"] = [round(v * s, 2) for v in out["item"]["crop_box"]]
        out["item"]["photo_size"] = list(photo.full_size)
    return out
