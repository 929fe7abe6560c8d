"""§5.4 inpainting, Eq. 8: x ← M⊙G(E(x, c), c) + (1−M)⊙x, repeated; M = 1 on the pixels to fill.
`inpaint_fit` (the default method) searches z for the known pixels instead (`cvaegan.apps.fit`):
E, trained on whole photos, reads a holed one poorly, and Eq. 8's loop inherits that.

Masks are given in the input file's own pixel coordinates (the photo's, for a raw photo) and
carried into the model's aligned R×R space by the same transform as the image: resize and
centre-crop for a crop, the aligner's affine for a raw photo.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import torch
from PIL import Image

from cvaegan.apps.blend import poisson_blend
from cvaegan.apps.common import choose_class, tensor_to_array
from cvaegan.apps.faces import FaceInput, InputMode, image_size, load_inputs
from cvaegan.apps.fit import fit_latent, gaussian_misfit
from cvaegan.apps.paste import paste_edit
from cvaegan.data.dataset import square_fit
from cvaegan.data.images import grid_image, save_png
from cvaegan.runtime.atomic import atomic_write_json
from cvaegan.runtime.errors import CvaeganError
from cvaegan.runtime.outputs import image_output
from cvaegan.session import Session

Fill = Literal["keep", "noise", "grey"]
PAPER_PATCH, PAPER_RES = 50, 128


def parse_box(text: str) -> tuple[int, int, int, int]:
    """"x,y,w,h" in pixels."""
    m = re.fullmatch(r"\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*", text or "")
    if not m:
        raise CvaeganError(f"--box '{text}': expected x,y,w,h in pixels, e.g. 40,60,50,50")
    x, y, w, h = (int(v) for v in m.groups())
    if w < 1 or h < 1:
        raise CvaeganError(f"--box '{text}': width and height must be at least 1")
    return x, y, w, h


def box_mask(height: int, width: int, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    if x >= width or y >= height:
        raise CvaeganError(f"--box {x},{y},{w},{h} lies outside the {width}×{height} image")
    m = np.zeros((height, width), dtype=bool)
    m[y:y + h, x:x + w] = True
    return m


def read_mask(path: str | os.PathLike[str], width: int, height: int) -> np.ndarray:
    """A mask PNG: white (> 127 after conversion to grey, or opaque alpha on a transparent PNG) =
    the pixels to fill. Resized (nearest) to the input's size when it differs."""
    path = Path(path)
    if not path.is_file():
        raise CvaeganError(f"{path}: no such mask file")
    try:
        with Image.open(path) as im:
            if im.mode in ("RGBA", "LA") and np.asarray(im.getchannel("A")).min() < 255:
                grey = im.getchannel("A")
            else:
                grey = im.convert("L")
            if grey.size != (width, height):
                grey = grey.resize((width, height), Image.Resampling.NEAREST)
            m = np.asarray(grey) > 127
    except CvaeganError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise CvaeganError(f"{path}: not a readable mask image ({type(exc).__name__})") from exc
    return m


def random_patch(resolution: int, seed: int) -> tuple[int, int, int, int]:
    """§5.4's random 50×50 patch of a 128×128 image, scaled with the resolution."""
    side = max(1, round(PAPER_PATCH * resolution / PAPER_RES))
    rng = np.random.default_rng(seed)
    x, y = (int(v) for v in rng.integers(0, resolution - side + 1, 2))
    return x, y, side, side


