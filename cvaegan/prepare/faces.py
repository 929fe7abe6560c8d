"""The face kinds: `faces` (per-identity folders, or a flat folder plus an identity list) and
`facescrub` (its actor/actress lists plus the downloaded images), and the per-photo work they share:
detect, pick one face, check it, align, write the crop."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np

from cvaegan.prepare.align import Face, similarity_matrix, warp_crop
from cvaegan.runtime.errors import CvaeganError
from cvaegan.prepare.common import (ClassInfo, Job, Plan, PrepareOptions, class_subfolders, crop_name,
                                        is_image_name, plan_class_folders, reject, safe_name, unique_folders)
from cvaegan.prepare.io import PhotoError, read_photo

FACESCRUB_LISTS = ("facescrub_actors.txt", "facescrub_actresses.txt")
MIN_BOX_IOU = 0.3


# ----------------------------------------------------------------------------------------- scanning
def scan_faces(opts: PrepareOptions) -> Plan:
    """RAW/<identity>/**/<image>, or with --identities FILE ("<file> <identity>" lines, CelebA's
    identity_CelebA.txt) the files RAW/<file>."""
    raw = opts.raw
    if opts.identities:
        return _scan_identity_list(opts)
    idents = class_subfolders(raw)
    if not idents:
        raise CvaeganError(f"{raw}: no identity subfolders (expected RAW/<identity>/<photo>, or pass "
                           f"--identities FILE for a flat folder)")
    plan = plan_class_folders(raw, idents, opts.limit)
    loose = sum(1 for f in raw.iterdir() if f.is_file() and is_image_name(f))
    if loose:
        plan.notes.append(f"ignored {loose} images directly in {raw} (they have no identity folder)")
    return plan


def _scan_identity_list(opts: PrepareOptions) -> Plan:
    pairs: list[tuple[str, str]] = []
    try:
        lines = Path(opts.identities).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CvaeganError(f"{opts.identities}: cannot read the identity list ({exc})") from exc
    for line in lines:
        parts = line.split()
        if len(parts) != 2 or not is_image_name(parts[0]):
            continue  # header or blank line
        pairs.append((parts[0], parts[1]))
    if not pairs:
        raise CvaeganError(f"{opts.identities}: no '<file> <identity>' lines")
    idents = sorted({p[1] for p in pairs}, key=lambda s: (len(s), s) if s.isdigit() else (10**9, s))
    folders = unique_folders(idents)
    index = {n: i for i, n in enumerate(idents)}
    per_class: dict[int, int] = {}
    jobs = []
    for file, ident in pairs:
        ci = index[ident]
        if opts.limit and per_class.get(ci, 0) >= opts.limit:
            continue
        per_class[ci] = per_class.get(ci, 0) + 1
        src = _inside(opts.raw, file)
        jobs.append(Job(key=f"{ident}/{file}", source=str(src), rel=file, cls=ci,
                        out=f"{folders[ci]}/{crop_name(Path(file).name)}"))
    return Plan([ClassInfo(n, f) for n, f in zip(idents, folders)], jobs)


def _inside(root: Path, rel: str) -> Path:
    """root/rel, refusing paths that leave root."""
    p = (root / rel).resolve()
    if not p.is_relative_to(root.resolve()):
        raise CvaeganError(f"refusing a listed path outside {root}: {rel}")
    return p


def find_facescrub_lists(raw: Path) -> list[Path]:
    found = [raw / n for n in FACESCRUB_LISTS if (raw / n).is_file()]
    if not found:
        found = sorted(p for p in raw.glob("*/facescrub_act*.txt"))
    if not found:
        raise CvaeganError(f"{raw}: no {' or '.join(FACESCRUB_LISTS)} (FaceScrub's lists belong in RAW)")
    return found


def parse_facescrub_list(path: Path) -> list[dict[str, str]]:
    """Rows of a FaceScrub list: tab-separated, header `name image_id face_id url bbox sha256`."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise CvaeganError(f"{path}: cannot read ({exc})") from exc
    rows = list(csv.reader(text.splitlines(), delimiter="\t"))
    if not rows or "url" not in [c.strip().lower() for c in rows[0]]:
        raise CvaeganError(f"{path}: not a FaceScrub list (no header with name, face_id, url, bbox, sha256)")
    header = [c.strip().lower() for c in rows[0]]
    out = []
    for r in rows[1:]:
        if len(r) >= len(header):
            out.append({h: v.strip() for h, v in zip(header, r)})
    return out


