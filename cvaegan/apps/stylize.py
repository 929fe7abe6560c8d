"""`cvaegan stylize`: draw a content in the style of another image with an SAAE model (§3.3, Fig. 6).

G(c, s) = Dec(Enc_c(c), Enc_s(s)): the content c is an image (`--content`) or a class's stored
content image (`--content-class`: the class in the dataset's reference style, kept in the
checkpoint), the style s one or more images (`--style`, `--styles DIR`). With `--grid`, the
paper's Fig. 6: one row per style image, its first cell the style image itself in a red frame,
then the style applied to every content.

Inputs of any size and mode (grey, RGBA, palette, 16-bit) are read as training reads its images
(RGB, transparency on white, short side resized to the model's resolution, centre-cropped). There
is no detection or alignment: stylize works on images already framed like the training data (one
character filling the square, as `prepare chars` writes them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from cvaegan.apps.common import read_crop
from cvaegan.data.images import grid_image, save_png, to_pil
from cvaegan.data.manifest import IMAGE_EXTENSIONS
from cvaegan.data.naming import distinct_folders, resolve_name
from cvaegan.pipelines.sample import safe_name
from cvaegan.runtime.atomic import atomic_write_json
from cvaegan.runtime.errors import CvaeganError
from cvaegan.runtime.limits import MAX_IMAGES
from cvaegan.runtime.outputs import image_output
from cvaegan.session import Session

MAX_SCALE = 16
GRID_PAD = 2                  # pixels between cells, as every other grid (`grid_image`)
MARK = (220, 30, 30)          # the frame around a grid row's style image (Fig. 6's red box)
STYLE_EXTENSIONS = IMAGE_EXTENSIONS + (".gif",)
BATCH = 256


@dataclass
class StylizeRequest:
    """What `cvaegan stylize` is asked: one content (an image or a class) and style images, or with
    `grid` any number of contents (classes; default all) against the style images."""

    styles: list[Path] = field(default_factory=list)   # --style files
    style_dir: Path | None = None                      # --styles DIR: every image in it (sorted)
    content: Path | None = None                        # --content IMAGE
    content_classes: list[str] = field(default_factory=list)  # --content-class, names or indices
    grid: bool = False
    out: Path | None = None   # None: stylize/<content>.png, stylize/grid.png with --grid
    scale: int | None = None  # upscaling of the strip / grid (None: to ~128 / ~64 px a cell)

    def __post_init__(self) -> None:
        self.styles = [Path(p) for p in self.styles]
        self.content_classes = [c.strip() for spec in self.content_classes for c in str(spec).split(",")
                                if c.strip()]
        if self.content is not None and self.content_classes:
            raise CvaeganError("give --content IMAGE or --content-class NAME, not both")
        if not self.grid:
            if self.content is None and not self.content_classes:
                raise CvaeganError("nothing to draw: give --content IMAGE or --content-class NAME "
                                   "(or --grid for every class)")
            if len(self.content_classes) > 1:
                raise CvaeganError(f"{len(self.content_classes)} content classes: give one, or --grid to draw "
                                   "several")
        if not self.styles and self.style_dir is None:
            raise CvaeganError("no style: give --style IMAGE (repeatable) or --styles DIR")
        if self.scale is not None and not 1 <= self.scale <= MAX_SCALE:
            raise CvaeganError(f"--scale {self.scale}: must be 1..{MAX_SCALE}")
        if self.out is not None:
            self.out = Path(self.out)


@dataclass
class Content:
    """One content: an input image, or a class's stored content image."""

    x: torch.Tensor                 # (3, R, R) in [-1, 1]
    label: str                      # for file names and summaries
    record: dict[str, Any]
    cls: int | None = None          # the class, for `stylize_class`


@dataclass
class StylizeResult:
    outputs: list[Path]             # one result per style (none with --grid)
    strips: list[Path]              # content | style | result, one per style
    grid: Path | None
    record_file: Path
    record: dict[str, Any]
    summary: str


def run(session: Session, req: StylizeRequest) -> StylizeResult:
    """Stylize as `req` asks with `session`'s SAAE model; writes the images and a JSON record."""
    require_stylize(session)
    res = session.resolution
    contents = resolve_contents(session, req)   # names are checked before any image is read
    style_files = style_paths(req)
    if req.grid:
        cells = len(style_files) * (len(contents) + 1)
        if cells > MAX_IMAGES:
            raise CvaeganError(f"a grid of {len(style_files)} styles × {len(contents) + 1} columns is {cells} "
                               f"images; at most {MAX_IMAGES} (fewer --styles or --content-class)")
        return _run_grid(session, req, contents, style_files, res)
    return _run_single(session, req, contents[0], style_files, res)


