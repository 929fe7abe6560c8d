"""`cvaegan prepare chars RAW`: Chars74K font-rendered characters, content (the character) × style
(the font).

RAW holds `labels.csv` (header `file,char,font_index`; `file` relative to RAW, e.g.
`011_A/img011-00017.png`) and the class folders it names. The classes are the distinct `char`
values in sorted order (class name = the character, folder = a safe name for it); the font index
is the same font in every class, so every item records it as its style group, `style` = the font
index as a string ("17"). `dataset.json` says so under `styles` ({"name": "font", "reference":
<font>, "source": "labels.csv"}); the reference font (`--reference-style`, default "1") is the one
whose glyphs are the classes' plain "content" images. It also carries `"flip": false`: a mirrored
character is another character (or none), so training must never flip these images.

Split by font, never by image: fonts whose index % 5 == 0 are `test` (40 of the 200 fonts), every
other font is `train`, and the reference font is always `train`. The held-out fonts are styles no
model saw in training, so `test` measures how well content and style come apart on unseen styles.

Duplicate fonts are dropped before the split: Chars74K renders some fonts identically (a font the
renderer lacked falls back to another), and in the shared 200 fonts 13 of the 40 held-out fonts
drew every glyph exactly as a training font did, so "unseen" fonts were partly seen. A font whose
glyphs are all within `DUPLICATE_PSNR_DB` of an earlier font's (the reference first, then by
index) is skipped; the manifest's `styles.duplicates` maps each skipped font to the one it
duplicates, and the summary says which. The kept font's split is the group's split.

Each 28×28 grayscale glyph is read as grayscale, resized to `--size` (Lanczos when shrinking,
bicubic when enlarging, as the loader does) with no crop, and written as RGB with three equal
channels; a glyph that is not square is first padded to a square with its own edge pixels (the
paper-white background). `--fit` is not used. Unreadable images are rejects; listed files that
are missing are skipped with a note; a missing or malformed `labels.csv`, or a (char, font) pair
listed twice, is one error naming the file and line.
"""

from __future__ import annotations

import csv
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from PIL import Image

from cvaegan.data.duplicates import DUPLICATE_PSNR_DB, sq_distances, twin_limit
from cvaegan.prepare.align import box_matrix
from cvaegan.prepare.common import ClassInfo, Job, Plan, PrepareOptions, reject, unique_folders
from cvaegan.prepare.io import PhotoError, read_photo
from cvaegan.runtime.errors import CvaeganError

LABELS = "labels.csv"
HEADER = ["file", "char", "font_index"]
TEST_EVERY = 5            # fonts whose index % 5 == 0 are held out
DEFAULT_REFERENCE = "1"


def reference_font(opts: PrepareOptions) -> int:
    """The --reference-style font as an int (default 1). Raises CvaeganError."""
    text = str(opts.reference_style or DEFAULT_REFERENCE).strip()
    if not text.isdigit() or int(text) < 1:
        raise CvaeganError(f"--reference-style {opts.reference_style}: a font index (1, 2, …)")
    return int(text)


def font_split(font: int, reference: int) -> str:
    return "train" if font == reference or font % TEST_EVERY else "test"


