"""MAP search of the model's latent code for an image known only in part.

Given what is known of an image — its low band (superres) or its pixels outside a hole
(inpaint) — find z* = argmin_z misfit(G(z, c)) + ½‖z‖², where misfit is −log p(known | G(z, c))
up to a constant and ½‖z‖² is −log N(0, I), the prior Eq. 5's KL pulls E's codes towards.
E alone cannot do this well: it was trained on whole, sharp photos, and a blurred or holed image
is unlike any of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch

from cvaegan.session import Session


@contextlib.contextmanager
def frozen(net: torch.nn.Module) -> Iterator[None]:
    """Gradients flow through `net` to its input but not into its weights."""
    flags = [p.requires_grad for p in net.parameters()]
    for p in net.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(net.parameters(), flags):
            p.requires_grad_(f)


def gaussian_misfit(known: torch.Tensor, noise: float,
                    view: Callable[[torch.Tensor], torch.Tensor] = lambda x: x,
                    weight: torch.Tensor | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """Per-image ‖weight⊙(view(x) − known)‖² / (2 noise²): `known` seen through `view` with
    Gaussian noise of σ = `noise` on [−1, 1] pixels; `weight` (0/1) marks the pixels that count."""
    def misfit(x: torch.Tensor) -> torch.Tensor:
        r = view(x) - known
        if weight is not None:
            r = r * weight
        return r.pow(2).flatten(1).sum(1) / (2 * noise ** 2)
    return misfit


def fit_latent(loaded: Session, c: torch.Tensor, z0: torch.Tensor,
               misfit: Callable[[torch.Tensor], torch.Tensor], steps: int = 100,
               lr: float = 0.05) -> torch.Tensor:
    """z* = argmin misfit(G(z, c)) + ½‖z‖² by Adam from z0, per image (the sum over images
    separates, so a batch is N independent searches). G stays in eval mode with frozen weights."""
    m = loaded.model
    z = z0.detach().clone().float().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    with frozen(m.G), torch.enable_grad():
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            with loaded.autocast():
                x = m.G(z, c)[0]
            (misfit(x.float()) + 0.5 * z.pow(2).sum(1)).sum().backward()
            opt.step()
    return z.detach()
