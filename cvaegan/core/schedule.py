"""The learning-rate schedule of a training run: constant, then a linear decay to zero over the
last share of the run ("warmup-stable-decay" without the warm-up).

Why this shape: a run on a CPU budget ends where the budget ends, not at convergence, and Adam at
a constant rate leaves the weights jittering around the point they would settle at; lowering the
rate over the last part lets them settle, which a reconstruction's PSNR sees directly. A
schedule that is constant until its last share works for a budget of steps and of minutes alike,
since it only needs to know how far the run is (README "Image fidelity" has the measurements).
Not in CVAE-GAN's paper; every network gets the same factor, so the balance of E, G, D and C
that Algorithm 1 sets is kept.
"""

from __future__ import annotations

import torch

# The default decayed share of the families where it was measured (README "Image fidelity").
LR_DECAY = 0.3


def decay_factor(progress: float, decay: float) -> float:
    """The factor on every base learning rate at `progress` ∈ [0, 1] of the run: 1 until
    1 − `decay`, then linear to 0 at the end. `decay` = 0: constant."""
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"the decayed share of the run must be in [0, 1], got {decay!r}")
    if decay == 0.0:
        return 1.0
    return min(1.0, max(0.0, (1.0 - progress) / decay))


class LRDecay:
    """Sets every optimiser's rates to base × `decay_factor(progress, decay)`. The base rates are
    read when it is made, so make it before a resumed run's optimiser state is loaded (that state
    holds the rates of the step it was saved at, already decayed)."""

    def __init__(self, optimizers: dict[str, torch.optim.Optimizer], decay: float):
        decay_factor(0.0, decay)  # validate
        self.decay = decay
        self.optimizers = optimizers
        self.base = {name: [g["lr"] for g in opt.param_groups] for name, opt in optimizers.items()}

    def apply(self, progress: float) -> float:
        """Set the rates for `progress`; returns the factor."""
        f = decay_factor(progress, self.decay)
        for name, opt in self.optimizers.items():
            for group, base in zip(opt.param_groups, self.base[name]):
                group["lr"] = base * f
        return f
