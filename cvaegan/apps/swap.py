"""`cvaegan swap`: open-set identity-preserving face synthesis (Bao et al., CVPR 2018).

The result is G(f_I(A), μ_A(B)): the identity vector of the identity image A — a person the
model may never have seen — and the attribute code (pose, expression, lighting, background) of the
attributes image B. Inputs are aligned crops or raw photos; raw photos are detected and aligned
as `edit` and `inpaint` do (`apps.faces`), and when B is a raw photo the swapped face is also
pasted back into B's photo inside the face region with a feathered edge (`apps.paste`, as `edit`
does): hair, background and the rest of the photo keep their exact pixels.

`--grid DIR_A DIR_B` draws the paper's figure: a header row of the attribute images, a header
column of the identity images, and in cell (i, j) identity i with the attributes of image j
(aligned crops; no paste-back). At most `MAX_GRID_SIDE` images a folder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cvaegan.apps.common import tensor_to_array
from cvaegan.apps.faces import InputMode, load_inputs
from cvaegan.apps.paste import write_face_result
from cvaegan.data.images import grid_image, save_png, swap_cells, to_pil
from cvaegan.data.manifest import IMAGE_EXTENSIONS
from cvaegan.pipelines.sample import safe_name
from cvaegan.runtime.atomic import atomic_write_json
from cvaegan.runtime.errors import CvaeganError
from cvaegan.runtime.limits import MAX_SEED
from cvaegan.runtime.outputs import image_output
from cvaegan.session import Session, require

MAX_GRID_SIDE = 16    # identity images, and attribute images, of one --grid
GRID_PAD = 2          # pixels between cells, as every other grid (`grid_image`)
BATCH = 256
MODES = ("auto", "raw", "aligned")


@dataclass
class SwapRequest:
    """What `cvaegan swap` is asked: one identity image and one attributes image, or with `grid`
    two folders (identities, attributes). Validated when built."""

    identity: Path | None = None                 # A: whose identity
    attributes: Path | None = None               # B: whose pose, expression, light, background
    grid: tuple[Path, Path] | None = None        # (DIR_A, DIR_B)
    out: Path | None = None   # None: swap/<A>_as_<B>.png, swap/grid-<DIR_A>_x_<DIR_B>.png with grid
    mode: InputMode = "auto"
    detector: Path | None = None
    face: int | None = None
    feather: float | None = None   # raw B: blend width in crop pixels (None: R/32, at least 2)
    seed: int = 0
    blend: bool = True             # raw B: Poisson-blend the face into B's crop before pasting it back

    def __post_init__(self) -> None:
        if self.grid is not None and all(g is None for g in self.grid):
            self.grid = None                          # an unset two-value option
        if self.grid is not None:
            if len(self.grid) != 2 or any(g is None for g in self.grid):
                raise CvaeganError("--grid takes two folders: DIR_A (identities) DIR_B (attributes)")
            if self.identity is not None or self.attributes is not None:
                raise CvaeganError("give --identity/--attributes or --grid DIR_A DIR_B, not both")
            self.grid = (Path(self.grid[0]), Path(self.grid[1]))
        else:
            missing = [flag for flag, v in (("--identity", self.identity), ("--attributes", self.attributes))
                       if v is None]
            if missing:
                raise CvaeganError(f"nothing to swap: give {' and '.join(missing)} (an aligned crop or a "
                                   "photo each), or --grid DIR_A DIR_B")
            self.identity, self.attributes = Path(self.identity), Path(self.attributes)
        if self.mode not in MODES:
            raise CvaeganError(f"input mode {self.mode!r}: expected one of {', '.join(MODES)}")
        if self.feather is not None and not (math.isfinite(self.feather) and self.feather >= 0):
            raise CvaeganError(f"--feather {self.feather}: must be a finite number ≥ 0")
        if self.face is not None and self.face < 0:
            raise CvaeganError(f"--face {self.face}: must be ≥ 0")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise CvaeganError(f"--seed {self.seed}: must be an integer 0..{MAX_SEED}")
        if self.out is not None:
            self.out = Path(self.out)
        elif self.grid is not None:
            self.out = Path("swap") / f"grid-{safe_name(self.grid[0].name)}_x_{safe_name(self.grid[1].name)}.png"
        else:
            self.out = Path("swap") / f"{safe_name(self.identity.stem)}_as_{safe_name(self.attributes.stem)}.png"


@dataclass
class SwapResult:
    out: Path | None          # the result (B's photo with the face pasted in, for a raw B)
    crop: Path | None         # the swapped crop, written beside a pasted result (raw B only)
    strip: Path | None        # identity | attributes | result
    grid: Path | None
    record_file: Path
    record: dict[str, Any]
    summary: str


def run(session: Session, req: SwapRequest) -> SwapResult:
    """Swap as `req` asks with `session`'s model; writes the images and a JSON record."""
    require_swap(session)
    with _seeded(session, req.seed):
        if req.grid is not None:
            return _run_grid(session, req)
        return _run_single(session, req)


def require_swap(session: Session) -> None:
    """One error line unless the model can swap (`open_session(needs=("swap",))` says it first)."""
    require(session, ("swap",), "swap")