def read_labels(path: Path) -> list[tuple[str, str, int]]:
    """(file, char, font) rows of labels.csv. Raises CvaeganError naming the file and the line."""
    if not path.is_file():
        raise CvaeganError(f"{path}: missing (Chars74K fonts need labels.csv with file,char,font_index)")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CvaeganError(f"{path}: cannot read ({exc})".splitlines()[0]) from exc
    reader = csv.reader(text.splitlines())
    rows: list[tuple[str, str, int]] = []
    seen_pair: dict[tuple[str, int], int] = {}
    seen_file: dict[str, int] = {}
    header = False
    try:
        for parts in reader:
            n = reader.line_num
            if not "".join(parts).strip():
                continue
            cells = [p.strip() for p in parts]
            if not header:  # the first line that is not blank
                if [c.lower() for c in cells] != HEADER:
                    raise CvaeganError(f"{path}: line {n} is not the header 'file,char,font_index'")
                header = True
                continue
            if len(cells) != 3:
                raise CvaeganError(f"{path}: line {n} is not '<file>,<char>,<font_index>' ({len(cells)} fields)")
            file, char, font = cells
            rel = PurePosixPath(file)
            if not file or rel.is_absolute() or ".." in rel.parts or "\\" in file:
                raise CvaeganError(f"{path}: line {n}: '{file}' is not a path inside RAW")
            if len(char) != 1 or char.isspace():
                raise CvaeganError(f"{path}: line {n}: char '{char}' is not a single character")
            if not font.isdigit() or int(font) < 1:
                raise CvaeganError(f"{path}: line {n}: font_index '{font}' is not a positive integer")
            key = (char, int(font))
            if key in seen_pair:
                raise CvaeganError(f"{path}: line {n}: char '{char}' font {int(font)} is already listed "
                                   f"on line {seen_pair[key]}")
            if file in seen_file:
                raise CvaeganError(f"{path}: line {n}: {file} is already listed on line {seen_file[file]}")
            seen_pair[key], seen_file[file] = n, n
            rows.append((file, char, int(font)))
    except csv.Error as exc:
        raise CvaeganError(f"{path}: line {reader.line_num}: {exc}") from exc
    if not rows:
        raise CvaeganError(f"{path}: lists no images")
    return rows


def _read_gray(path: Path) -> np.ndarray | None:
    try:
        return _gray(read_photo(path).rgb)
    except PhotoError:
        return None  # an unreadable glyph becomes a reject when it is processed


def duplicate_fonts(raw: Path, rows: list[tuple[str, str, int]], reference: int) -> dict[int, int]:
    """{font: the earlier font it duplicates}: fonts whose glyphs, over the characters both draw
    (at least half of either font's), are within DUPLICATE_PSNR_DB of each other. Earlier means the
    reference font first, then by index, so the reference and the lowest index of a group are kept.
    Glyphs are compared at their stored size; one whose size differs from its character's usual
    size, or that cannot be read, is left out of the comparison."""
    fonts = sorted({font for _, _, font in rows}, key=lambda f: (f != reference, f))
    pos = {f: i for i, f in enumerate(fonts)}
    by_char: dict[str, list[tuple[int, np.ndarray]]] = {}
    for file, char, font in rows:
        glyph = _read_gray(raw / file)
        if glyph is not None:
            by_char.setdefault(char, []).append((pos[font], glyph.astype(np.float32)))
    n = len(fonts)
    ssd = np.zeros((n, n), np.float64)
    pixels = np.zeros((n, n), np.float64)
    shared = np.zeros((n, n), np.int64)
    drawn = np.zeros(n, np.int64)
    for glyphs in by_char.values():
        shapes = [g.shape for _, g in glyphs]
        usual = max(set(shapes), key=shapes.count)
        idx = np.asarray([i for i, g in glyphs if g.shape == usual])
        x = np.stack([g.ravel() for _, g in glyphs if g.shape == usual])
        ssd[np.ix_(idx, idx)] += sq_distances(x)
        pixels[np.ix_(idx, idx)] += x.shape[1]
        shared[np.ix_(idx, idx)] += 1
        drawn[idx] += 1
    enough = 2 * shared >= np.maximum(drawn[:, None], drawn[None, :])
    close = enough & (shared > 0) & (ssd <= twin_limit(np.maximum(pixels, 1)))
    dup: dict[int, int] = {}
    for j in range(n):
        for i in range(j):
            if close[i, j] and fonts[i] not in dup:
                dup[fonts[j]] = fonts[i]
                break
    return dup


