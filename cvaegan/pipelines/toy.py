"""`cvaegan toy`: the 2-D ring of §4 and Fig. 4, with the claim measured instead of eyeballed.

Setting (§4): real points lie on a ring centred at (100, 100), far from where a freshly initialised
generator puts its points (near the origin). G and D are MLPs with hidden layers of 32, 64 and 64
units; every method uses RMSProp with a fixed learning rate of 5e-5 and the same batches. Methods:

  gan     D: Eq. 1;  G: the usual non-saturating −log D(G(z)) (§3.1's L'_GD)
  wgan    critic: E D(x) − E D(G(z)) with weights clipped to ±clip after each step; G: −E D(G(z))
  meanfm  D: Eq. 1;  G: Eq. 2, ½‖E f_D(x) − E f_D(G(z))‖², f_D = the input of D's last FC layer,
          the centres kept as moving historical averages as in the image model (decay 0.9)

What the paper leaves open and we fix (documented, configurable): the ring's radius (10) and its
radial spread (σ = 0.5), z ~ N(0, I₂), ReLU activations, one D step per G step for every method
(the paper: "the same settings"), WGAN's clip value 0.01 (the WGAN paper's default).

Measures, on a fixed set of z every `eval_every` iterations:
  coverage    the fraction of `bins` equal angular sectors around the centre that hold at least one
              generated point lying within `band` of the ring (a point far off the ring covers
              nothing, so a blob sitting on the centre does not count as a ring)
  ring_dist   the mean distance of the generated points to the ring, |‖p − centre‖ − radius|
The paper trains 2M iterations; the CLI default is a CPU-sized budget, and iterations are G steps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor, nn

from cvaegan.core import losses as L
from cvaegan.core.centres import FeatureCentres
from cvaegan.runtime.atomic import atomic_path
from cvaegan.runtime.device import resolve_device

METHODS = ("gan", "wgan", "meanfm")
HIDDEN = (32, 64, 64)


@dataclass
class RingConfig:
    centre: tuple[float, float] = (100.0, 100.0)
    radius: float = 10.0
    std: float = 0.5           # radial spread of the real points

    def sample(self, n: int, gen: torch.Generator) -> Tensor:
        theta = torch.rand(n, generator=gen) * 2 * math.pi
        r = self.radius + self.std * torch.randn(n, generator=gen)
        return torch.stack([r * theta.cos(), r * theta.sin()], 1) + torch.tensor(self.centre)


@dataclass
class ToyConfig:
    method: str = "meanfm"
    iterations: int = 20_000
    batch_size: int = 64
    lr: float = 5e-5           # §4: RMSProp, fixed learning rate 0.00005 for all methods
    z_dim: int = 2
    clip: float = 0.01         # WGAN weight clipping
    critic_steps: int = 1      # D steps per G step
    centre_decay: float = 0.9  # meanfm: moving historical average of the f_D centres
    ring: RingConfig = field(default_factory=RingConfig)
    eval_every: int = 500
    eval_points: int = 1000
    bins: int = 36
    band: float = 2.0          # a generated point counts towards coverage within this distance of the ring
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.iterations < 1 or self.batch_size < 2 or self.eval_every < 1 or self.critic_steps < 1:
            raise ValueError("iterations, eval_every and critic_steps must be ≥ 1, batch_size ≥ 2")


def mlp(n_in: int, n_out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in HIDDEN:
        layers += [nn.Linear(n_in, h), nn.ReLU()]
        n_in = h
    return nn.Sequential(*layers, nn.Linear(n_in, n_out))


class ToyD(nn.Module):
    """D(x) → logit (or critic value), f_D = the input of the last FC layer (Eq. 2's feature)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = mlp(2, 1)

    @property
    def feature_dim(self) -> int:
        return self.body[-1].in_features

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        feature = self.body[:-1](x)
        return self.body[-1](feature).squeeze(1), feature


def ring_distance(points: Tensor, ring: RingConfig) -> Tensor:
    """Per point: |‖p − centre‖ − radius|."""
    return ((points - torch.tensor(ring.centre)).norm(dim=1) - ring.radius).abs()


def coverage(points: Tensor, ring: RingConfig, bins: int, band: float) -> float:
    """Fraction of angular sectors holding a generated point within `band` of the ring."""
    on = ring_distance(points, ring) <= band
    if not bool(on.any()):
        return 0.0
    d = points[on] - torch.tensor(ring.centre)
    angle = torch.atan2(d[:, 1], d[:, 0]) % (2 * math.pi)
    idx = (angle / (2 * math.pi) * bins).long().clamp(max=bins - 1)
    return float(torch.bincount(idx, minlength=bins).gt(0).float().mean())


@dataclass
class ToyRun:
    method: str
    history: list[dict[str, float]]        # {"iteration", "coverage", "ring_dist", ...} per evaluation
    snapshots: dict[int, Tensor]           # iteration → generated points (eval_points, 2)
    seconds: float

    def summary(self, threshold: float = 0.9) -> dict[str, Any]:
        last = self.history[-1]
        reached = next((h["iteration"] for h in self.history if h["coverage"] >= threshold), None)
        return {"method": self.method, "final_coverage": last["coverage"], "final_ring_dist": last["ring_dist"],
                "mean_coverage": sum(h["coverage"] for h in self.history) / len(self.history),
                f"first_iteration_coverage_ge_{threshold:g}": reached, "seconds": round(self.seconds, 2)}


def train_toy(cfg: ToyConfig, snapshot_at: list[int] | None = None,
              progress: Callable[[int], None] | None = None) -> ToyRun:
    """Train one method; every method with the same seed sees the same initial G, data and z.
    On the CPU it runs single-threaded: these MLPs are far too small to gain from more threads."""
    device = resolve_device(cfg.device)
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        return _train_toy(cfg, device, snapshot_at, progress)
    finally:
        torch.set_num_threads(threads)


def _train_toy(cfg: ToyConfig, device: torch.device, snapshot_at: list[int] | None,
               progress: Callable[[int], None] | None) -> ToyRun:
    torch.manual_seed(cfg.seed)
    G, D = mlp(cfg.z_dim, 2).to(device), ToyD().to(device)
    opt_g = torch.optim.RMSprop(G.parameters(), lr=cfg.lr)
    opt_d = torch.optim.RMSprop(D.parameters(), lr=cfg.lr)
    data_gen = torch.Generator().manual_seed(cfg.seed + 1)
    noise_gen = torch.Generator().manual_seed(cfg.seed + 2)
    z_eval = torch.randn(cfg.eval_points, cfg.z_dim, generator=torch.Generator().manual_seed(cfg.seed + 3)).to(device)

    def real_batch() -> Tensor:
        return cfg.ring.sample(cfg.batch_size, data_gen).to(device)

    def noise() -> Tensor:
        return torch.randn(cfg.batch_size, cfg.z_dim, generator=noise_gen).to(device)
    wanted = set(snapshot_at or [])
    centres = FeatureCentres(D.feature_dim, 1, 1, cfg.centre_decay).to(device)  # meanfm: Eq. 2's, as in the image model
    history: list[dict[str, float]] = []
    snapshots: dict[int, Tensor] = {}
    t0 = time.perf_counter()

    def evaluate(it: int, extra: dict[str, float]) -> None:
        with torch.no_grad():
            pts = G(z_eval).cpu()
        history.append({"iteration": it, "coverage": coverage(pts, cfg.ring, cfg.bins, cfg.band),
                        "ring_dist": float(ring_distance(pts, cfg.ring).mean()), **extra})
        if it in wanted:
            snapshots[it] = pts.clone()

    evaluate(0, {})
    for it in range(1, cfg.iterations + 1):
        for _ in range(cfg.critic_steps):
            x = real_batch()
            with torch.no_grad():
                x_g = G(noise())
            d_r, _ = D(x)
            d_g, _ = D(x_g)
            if cfg.method == "wgan":
                loss_d = d_g.mean() - d_r.mean()
            else:  # Eq. 1
                loss_d = L.loss_d(d_r, d_g)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            if cfg.method == "wgan":
                with torch.no_grad():
                    for p in D.parameters():
                        p.clamp_(-cfg.clip, cfg.clip)
        d_g, f_g = D(G(noise()))
        if cfg.method == "gan":
            loss_g = L.loss_gd_prime(d_g)
        elif cfg.method == "wgan":
            loss_g = -d_g.mean()
        else:  # Eq. 2 on moving-average centres; the real centre is a target, the fake one carries grad
            with torch.no_grad():
                _, f_r = D(real_batch())
            loss_g = L.loss_gd(*centres.update_d(f_r, f_g))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        if it % cfg.eval_every == 0 or it == cfg.iterations or it in wanted:
            evaluate(it, {"loss_d": float(loss_d.detach()), "loss_g": float(loss_g.detach())})
        if progress is not None and (it % 100 == 0 or it == cfg.iterations):
            progress(it)
    return ToyRun(cfg.method, history, snapshots, time.perf_counter() - t0)


# --------------------------------------------------------------------------- Fig. 4-style panel

CELL = 220
MARGIN = 28


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def panel_image(runs: list[ToyRun], iterations: list[int], ring: RingConfig, seed: int = 0) -> Image.Image:
    """Rows: methods; columns: iterations. Blue: real points, red: generated. The view is the ring
    ±3 radii; generated points outside it are pinned to the border in grey, so a generator that is
    still far away (or diverged) shows as a grey edge rather than an empty cell."""
    label_w = 70
    w, h = label_w + len(iterations) * CELL, MARGIN + len(runs) * CELL
    im = Image.new("RGB", (w, h), "white")
    dr = ImageDraw.Draw(im)
    font = _font(13)
    half = 3 * ring.radius
    cx, cy = ring.centre
    real = ring.sample(400, torch.Generator().manual_seed(seed + 4))

    def to_px(p: Tensor, ox: int, oy: int) -> tuple[Tensor, Tensor]:
        u = (p[:, 0] - (cx - half)) / (2 * half)
        v = 1 - (p[:, 1] - (cy - half)) / (2 * half)
        inside = (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
        pad = 6
        xy = torch.stack([u.clamp(0, 1), v.clamp(0, 1)], 1) * (CELL - 2 * pad) + pad + torch.tensor([ox, oy])
        return xy, inside

    for j, it in enumerate(iterations):
        dr.text((label_w + j * CELL + 6, 8), f"iteration {it:,}", fill="black", font=font)
    for i, run in enumerate(runs):
        oy = MARGIN + i * CELL
        dr.text((6, oy + CELL // 2 - 8), run.method, fill="black", font=font)
        hist = {hh["iteration"]: hh for hh in run.history}
        for j, it in enumerate(iterations):
            ox = label_w + j * CELL
            dr.rectangle([ox + 2, oy + 2, ox + CELL - 3, oy + CELL - 3], outline=(180, 180, 180))
            xy, _ = to_px(real, ox, oy)
            for x, y in xy.tolist():
                dr.ellipse([x - 1.2, y - 1.2, x + 1.2, y + 1.2], fill=(60, 110, 230))
            pts = run.snapshots.get(it)
            if pts is None:
                dr.text((ox + 8, oy + CELL // 2), "not reached", fill="grey", font=font)
                continue
            xy, inside = to_px(pts, ox, oy)
            for (x, y), ok in zip(xy.tolist(), inside.tolist()):
                dr.ellipse([x - 1.2, y - 1.2, x + 1.2, y + 1.2], fill=(220, 40, 40) if ok else (150, 150, 150))
            if it in hist:
                dr.text((ox + 8, oy + CELL - 22), f"cov {hist[it]['coverage']:.0%}  d {hist[it]['ring_dist']:.3g}",
                        fill="black", font=font)
    return im


def save_panel(im: Image.Image, path: Path) -> Path:
    with atomic_path(path) as tmp:
        im.save(tmp, format="PNG")
    return path


def default_snapshots(iterations: int, n: int = 5) -> list[int]:
    """n evenly spaced iterations from 0 to `iterations` (at lr 5e-5 nothing visible happens in the
    first few hundred steps, so geometric spacing would waste columns)."""
    if iterations < n:
        return list(range(iterations + 1))
    return sorted({round(iterations * k / (n - 1)) for k in range(n)})


def config_record(cfg: ToyConfig) -> dict[str, Any]:
    d = asdict(cfg)
    d.pop("method")
    return d