def require_stylize(session: Session) -> None:
    if "stylize" not in session.capabilities:  # open_session(needs=("stylize",)) says it first
        raise CvaeganError(f"{session.path}: a '{session.model.cfg.model.model}' model cannot stylize")


def resolve_class_name(spec: str, names: list[str]) -> int:
    """A class by its exact name first (character classes are often digits: "7" is the class named
    7, wherever it sits), then as `resolve_name` reads it (index, loose name, close-name error)."""
    return names.index(spec) if spec in names else resolve_name(spec, names, "class")


def resolve_contents(session: Session, req: StylizeRequest) -> list[Content]:
    """The contents to draw: the `--content` image, the named classes, or (grid) every class."""
    names = list(session.class_names)
    if req.content is not None:
        return [_image_content(req.content, session.resolution)]
    specs = req.content_classes or [str(k) for k in range(len(names))]
    idx = [resolve_class_name(s, names) for s in specs]
    stored = session.model.contents.detach().float().cpu()
    blank = [names[k] for k in dict.fromkeys(idx) if not stored[k].any()]
    if blank:  # never set: exact 0 is mid-grey 127.5, which no uint8 image decodes to
        raise CvaeganError(f"{session.path}: the checkpoint holds no content image for class "
                           f"{', '.join(blank[:5])}{', …' if len(blank) > 5 else ''} (blank), so "
                           "--content-class cannot draw it; give --content IMAGE")
    return [Content(stored[k].clone(), names[k], {"class": k, "name": names[k]}, k) for k in idx]


def style_paths(req: StylizeRequest) -> list[Path]:
    """The --style files, then every image file in --styles DIR (sorted by name)."""
    files = list(req.styles)
    if req.style_dir is not None:
        d = Path(req.style_dir)
        if not d.is_dir():
            raise CvaeganError(f"--styles {d}: no such folder" if not d.exists() else
                               f"--styles {d} is a file; give a folder (or --style for one image)")
        found = sorted(p for p in d.iterdir() if p.is_file() and not p.name.startswith(".")
                       and p.suffix.lower() in STYLE_EXTENSIONS)
        if not found:
            raise CvaeganError(f"--styles {d}: no image files in it ({', '.join(STYLE_EXTENSIONS[:4])}, …)")
        files += found
    for f in files:
        if f.is_dir():
            raise CvaeganError(f"--style {f} is a folder; give an image file (or --styles DIR)")
    return files


def read_input(path: Path, resolution: int) -> tuple[torch.Tensor, dict[str, Any]]:
    """An input image as (3, R, R) in [-1, 1] and what the record says about it."""
    x = read_crop(path, resolution)  # one error line for a missing or unreadable file
    info: dict[str, Any] = {"file": str(path)}
    try:
        with Image.open(path) as im:
            info.update(size=list(im.size), mode=im.mode)
    except Exception:  # noqa: BLE001 — read_crop read it; the facts are extras
        pass
    return x, info


def _image_content(path: Path, res: int) -> Content:
    x, info = read_input(Path(path), res)
    return Content(x, Path(path).stem, info)


def stylize_batch(session: Session, contents: list[Content], styles: torch.Tensor) -> torch.Tensor:
    """Row i: contents[i] drawn in styles[i]'s style, (N, 3, R, R) in [-1, 1] on the CPU. Class
    contents go through `stylize_class` (the checkpoint's stored content images)."""
    model, dev = session.model, session.device
    out = []
    for i in range(0, len(contents), BATCH):
        part, s = contents[i:i + BATCH], styles[i:i + BATCH].to(dev)
        with session.autocast():
            if all(c.cls is not None for c in part):
                y = model.stylize_class(torch.tensor([c.cls for c in part], device=dev), s)
            else:
                y = model.stylize(torch.stack([c.x for c in part]).to(dev), s)
        out.append(y.float().cpu())
    return torch.cat(out)


def upscale(img: Image.Image, scale: int) -> Image.Image:
    """Nearest-neighbour enlargement for viewing (every pixel a scale×scale block)."""
    return img if scale == 1 else img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)


