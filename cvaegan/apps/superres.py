"""The abstract's super-resolution, by the projection idea of Eq. 8 with down-sampling in place of
the mask: x ← G(E(x, c), c), then its low-frequency band is replaced by the input's,
x ← x − up(down(x)) + up(y) = x + up(y − down(x)).

down = s×s box average (what an area-resized low-resolution photo is), up = bicubic. down∘up is
not the identity, so one projection step leaves a small mismatch; `project` repeats the step
(back-projection, Irani & Peleg), which converges to down(x) = y because down∘up's eigenvalues lie
in (0, 1].

`fit_latent` is the other way to use the model: rather than asking E to encode a blurred
bicubic image (an input unlike anything E was trained on), search z for the face whose
down-sampled image is y — MAP under the model, min_z ‖down(G(z, c)) − y‖²/(2σ²) + ½‖z‖², from
E's code of x₀ — and then project G(z*, c) onto y's low band as above.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from cvaegan.apps import fit
from cvaegan.apps.common import choose_class, psnr, read_crop
from cvaegan.apps.faces import image_size
from cvaegan.apps.fit import gaussian_misfit
from cvaegan.data.images import grid_image, save_png, to_pil
from cvaegan.runtime.atomic import atomic_write_json
from cvaegan.runtime.errors import CvaeganError
from cvaegan.runtime.outputs import image_output
from cvaegan.session import Session

SCALES = (2, 4, 8)


def down(x: torch.Tensor, scale: int) -> torch.Tensor:
    return F.avg_pool2d(x, scale)


def up(y: torch.Tensor, scale: int) -> torch.Tensor:
    return F.interpolate(y, scale_factor=scale, mode="bicubic", align_corners=False)


def bicubic(y: torch.Tensor, scale: int) -> torch.Tensor:
    """The baseline: bicubic up-sampling, clamped to the image range."""
    return up(y, scale).clamp(-1, 1)


def project(x: torch.Tensor, y: torch.Tensor, scale: int, steps: int = 10) -> torch.Tensor:
    """Replace x's low band by y's: `steps` back-projection steps x ← x + up(y − down(x)),
    clamping to [−1, 1] after each so the result is a valid image."""
    for _ in range(max(1, steps)):
        x = (x + up(y - down(x, scale), scale)).clamp(-1, 1)
    return x


def fit_latent(loaded: Session, y: torch.Tensor, c: torch.Tensor, scale: int, z0: torch.Tensor,
               steps: int = 100, lr: float = 0.05, noise: float = 0.1) -> torch.Tensor:
    """z* = argmin ‖down(G(z, c)) − y‖² / (2 noise²) + ½‖z‖² from z0. `noise` is the σ of y under
    the model, on [−1, 1] pixels: how far down(G(z, c)) may stay from y."""
    misfit = gaussian_misfit(y, noise, view=lambda x: down(x, scale))
    return fit.fit_latent(loaded, c, z0, misfit, steps, lr)


@torch.no_grad()
def super_resolve_fit(loaded: Session, y: torch.Tensor, c: torch.Tensor, scale: int, steps: int = 100,
                      projection_steps: int = 10, **options: float) -> list[torch.Tensor]:
    """y (N, 3, R/s, R/s), c (N, K). Returns [x₀ = projected bicubic, G(z₀, c) projected (z₀ = E's
    code of x₀), G(z*, c) projected]. `options`: `fit_latent`'s lr and noise."""
    if scale not in SCALES:
        raise CvaeganError(f"--scale {scale}: use one of {', '.join(map(str, SCALES))}")
    dev = loaded.device
    y, cc = y.to(dev).float(), c.to(dev)
    x0 = project(bicubic(y, scale), y, scale, projection_steps)
    with loaded.autocast():
        z0, _ = loaded.model.encode(x0, cc)
        first = loaded.model.generate(z0, cc).float()
    z = fit_latent(loaded, y, cc, scale, z0, steps, **options)
    with loaded.autocast():
        fitted = loaded.model.generate(z, cc).float()
    return [x0.cpu(), project(first, y, scale, projection_steps).cpu(),
            project(fitted, y, scale, projection_steps).cpu()]