def _parse_bbox(text: str) -> list[float] | None:
    try:
        v = [float(x) for x in text.replace(";", ",").split(",")]
    except ValueError:
        return None
    return v if len(v) == 4 and v[2] > v[0] and v[3] > v[1] else None


def scan_facescrub(opts: PrepareOptions) -> Plan:
    """Layouts looked for, for a face of NAME (folder = NAME with spaces as '_', or as written):
    RAW/<folder>/ and RAW/{actors,actresses}/{images,faces,}/<folder>/, holding files named
    <face_id>, <image_id>, <folder>_<face_id> or <folder>_<image_id>, with any image extension."""
    raw = opts.raw
    rows = []
    for lst in find_facescrub_lists(raw):
        rows += [(lst.name, r) for r in parse_facescrub_list(lst)]
    names = sorted({r["name"] for _, r in rows if r.get("name")})
    folders = unique_folders(names)
    index = {n: i for i, n in enumerate(names)}
    finder = _FacescrubFiles(raw)
    jobs, per_class, bad = [], {}, 0
    for list_name, r in rows:
        name, face_id = r.get("name", ""), r.get("face_id", "")
        if not name or not face_id:
            bad += 1
            continue
        ci = index[name]
        if opts.limit and per_class.get(ci, 0) >= opts.limit:
            continue
        per_class[ci] = per_class.get(ci, 0) + 1
        folder = folders[ci]
        found = finder.find(name, folder, face_id, r.get("image_id", ""))
        safe_id = safe_name(face_id, "face")
        if found is None:
            ext = os.path.splitext(r.get("url", "").split("?")[0])[1].lower()
            ext = ext if ext in (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp") else ".jpg"
            found = raw / folder / f"{folder}_{safe_id}{ext}"  # where --download puts it
        jobs.append(Job(key=f"face_id:{face_id}", source=str(found), rel=_rel(found, raw), cls=ci,
                        out=f"{folder}/{folder}_{safe_id}.png", box=_parse_bbox(r.get("bbox", "")),
                        url=r.get("url") or None, sha256=(r.get("sha256") or "").lower() or None,
                        extra={"face_id": face_id, "image_id": r.get("image_id", ""), "list": list_name}))
    notes = [f"skipped {bad} list rows without a name or face_id"] if bad else []
    return Plan([ClassInfo(n, f) for n, f in zip(names, folders)], jobs, notes,
                {"layout": "RAW/<name>/<name>_<face_id>.<ext> (also actors|actresses/images/<name>/)"})


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


class _FacescrubFiles:
    """Lists each candidate folder once; maps stems to files."""

    def __init__(self, raw: Path):
        self.raw = raw
        self.cache: dict[Path, dict[str, Path]] = {}

    def _stems(self, folder: Path) -> dict[str, Path]:
        if folder not in self.cache:
            stems: dict[str, Path] = {}
            if folder.is_dir():
                for f in folder.iterdir():
                    if f.is_file() and is_image_name(f):
                        stems.setdefault(f.stem.lower(), f)
            self.cache[folder] = stems
        return self.cache[folder]

    def find(self, name: str, folder: str, face_id: str, image_id: str) -> Path | None:
        variants = list(dict.fromkeys([folder, name.replace(" ", "_"), name]))
        for v in variants:
            if "/" in v or "\\" in v or v in (".", ".."):
                continue
            for base in (self.raw, self.raw / "actors", self.raw / "actresses", self.raw / "actors" / "images",
                         self.raw / "actresses" / "images", self.raw / "actors" / "faces",
                         self.raw / "actresses" / "faces"):
                stems = self._stems(base / v)
                for stem in (face_id, f"{v}_{face_id}", image_id, f"{v}_{image_id}"):
                    if stem and stem.lower() in stems:
                        return stems[stem.lower()]
        return None


# --------------------------------------------------------------------------------------- processing
def box_iou(a: np.ndarray | list[float], b: np.ndarray | list[float]) -> float:
    ax1, ay1, ax2, ay2 = (float(v) for v in a)
    bx1, by1, bx2, by2 = (float(v) for v in b)
    iw, ih = max(0.0, min(ax2, bx2) - max(ax1, bx1)), max(0.0, min(ay2, by2) - max(ay1, by1))
    inter = iw * ih
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / union if union > 0 else 0.0


def pick_face(faces: list[Face], pick: str, width: int, height: int) -> int:
    if pick == "score":
        return int(np.argmax([f.score for f in faces]))
    if pick == "center":
        c = np.array([width / 2, height / 2])
        return int(np.argmin([np.linalg.norm((f.bbox[:2] + f.bbox[2:]) / 2 - c) for f in faces]))
    return int(np.argmax([f.area for f in faces]))


def _to_full(face: Face, scale: int) -> Face:
    """Detections on a draft-decoded photo -> full-photo coordinates."""
    if scale == 1:
        return face
    s = float(scale)
    return Face(bbox=(face.bbox * s).astype(np.float32), score=face.score,
                landmarks=((face.landmarks + 0.5) * s - 0.5).astype(np.float32))


def _face_record(face: Face) -> dict[str, Any]:
    return {"box": [round(float(v), 2) for v in face.bbox], "score": round(face.score, 4),
            "landmarks": [[round(float(x), 2), round(float(y), 2)] for x, y in face.landmarks]}


def process_face(job: Job, opts: PrepareOptions, detector: Any, write: Any) -> dict[str, Any]:
    """Detect, pick, check, align and write one photo; returns an outcome (kept item or rejects)."""
    try:
        photo = read_photo(job.source, min_long_side=max(1280, 10 * opts.size))
    except PhotoError as exc:
        return {"rejects": [reject(job, exc.reason, str(exc))]}
    W, H = photo.full_size
    faces = [_to_full(f, photo.scale) for f in detector.detect(photo.rgb)]
    if not faces:
        return {"rejects": [reject(job, "no_face", "the detector found no face")]}
    if job.box is not None:
        ious = [box_iou(f.bbox, job.box) for f in faces]
        chosen = int(np.argmax(ious))
        if ious[chosen] < MIN_BOX_IOU:
            return {"rejects": [reject(job, "box_mismatch", f"no detection overlaps the listed box "
                                       f"(best IoU {ious[chosen]:.2f} < {MIN_BOX_IOU})", listed_box=job.box)]}
        why_other = "not the listed face"
    else:
        chosen = pick_face(faces, opts.pick, W, H)
        why_other = f"another face in the photo (--pick {opts.pick} kept one)"
    face = faces[chosen]
    others = [reject(job, "extra_face", why_other, **_face_record(f)) for i, f in enumerate(faces) if i != chosen]
    if min(face.width, face.height) < opts.min_face:
        return {"rejects": [reject(job, "face_too_small", f"face box {face.width:.0f}×{face.height:.0f} px "
                                   f"< --min-face {opts.min_face}", **_face_record(face))] + others}
    lm = face.landmarks
    if (lm[:, 0] < 0).any() or (lm[:, 1] < 0).any() or (lm[:, 0] > W - 1).any() or (lm[:, 1] > H - 1).any():
        return {"rejects": [reject(job, "landmarks_outside", "a landmark lies outside the photo",
                                   **_face_record(face))] + others}
    try:
        matrix = similarity_matrix(lm, opts.size)
    except ValueError as exc:
        return {"rejects": [reject(job, "bad_landmarks", str(exc), **_face_record(face))] + others}
    s = float(photo.scale)
    dec_to_full = np.array([[s, 0.0, 0.5 * s - 0.5], [0.0, s, 0.5 * s - 0.5], [0.0, 0.0, 1.0]])
    crop = warp_crop(photo.rgb, matrix @ dec_to_full, opts.size)
    write(job.out, crop)
    item = {"file": job.out, "source": job.rel, "photo_size": [W, H], **_face_record(face),
            "transform": [[round(float(v), 6) for v in row] for row in matrix]}
    if job.split:
        item["split"] = job.split
    item.update({k: v for k, v in job.extra.items() if k in ("face_id", "image_id")})
    return {"item": item, "rejects": others}
