"""Image-fidelity numbers: does a model keep the photo, and are its images free of texture?

Pure functions of image batches in [-1, 1], shape (N, 3, H, W), on the CPU.

- `reconstruction_quality`: PSNR and SSIM (scikit-image) of reconstructions against their inputs,
  on [0, 1] images (data range 1), averaged over images.
- `artifact_ratios`: generated (or reconstructed) images against held-out real images of the same
  resolution, two ratios that are 1 for a set drawn like the real one:
    * high-band spectral power, per Y, Cb and Cr channel (BT.601 full range, as JPEG): the mean
      over images of the mean power |FFT2|² / (H·W) at radial frequencies above half the Nyquist
      limit (|f| > 0.25 cycles/pixel), divided by the same for the real images. Speckle and
      texture raise it above 1, blur lowers it below 1. Chroma (Cb, Cr) is reported separately
      because colour speckle shows there first, where the luma may look fine.
    * total variation: the mean absolute difference between horizontally and vertically
      neighbouring pixels (RGB, [0, 1]), generated over real.
  `worst` is the largest deviation summary used by targets: max(high-band Y/Cb/Cr, TV).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

# BT.601 full-range RGB → YCbCr (JPEG); offsets do not matter for the spectrum above DC.
_YCBCR = torch.tensor([[0.299, 0.587, 0.114],
                       [-0.168736, -0.331264, 0.5],
                       [0.5, -0.418688, -0.081312]], dtype=torch.float64)
CHANNELS = ("Y", "Cb", "Cr")
HIGH_BAND = 0.25  # cycles per pixel: half the Nyquist limit (0.5)


def _unit(x: Tensor) -> Tensor:
    """[-1, 1] → [0, 1], float64 on the CPU, clamped as a saved image would be."""
    return ((x.detach().double().cpu() + 1.0) / 2.0).clamp(0.0, 1.0)


def to_ycbcr(x: Tensor) -> Tensor:
    """(N, 3, H, W) RGB in [-1, 1] → (N, 3, H, W) Y, Cb, Cr in [0, 1] units (offsets dropped)."""
    return torch.einsum("cd,ndhw->nchw", _YCBCR, _unit(x))


def high_band_mask(h: int, w: int, cutoff: float = HIGH_BAND) -> Tensor:
    """Boolean (H, W) mask of the FFT bins whose radial frequency exceeds `cutoff` cycles/pixel."""
    fy = torch.fft.fftfreq(h, dtype=torch.float64)[:, None]
    fx = torch.fft.fftfreq(w, dtype=torch.float64)[None, :]
    return (fy.pow(2) + fx.pow(2)).sqrt() > cutoff


def high_band_power(x: Tensor, batch: int = 512) -> Tensor:
    """Mean high-band spectral power per Y, Cb, Cr channel over a set of images → (3,)."""
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected (N, 3, H, W) images, got {tuple(x.shape)}")
    h, w = x.shape[-2:]
    mask = high_band_mask(h, w)
    total = torch.zeros(3, dtype=torch.float64)
    for i in range(0, x.shape[0], batch):
        y = to_ycbcr(x[i:i + batch])
        power = torch.fft.fft2(y).abs().pow(2) / (h * w)          # (n, 3, H, W)
        total += power[..., mask].mean(-1).sum(0)
    return total / x.shape[0]


def total_variation(x: Tensor) -> float:
    """Mean absolute neighbour difference (horizontal and vertical) of [0, 1] RGB images."""
    u = _unit(x)
    dh = (u[..., :, 1:] - u[..., :, :-1]).abs().mean()
    dv = (u[..., 1:, :] - u[..., :-1, :]).abs().mean()
    return float((dh + dv) / 2)


@dataclass
class ArtifactRatios:
    high_band: dict[str, float]   # per Y, Cb, Cr: generated / real
    tv: float                     # generated / real

    @property
    def worst(self) -> float:
        """The largest of the four ratios: the number the targets bound (≤ 1.15 / 1.2)."""
        return max(*self.high_band.values(), self.tv)

    def as_dict(self) -> dict[str, float]:
        return {**{f"high_band_{k}": v for k, v in self.high_band.items()}, "tv": self.tv, "worst": self.worst}


def artifact_ratios(generated: Tensor, real: Tensor) -> ArtifactRatios:
    """High-band power (per Y/Cb/Cr) and total variation of `generated` relative to `real`."""
    if generated.shape[1:] != real.shape[1:]:
        raise ValueError(f"image shapes differ: {tuple(generated.shape[1:])} vs {tuple(real.shape[1:])}")
    g, r = high_band_power(generated), high_band_power(real)
    hb = {name: float(g[i] / r[i]) if r[i] > 0 else float("inf") for i, name in enumerate(CHANNELS)}
    tv_r = total_variation(real)
    return ArtifactRatios(hb, total_variation(generated) / tv_r if tv_r > 0 else float("inf"))


def reconstruction_quality(recon: Tensor, target: Tensor) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM over image pairs, on [0, 1] images (scikit-image)."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    if recon.shape != target.shape:
        raise ValueError(f"shapes differ: {tuple(recon.shape)} vs {tuple(target.shape)}")
    a = _unit(recon).permute(0, 2, 3, 1).numpy()
    b = _unit(target).permute(0, 2, 3, 1).numpy()
    psnr, ssim = [], []
    win = min(7, *[s if s % 2 else s - 1 for s in a.shape[1:3]])
    for ra, rb in zip(a, b):
        mse = float(np.mean((ra - rb) ** 2))
        psnr.append(100.0 if mse == 0 else peak_signal_noise_ratio(rb, ra, data_range=1.0))
        ssim.append(structural_similarity(rb, ra, data_range=1.0, channel_axis=2, win_size=win))
    return {"psnr_db": float(np.mean(psnr)), "ssim": float(np.mean(ssim)),
            "mse": float(np.mean((a - b) ** 2))}