@torch.no_grad()
def super_resolve(loaded: Session, y: torch.Tensor, c: torch.Tensor, scale: int, iters: int,
                  projection_steps: int = 10) -> list[torch.Tensor]:
    """y (N, 3, R/s, R/s) in [−1, 1], c (N, K). Returns [x₀ = projected bicubic, x₁, …, x_iters]."""
    if scale not in SCALES:
        raise CvaeganError(f"--scale {scale}: use one of {', '.join(map(str, SCALES))}")
    if iters < 1:
        raise CvaeganError("--iters must be at least 1")
    dev = loaded.device
    y = y.to(dev).float()
    cc = c.to(dev)
    x = project(bicubic(y, scale), y, scale, projection_steps)
    out = [x.cpu()]
    for _ in range(iters):
        with loaded.autocast():
            rec = loaded.model.reconstruct(x, cc).float()
        x = project(rec, y, scale, projection_steps)
        out.append(x.cpu())
    return out


METHODS = ("fit", "iterate")


@dataclass
class SuperresRequest:
    """What `cvaegan superres` is asked: an aligned low-resolution crop, the factor, the method
    (`fit`: search z for y, then project; `iterate`: x ← G(E(x, c), c) projected, `iters` times),
    the class (None: C's posterior on the bicubic image), an optional true image to score against."""

    lowres: Path
    scale: int = 4
    iters: int = 5
    class_: str | None = None
    reference: Path | None = None
    seed: int = 0                  # recorded; the method is deterministic
    out: Path | None = None        # None: superres/<lowres>-x<scale>.png
    method: str = "fit"
    fit_steps: int = 100

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise CvaeganError(f"--scale {self.scale}: use one of {', '.join(map(str, SCALES))}")
        if self.iters < 1:
            raise CvaeganError("--iters must be at least 1")
        if self.method not in METHODS:
            raise CvaeganError(f"--method {self.method}: use one of {', '.join(METHODS)}")
        if self.fit_steps < 1:
            raise CvaeganError("--fit-steps must be at least 1")
        default = Path("superres") / f"{Path(self.lowres).stem}-x{self.scale}.png"
        self.out = Path(self.out) if self.out is not None else default


@dataclass
class SuperresResult:
    out: Path
    strip: Path
    record: dict[str, Any]
    summary: str
    class_line: str


def run(session: Session, req: SuperresRequest) -> SuperresResult:
    """Super-resolve `req.lowres` with `session`'s model; writes the result, a strip (bicubic, then
    E's code decoded and the fitted z for `fit`, or each iteration for `iterate`) and the JSON
    record beside the result."""
    torch.manual_seed(req.seed)
    record_file = image_output(req.out)
    res, scale = session.resolution, req.scale
    side = res // scale
    w, h = image_size(req.lowres)
    note = "" if (w, h) == (side, side) else f" (resized from {w}×{h})"
    y = read_crop(req.lowres, side)
    base = bicubic(y[None], scale)[0]
    choice = choose_class(session, base, req.class_)
    if req.method == "fit":
        steps = super_resolve_fit(session, y[None], choice.vector[None], scale, req.fit_steps)
    else:
        steps = super_resolve(session, y[None], choice.vector[None], scale, req.iters)
    result = steps[-1][0]
    strip = req.out.with_name(req.out.stem + "-strip.png")
    save_png(to_pil(result), req.out)
    save_png(grid_image(torch.stack([base] + [s[0] for s in steps[1:]]), nrow=len(steps)), strip)
    consistency = psnr(down(result[None], scale), y[None])
    record = {"command": "superres", "checkpoint": str(session.path), "step": session.step,
              "precision": session.precision, "input": str(req.lowres), "input_size": [w, h], "scale": scale,
              "method": req.method, "fit_steps": req.fit_steps if req.method == "fit" else None,
              "iters": req.iters if req.method == "iterate" else None, "seed": req.seed,
              "class": choice.record(session.class_names),
              "result": str(req.out), "strip": str(strip), "psnr_down_vs_input": round(consistency, 3)}
    summary = f"{side}×{side}{note} → {res}×{res}: {req.out}; down-sampled result vs input {consistency:.1f} dB"
    if req.reference is not None:
        ref = read_crop(req.reference, res)
        p_ours, p_bic = psnr(result, ref), psnr(base, ref)
        record.update(reference=str(req.reference), psnr=round(p_ours, 3), psnr_bicubic=round(p_bic, 3))
        summary += f"; PSNR vs reference: ours {p_ours:.2f} dB, bicubic {p_bic:.2f} dB"
    atomic_write_json(record_file, record)
    return SuperresResult(req.out, strip, record, summary, f"class: {choice.describe(session.class_names)}")