def scan_chars(opts: PrepareOptions) -> Plan:
    raw = opts.raw
    reference = reference_font(opts)
    rows = read_labels(raw / LABELS)
    if reference not in {font for _, _, font in rows}:
        raise CvaeganError(f"--reference-style {reference}: no image of font {reference} in {raw / LABELS}")
    present = [r for r in rows if (raw / r[0]).is_file()]
    if not present:
        raise CvaeganError(f"{raw}: none of the {len(rows)} images of {LABELS} is there")
    duplicates = duplicate_fonts(raw, present, reference)
    present = [r for r in present if r[2] not in duplicates]
    class_names = sorted({char for _, char, _ in rows})
    folders = unique_folders(class_names)
    index = {c: i for i, c in enumerate(class_names)}
    jobs: list[Job] = []
    per_class: dict[int, int] = {}
    for file, char, font in sorted(present, key=lambda r: (index[r[1]], r[2])):
        ci = index[char]
        if opts.limit and per_class.get(ci, 0) >= opts.limit:
            continue
        per_class[ci] = per_class.get(ci, 0) + 1
        jobs.append(Job(key=f"chars:{file}", source=str(raw / file), rel=file, cls=ci,
                        out=f"{folders[ci]}/font_{font:05d}.png", split=font_split(font, reference),
                        extra={"style": str(font)}))
    notes = []
    if len(present) < len(rows):
        notes.append(f"skipped {len(rows) - len(present)} images that {LABELS} lists but RAW does not hold")
    styles: dict[str, Any] = {"name": "font", "reference": str(reference), "source": LABELS}
    if duplicates:
        pairs = sorted(duplicates.items())
        styles["duplicates"] = {str(a): str(b) for a, b in pairs}
        shown = ", ".join(f"{a}→{b}" for a, b in pairs[:8]) + (" …" if len(pairs) > 8 else "")
        notes.append(f"skipped {len(pairs)} fonts that draw every glyph as an earlier font does (within "
                     f"{DUPLICATE_PSNR_DB:g} dB), so no held-out font has a twin in training: {shown}")
    classes = [ClassInfo(n, f) for n, f in zip(class_names, folders)]
    return Plan(classes, jobs, notes, {"styles": styles, "flip": False})


def _gray(rgb: np.ndarray) -> np.ndarray:
    """One channel: the grey itself for a grayscale file (read_photo repeats it 3×), else ITU-R 601 luma."""
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
        return np.ascontiguousarray(rgb[..., 0])
    return np.round(rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).clip(0, 255).astype(np.uint8)


def _resize(gray: np.ndarray, size: int) -> np.ndarray:
    h, w = gray.shape
    if (w, h) == (size, size):
        return gray
    im = Image.fromarray(gray)
    return np.asarray(im.resize((size, size), Image.Resampling.LANCZOS if size < w else Image.Resampling.BICUBIC))


def process_chars(job: Job, opts: PrepareOptions, write: Any) -> dict[str, Any]:
    try:
        photo = read_photo(job.source)
    except PhotoError as exc:
        return {"rejects": [reject(job, exc.reason, str(exc))]}
    gray = _gray(photo.rgb)
    H, W = gray.shape
    region = [0.0, 0.0, float(W), float(H)]
    padded = W != H
    if padded:  # never crop a glyph: square it with its own edge (the background)
        side = max(W, H)
        top, left = (side - H) // 2, (side - W) // 2
        gray = np.pad(gray, ((top, side - H - top), (left, side - W - left)), mode="edge")
        region = [-float(left), -float(top), float(side - left), float(side - top)]
    crop = np.repeat(_resize(gray, opts.size)[..., None], 3, axis=2)
    write(job.out, crop)
    matrix = box_matrix(region, opts.size)
    item: dict[str, Any] = {"file": job.out, "source": job.rel, "photo_size": [W, H],
                            "crop_box": [round(v, 2) for v in region],
                            "transform": [[round(float(v), 6) for v in row] for row in matrix],
                            "style": job.extra["style"]}
    if padded:
        item["padded"] = True
    if job.split:
        item["split"] = job.split
    return {"item": item, "rejects": []}