def mask_to_model_space(mask: np.ndarray, inp: FaceInput, resolution: int) -> np.ndarray:
    """A mask in the input file's pixels → (R, R) bool in the model's space. Any overlap counts
    (linear warp > 0), so a thin user mask never vanishes."""
    m = mask.astype(np.float32)
    if inp.raw:
        warped = cv2.warpAffine(m, inp.matrix, (resolution, resolution), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return warped > 1e-3
    h, w = m.shape
    nw, nh, left, top = square_fit(w, h, resolution)
    if (nw, nh) != (w, h):
        m = cv2.resize(m, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return m[top:top + resolution, left:left + resolution] > 1e-3


def input_size(inp: FaceInput) -> tuple[int, int]:
    """(width, height) of the input file's pixel grid, the frame masks are given in."""
    if inp.raw:
        return int(inp.photo.shape[1]), int(inp.photo.shape[0])
    return image_size(inp.path)


def fill_masked(x: torch.Tensor, mask: torch.Tensor, how: Fill, seed: int) -> torch.Tensor:
    """The corrupted input x₀: `keep` the pixels under the mask (the user's damaged photo), or
    replace them with `noise` (uniform in [−1, 1], Fig. 7b) or `grey` (0)."""
    if how == "keep":
        return x.clone()
    if how == "grey":
        return torch.where(mask, torch.zeros_like(x), x)
    if how == "noise":
        g = torch.Generator().manual_seed(seed)
        return torch.where(mask, torch.rand(x.shape, generator=g) * 2 - 1, x)
    raise CvaeganError(f"unknown --fill '{how}'; use keep, noise or grey")


@torch.no_grad()
def inpaint(loaded: Session, x0: torch.Tensor, mask: torch.Tensor, c: torch.Tensor,
            iters: int, blend: bool = False) -> list[torch.Tensor]:
    """Eq. 8 on a batch: x0 (N, 3, R, R), mask (N or 1, 1, R, R) bool, c (N, K). Returns
    [x₀, x₁, …, x_iters]; the unmasked pixels of every xₜ are x₀'s, bit for bit (torch.where,
    not arithmetic). `blend`: the last fill is Poisson-blended into x₀ (`cvaegan.apps.blend`)."""
    out, rec = eq8_steps(loaded, x0, mask, c, iters)
    if blend:
        out[-1] = fill_hole(rec, x0.to(rec.device), mask, blend=True).cpu()
    return out


@torch.no_grad()
def eq8_steps(loaded: Session, x0: torch.Tensor, mask: torch.Tensor, c: torch.Tensor,
              iters: int) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Eq. 8's loop: ([x₀, x₁, …, x_iters] on the CPU, the last whole reconstruction on the
    session's device, which a Poisson blend of the last fill needs)."""
    if iters < 1:
        raise CvaeganError("--iters must be at least 1")
    dev = loaded.device
    x = x0.to(dev)
    m = mask.to(dev).bool()
    cc = c.to(dev)
    out = [x0.clone()]
    for _ in range(iters):
        with loaded.autocast():
            rec = loaded.model.reconstruct(x, cc)
        x = torch.where(m, rec.to(x.dtype), x)
        out.append(x.cpu())
    return out, rec


def fill_hole(g: torch.Tensor, x: torch.Tensor, mask: torch.Tensor, blend: bool) -> torch.Tensor:
    """x with its hole taken from g: Poisson-blended (`cvaegan.apps.blend`) or pasted
    (torch.where: the known pixels are x's bit for bit either way)."""
    m = mask.to(x.device).bool()
    g = g.to(x.device)
    return poisson_blend(g.float(), x, m) if blend else torch.where(m, g.to(x.dtype), x)


@torch.no_grad()
def fit_fill(loaded: Session, x0: torch.Tensor, mask: torch.Tensor, c: torch.Tensor, steps: int = 100,
             noise: float = 0.1, lr: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """(G(z₀, c), G(z*, c)) on the session's device: E's code of x₀ decoded, and the code that
    minimises ‖(1−M)⊙(G(z, c) − x₀)‖²/(2σ²) + ½‖z‖² from there (`cvaegan.apps.fit`)."""
    dev = loaded.device
    x, m, cc = x0.to(dev), mask.to(dev).bool(), c.to(dev)
    with loaded.autocast():
        z0, _ = loaded.model.encode(x, cc)
        once = loaded.model.generate(z0, cc)
    z = fit_latent(loaded, cc, z0, gaussian_misfit(x.float(), noise, weight=(~m).float()), steps, lr)
    with loaded.autocast():
        return once, loaded.model.generate(z, cc)


def inpaint_fit(loaded: Session, x0: torch.Tensor, mask: torch.Tensor, c: torch.Tensor, steps: int = 100,
                noise: float = 0.1, lr: float = 0.05, blend: bool = False) -> list[torch.Tensor]:
    """The latent search instead of Eq. 8's loop (`fit_fill`), then M⊙G(z*, c) + (1−M)⊙x₀, or
    G(z*, c) Poisson-blended into x₀ with `blend`. Returns [x₀, Eq. 8 once, the fitted result]."""
    once, fitted = fit_fill(loaded, x0, mask, c, steps, noise, lr)
    x = x0.to(loaded.device)
    return [x0.clone(), fill_hole(once, x, mask, False).cpu(), fill_hole(fitted, x, mask, blend).cpu()]


def build_mask(inp: FaceInput, resolution: int, *, mask_png: Path | None, box: str | None,
               seed: int) -> tuple[np.ndarray, str, tuple[int, int, int, int] | None]:
    """The (R, R) model-space mask from --mask, --box, or §5.4's random patch."""
    if mask_png is not None and box is not None:
        raise CvaeganError("give --mask or --box, not both")
    if mask_png is not None or box is not None:
        w, h = input_size(inp)
        user = read_mask(mask_png, w, h) if mask_png is not None else box_mask(h, w, parse_box(box))
        if not user.any():
            raise CvaeganError("the mask is empty: nothing to inpaint")
        m = mask_to_model_space(user, inp, resolution)
        if not m.any():
            raise CvaeganError("the mask does not overlap the face region the model sees")
        return m, "mask PNG" if mask_png is not None else "box", parse_box(box) if box else None
    b = random_patch(resolution, seed)
    return box_mask(resolution, resolution, b), "random patch", b


FILLS = ("auto", "keep", "noise", "grey")
METHODS = ("fit", "eq8")


@dataclass
class InpaintRequest:
    """What `cvaegan inpaint` is asked: a photo or aligned crop, the region (a mask PNG, a box, or
    §5.4's random patch), the start fill, the method (`fit`: search z for the known pixels;
    `eq8`: §5.4's loop, `iters` times), the class (None: C's posterior), the output."""

    photo: Path
    iters: int = 10
    mask: Path | None = None
    box: str | None = None
    fill: str = "auto"
    class_: str | None = None
    feather: float | None = None   # raw photos: blend width in crop pixels (None: R/32, at least 2)
    seed: int = 0
    out: Path | None = None        # None: inpaint/<photo>.png
    mode: InputMode = "auto"
    detector: Path | None = None
    face: int | None = None
    method: str = "fit"
    fit_steps: int = 100
    blend: bool = True             # Poisson-blend the fill into the input (False: paste it)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise CvaeganError(f"--method {self.method}: use one of {', '.join(METHODS)}")
        if self.fit_steps < 1:
            raise CvaeganError("--fit-steps must be at least 1")
        if self.fill not in FILLS:
            raise CvaeganError(f"unknown --fill '{self.fill}'; use {', '.join(FILLS[:-1])} or {FILLS[-1]}")
        if self.iters < 1:
            raise CvaeganError("--iters must be at least 1")
        self.out = Path(self.out) if self.out is not None else Path("inpaint") / f"{Path(self.photo).stem}.png"


@dataclass
class InpaintResult:
    out: Path
    strip: Path
    record: dict[str, Any]
    summary: str      # one line for the user
    class_line: str   # which class was used, and why


def run(session: Session, req: InpaintRequest) -> InpaintResult:
    """Inpaint `req.photo` with `session`'s model: the result (pasted back into a raw photo),
    a strip (original, x₀, then Eq. 8's iterations, or E's code decoded and the fitted z decoded),
    and the JSON record beside the result."""
    record_file = image_output(req.out)
    res = session.resolution
    inp = load_inputs([req.photo], res, req.mode, req.detector, req.face)[0]
    m_np, source, used_box = build_mask(inp, res, mask_png=req.mask, box=req.box, seed=req.seed)
    how = req.fill if req.fill != "auto" else ("noise" if source == "random patch" else "keep")
    m = torch.from_numpy(m_np)[None]
    x0 = fill_masked(inp.x, m, how, req.seed)
    choice = choose_class(session, x0, req.class_)
    if req.method == "fit":
        steps = inpaint_fit(session, x0[None], m[None], choice.vector[None], req.fit_steps, blend=req.blend)
    else:
        steps = inpaint(session, x0[None], m[None], choice.vector[None], req.iters, blend=req.blend)
    result = steps[-1][0]
    strip = req.out.with_name(req.out.stem + "-strip.png")
    save_png(grid_image(torch.stack([inp.x] + [s[0] for s in steps]), nrow=len(steps) + 1), strip)
    crop = tensor_to_array(result)
    if inp.raw:
        width = req.feather if req.feather is not None else max(2.0, res / 32)
        repaired = paste_edit(inp.photo, crop, inp.matrix, m_np, width)
        save_png(Image.fromarray(repaired), req.out)
        changed = int((repaired != inp.photo).any(axis=2).sum())
        where = f"pasted back into the {inp.photo.shape[1]}×{inp.photo.shape[0]} photo ({changed} pixels changed)"
    else:
        width = None
        save_png(Image.fromarray(crop), req.out)
        where = f"{res}×{res} crop"
    record = {
        "command": "inpaint", "checkpoint": str(session.path), "step": session.step, "precision": session.precision,
        "input": inp.record(), "method": req.method,
        "fit_steps": req.fit_steps if req.method == "fit" else None,
        "iters": req.iters if req.method == "eq8" else None, "blend": "poisson" if req.blend else None,
        "seed": req.seed,
        "mask": {"source": source, "box": used_box, "file": str(req.mask) if req.mask else None,
                 "pixels": int(m_np.sum()), "fill": how},
        "class": choice.record(session.class_names), "feather": width, "result": str(req.out), "strip": str(strip)}
    atomic_write_json(record_file, record)
    how_long = f"z fitted in {req.fit_steps} steps" if req.method == "fit" else f"Eq. 8 × {req.iters}"
    summary = (f"inpainted {int(m_np.sum())} pixels ({source}, start: {how}; {how_long}): {req.out} "
               f"({where}); steps in {strip}")
    return InpaintResult(req.out, strip, record, summary, f"class: {choice.describe(session.class_names)}")