def strip_scale(req: StylizeRequest, res: int) -> int:
    return req.scale if req.scale is not None else max(1, 128 // res)


def _run_single(session: Session, req: StylizeRequest, content: Content, style_files: list[Path],
                res: int) -> StylizeResult:
    base = req.out if req.out is not None else Path("stylize") / f"{safe_name(content.label)}.png"
    record_file = image_output(base)
    if len(style_files) == 1:
        outs = [base]
    else:
        stems = distinct_folders([safe_name(f.stem) for f in style_files])
        outs = [base.with_name(f"{base.stem}-{s}{base.suffix}") for s in stems]
        for o in outs:
            image_output(o)
    strips = [o.with_name(o.stem + "-strip.png") for o in outs]
    read = [read_input(f, res) for f in style_files]
    styles = torch.stack([x for x, _ in read])
    results = stylize_batch(session, [content] * len(style_files), styles)
    scale = strip_scale(req, res)
    entries = []
    for (x_s, info), y, o, st in zip(read, results, outs, strips):
        save_png(to_pil(y), o)
        save_png(upscale(grid_image(torch.stack([content.x, x_s, y]), nrow=3), scale), st)
        entries.append({"style": info, "result": str(o), "strip": str(st)})
    record = {**_record_head(session, "single"), "content": content.record, "strip_scale": scale,
              "results": entries}
    atomic_write_json(record_file, record)
    what = f"class {content.label}" if content.cls is not None else str(req.content)
    lines = [f"stylized {what} in the style of {len(style_files)} image{'s' if len(style_files) != 1 else ''}:"]
    lines += [f"  {e['style']['file']} → {e['result']} (strip {e['strip']})" for e in entries]
    lines.append(f"record: {record_file}")
    return StylizeResult(outs, strips, None, record_file, record, "\n".join(lines))


def _run_grid(session: Session, req: StylizeRequest, contents: list[Content], style_files: list[Path],
              res: int) -> StylizeResult:
    base = req.out if req.out is not None else Path("stylize") / "grid.png"
    record_file = image_output(base)
    read = [read_input(f, res) for f in style_files]
    rows = []
    for x_s, _ in read:
        drawn = stylize_batch(session, contents, x_s[None].expand(len(contents), -1, -1, -1))
        rows.append(torch.cat([x_s[None], drawn]))
    cols = len(contents) + 1
    img = mark_first_column(grid_image(torch.cat(rows), nrow=cols, padding=GRID_PAD), len(rows), res)
    scale = req.scale if req.scale is not None else \
        max(1, min(64 // res, 4096 // max(img.width, img.height)))
    save_png(upscale(img, scale), base)
    record = {**_record_head(session, "grid"), "grid": str(base), "rows": len(rows), "columns": cols,
              "scale": scale, "layout": "row = a style image; column 0 = the style image (red frame), "
                                        "then one column per content",
              "styles": [info for _, info in read], "contents": [c.record for c in contents],
              "cell": res, "size": [img.width * scale, img.height * scale]}
    atomic_write_json(record_file, record)
    summary = (f"stylize grid: {len(rows)} style{'s' if len(rows) != 1 else ''} × {len(contents)} "
               f"content{'s' if len(contents) != 1 else ''} → {base} ({img.width * scale}×{img.height * scale}); "
               f"record: {record_file}")
    return StylizeResult([], [], base, record_file, record, summary)


def mark_first_column(img: Image.Image, rows: int, res: int, pad: int = GRID_PAD) -> Image.Image:
    """Colour the padding ring around each row's first cell (the style image): Fig. 6's red box,
    drawn outside the cell so the style image keeps its pixels."""
    img = img.copy()
    step = res + pad
    for r in range(rows):
        top = r * step
        box = Image.new("RGB", (res + 2 * pad, res + 2 * pad), MARK)
        box.paste(img.crop((pad, top + pad, pad + res, top + pad + res)), (pad, pad))
        img.paste(box, (0, top))
    return img


def _record_head(session: Session, mode: str) -> dict[str, Any]:
    return {"command": "stylize", "mode": mode, "checkpoint": str(session.path), "step": session.step,
            "model": session.model.cfg.model.model, "device": str(session.device),
            "precision": session.precision, "resolution": session.resolution}


def cell_box(row: int, col: int, res: int, scale: int = 1, pad: int = GRID_PAD) -> tuple[int, int, int, int]:
    """Where cell (row, col) lies in a grid written at `scale`: (left, top, right, bottom)."""
    step = res + pad
    left, top = col * step + pad, row * step + pad
    return left * scale, top * scale, (left + res) * scale, (top + res) * scale