def swap_batch(session: Session, x_identity: torch.Tensor, x_attributes: torch.Tensor) -> torch.Tensor:
    """Row i: identity of x_identity[i] with the attributes of x_attributes[i], (N, 3, R, R) in
    [-1, 1] on the CPU."""
    out = []
    for i in range(0, x_identity.shape[0], BATCH):
        a = x_identity[i:i + BATCH].to(session.device)
        b = x_attributes[i:i + BATCH].to(session.device)
        with torch.no_grad(), session.autocast():
            y = session.model.swap(a, b)
        out.append(y.float().cpu())
    return torch.cat(out)


def _run_single(session: Session, req: SwapRequest) -> SwapResult:
    record_file = image_output(req.out)
    res = session.resolution
    ident, attrs = load_inputs([req.identity, req.attributes], res, req.mode, req.detector, req.face)
    result = swap_batch(session, ident.x[None], attrs.x[None])[0]
    strip = req.out.with_name(req.out.stem + "-strip.png")
    crop = req.out.with_name(req.out.stem + "-crop.png") if attrs.raw else None
    save_png(grid_image(torch.stack([ident.x, attrs.x, result]), nrow=3, padding=GRID_PAD), strip)
    array = tensor_to_array(result)
    where = write_face_result(array, attrs, req.out, req.feather, req.blend)
    if crop is not None:
        save_png(to_pil(result), crop)
    outputs = {"result": str(req.out), "strip": str(strip)}
    if crop is not None:
        outputs["crop"] = str(crop)
    record = {**_record_head(session, req, "single"), "identity": ident.record(), "attributes": attrs.record(),
              "outputs": outputs, "result": where,
              "strip_layout": "identity source | attributes source | result (aligned crops)"}
    atomic_write_json(record_file, record)
    lines = [f"swapped the identity of {req.identity} into {req.attributes}: {req.out} ({where})",
             f"strip (identity, attributes, result): {strip}"]
    if crop is not None:
        lines.append(f"swapped crop: {crop}")
    lines.append(f"record: {record_file}")
    return SwapResult(req.out, crop, strip, None, record_file, record, "\n".join(lines))


def grid_files(folder: Path, flag: str) -> list[Path]:
    """The image files of a --grid folder (sorted by name; hidden files skipped), 1..MAX_GRID_SIDE."""
    d = Path(folder)
    if not d.is_dir():
        raise CvaeganError(f"{flag} {d}: no such folder" if not d.exists() else
                           f"{flag} {d} is a file; give a folder of images")
    found = sorted(p for p in d.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not found:
        raise CvaeganError(f"{flag} {d}: no image files in it ({', '.join(IMAGE_EXTENSIONS[:4])}, …)")
    if len(found) > MAX_GRID_SIDE:
        raise CvaeganError(f"{flag} {d}: {len(found)} images; a grid takes at most {MAX_GRID_SIDE} a side "
                           "(move some out)")
    return found


def _run_grid(session: Session, req: SwapRequest) -> SwapResult:
    record_file = image_output(req.out)
    res = session.resolution
    dir_a, dir_b = req.grid
    files_a, files_b = grid_files(dir_a, "--grid DIR_A"), grid_files(dir_b, "--grid DIR_B")
    loaded = load_inputs(files_a + files_b, res, req.mode, req.detector, req.face)
    ids, attrs = loaded[:len(files_a)], loaded[len(files_a):]
    xa, xb = torch.stack([i.x for i in ids]), torch.stack([a.x for a in attrs])
    n, m = len(ids), len(attrs)
    cells = swap_cells(lambda a, b: swap_batch(session, a, b), xa, xb)
    img = grid_image(cells, nrow=m + 1, padding=GRID_PAD)
    save_png(img, req.out)
    record = {**_record_head(session, req, "grid"), "grid": str(req.out), "rows": n + 1, "columns": m + 1,
              "layout": "row 0 = the attribute images (corner blank); column 0 = the identity images; "
                        "cell (i, j) = identity i with the attributes of image j (aligned crops)",
              "identities": [i.record() for i in ids], "attributes": [a.record() for a in attrs],
              "cell": res, "padding": GRID_PAD, "size": [img.width, img.height],
              "outputs": {"grid": str(req.out)}}
    atomic_write_json(record_file, record)
    summary = (f"swap grid: {n} identit{'ies' if n != 1 else 'y'} × {m} attribute image{'s' if m != 1 else ''} "
               f"→ {req.out} ({img.width}×{img.height}); record: {record_file}")
    return SwapResult(None, None, None, req.out, record_file, record, summary)


def _record_head(session: Session, req: SwapRequest, mode: str) -> dict[str, Any]:
    return {"command": "swap", "mode": mode, "checkpoint": str(session.path), "step": session.step,
            "model": session.model.cfg.model.model, "device": str(session.device),
            "precision": session.precision, "resolution": session.resolution, "seed": req.seed}


class _seeded:
    """Seed torch's generators for the command (`--seed`), restoring the caller's state after."""

    def __init__(self, session: Session, seed: int):
        dev = session.device
        cuda = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
        self._fork = torch.random.fork_rng(devices=cuda)
        self.seed = seed

    def __enter__(self) -> None:
        self._fork.__enter__()
        torch.manual_seed(self.seed)

    def __exit__(self, *exc: Any) -> None:
        self._fork.__exit__(*exc)


def cell_box(row: int, col: int, res: int, pad: int = GRID_PAD) -> tuple[int, int, int, int]:
    """Where cell (row, col) lies in a swap grid: (left, top, right, bottom)."""
    step = res + pad
    left, top = col * step + pad, row * step + pad
    return left, top, left + res, top + res
