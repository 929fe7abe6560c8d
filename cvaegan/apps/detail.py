"""Keeping the photo's detail in an attribute edit.

The paper's edit is x'_a = G(μ(x), y'): every pixel is redrawn by G, so the whole face takes G's
blur, even where the attribute has nothing to do (a smile redraws the eyes and the hair). The
reconstruction x̂ = G(μ(x), ŷ(x)) misses the same detail: r = x − x̂ is what G cannot draw of
this photo. Adding it back where the edit changes nothing keeps the photo there:

    x'' = x'_a + w ⊙ r,    w = clamp(1 − |x'_a − x̂| / τ, 0, 1),    τ = RMS(r)

|x'_a − x̂| (largest over colour channels, grown by one pixel) is what the edit changes. Where it
is small against G's own error τ, w ≈ 1 and x'' ≈ x + (x'_a − x̂): the photo plus the edit's small
change. Where the edit draws something new (glasses, teeth), w = 0 and x'' = x'_a: the old
content's detail (the frames being removed) is not carried into the new. With `masked=False`,
w = 1 everywhere: the plain residual x + (x'_a − x̂).

This is not in the paper (it changes no network and no loss: it is what the command does with
G's output); `evaluate` reports the paper's edit and this one side by side.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def detail_weight(x: torch.Tensor, recon: torch.Tensor, edited: torch.Tensor) -> torch.Tensor:
    """w (N, 1, H, W) in [0, 1]: 1 where the edit changes less than G's own error, 0 where it
    changes at least that much."""
    change = F.max_pool2d((edited - recon).abs().amax(1, keepdim=True).float(), 3, 1, 1)
    tau = (x - recon).float().pow(2).mean((1, 2, 3), keepdim=True).sqrt().clamp_min(1e-3)
    return (1.0 - change / tau).clamp(0.0, 1.0)


def keep_detail(x: torch.Tensor, recon: torch.Tensor, edited: torch.Tensor, masked: bool = True) -> torch.Tensor:
    """x, its reconstruction x̂ and its edit x'_a, (N, 3, H, W) in [-1, 1] → x'_a + w ⊙ (x − x̂),
    clamped to [-1, 1] (module doc). An edit that changes nothing gives x back."""
    r = (x - recon).float()
    w = detail_weight(x, recon, edited) if masked else 1.0
    return (edited.float() + w * r).clamp(-1.0, 1.0)
