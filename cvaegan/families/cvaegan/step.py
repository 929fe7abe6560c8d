"""One training step of CVAE-GAN, exactly Algorithm 1 lines 2–18, plus the paper's baselines.

Read `cvaegan_losses` (lines 2–14) and `apply_updates` (lines 15–18) side by side with the paper.
Each network's parameters receive the gradient of its own objective and nothing else:

    line 15  θ_C ← ∇ L_C                         (Eq. 3)
    line 16  θ_D ← ∇ L_D                         (Eq. 1, real vs. x_f and x_p)
    line 17  θ_G ← ∇ (λ2 L_G + λ3 L_GD + λ4 L_GC) (Eqs. 6, 2, 4)
    line 18  θ_E ← ∇ (λ1 L_KL + λ2 L_G)           (Eqs. 5, 6)

This is done with `torch.autograd.backward(loss, inputs=params)`, which accumulates a loss's
gradient into the named parameters only, over one shared forward graph (lines 2–14 run each
network once per batch). Lines 17 and 18 share one backward pass of
λ1 L_KL + λ2 L_G + λ3 L_GD + λ4 L_GC into θ_G ∪ θ_E: L_KL does not depend on θ_G, and L_GD, L_GC
(computed on prior samples x_p = G(z_p, c_p)) do not depend on θ_E, so each network receives
exactly its line's gradient (tests/test_routing.py checks it).

That independence holds only because real, reconstructed and prior batches go through G, D and C
as SEPARATE batches (the DCGAN convention): batch norm over a concatenated batch would couple
x_p's features to x_f's and so leak E into L_GD/L_GC, which the routing test detects.

G's batch-norm running statistics (what G normalises with in eval mode: reconstruct, sample,
morph, inpaint, superres) are taken from the reconstruction batches only. Prior codes z_p drive
G's layers to other statistics than E's codes do, so running averages over both batches fit
neither kind of input (README, "Image fidelity", measures what that cost).

Baselines through the same networks and losses (§5.1, Table 1):
  cvae    E, G:    λ1 L_KL + λ2 ½‖x − x'‖²
  cgan    C: L_C; D: Eq. 1 (real vs. x_p); G: the symmetric cross-entropies −log D(x_p) − log P(c_p|x_p)
  fmcgan  C: L_C; D: Eq. 1 (real vs. x_p); G: λ3 L_GD + λ4 L_GC (mean feature matching, §3.2)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
from torch import Tensor

from cvaegan.core import losses as L
from cvaegan.core.centres import Reduce
from cvaegan.core.updates import StepLosses, apply_updates, frozen_bn_statistics, make_optimizers, reparameterize
from cvaegan.families.cvaegan.model import CVAEGAN


def train_step(model: CVAEGAN, optimizers: dict[str, torch.optim.Optimizer], x_r: Tensor, y_r: Tensor,
               generator: torch.Generator, autocast: contextlib.AbstractContextManager | None = None,
               reduce: Reduce | None = None, sync_grads: Callable[[], None] | None = None,
               ) -> dict[str, Tensor]:
    """One step of the configured model. Returns detached loss terms (no host sync).

    Data-parallel hooks: `reduce` sums the feature-centre statistics over processes, and
    `sync_grads` averages gradients over processes between backward and the optimiser step.
    """
    with autocast or contextlib.nullcontext():
        step = LOSSES_OF[model.cfg.model.model](model, x_r, y_r, generator, reduce)
    apply_updates(model, optimizers, step.objectives, sync_grads)
    return step.logs


def cvaegan_losses(m: CVAEGAN, x_r: Tensor, y_r: Tensor, gen: torch.Generator,
                   reduce: Reduce | None = None) -> StepLosses:
    """Algorithm 1, lines 2–14."""
    lam = m.cfg.loss
    b = x_r.shape[0]
    c_r = m.class_vector(y_r)                                            # 2: {x_r, c_r} ~ P_r
    logits_r, fc_r = m.C(x_r)
    l_c = L.loss_c(logits_r, c_r)                                        # 3: L_C, Eq. 3
    (mu, logvar), _ = m.E(x_r, c_r)                                      # 4: z ~ E(x_r, c_r)
    z = reparameterize(mu, logvar, gen)
    l_kl = L.loss_kl(mu, logvar, lam.kl_reduction)                       # 5: L_KL, Eq. 5
    z_p, y_p = sample_prior(m, b, gen, x_r.device)                       # 7: z_p ~ N(0, I), c_p ~ U{1..K}
    c_p = m.class_vector(y_p)
    x_f, _ = m.G(z, c_r)                                                 # 6: x_f = G(z, c_r)
    with frozen_bn_statistics(m.G):  # G's running statistics: reconstructions' only (module doc)
        x_p, _ = m.G(z_p, c_p)                                           # 8: x_p = G(z_p, c_p)
    (d_r, fd_r), (d_f, fd_f), (d_p, fd_p) = m.D(x_r), m.D(x_f), m.D(x_p)
    l_d = L.loss_d(d_r, d_f, d_p)                                        # 9: L_D, Eq. 1
    with frozen_bn_statistics(m.C):  # fakes must not shift C's running statistics of real images
        (_, fc_f), (_, fc_p) = m.C(x_f), m.C(x_p)
    centre_r, centre_p = m.centres.update_d(fd_r, fd_p, reduce)          # 10: f_D centres (moving avg.)
    l_gd = L.loss_gd(centre_r, centre_p, lam.feature_reduction)          # 11: L_GD, Eq. 2
    centres_r, centres_p, valid = m.centres.update_c(fc_r, y_r, fc_p, y_p, reduce)  # 12: per-class f_C centres
    l_gc = L.loss_gc(centres_r, centres_p, valid, lam.feature_reduction)  # 13: L_GC, Eq. 4
    l_g, parts = L.loss_g_pairwise(                                      # 14: L_G, Eq. 6
        x_r, x_f,
        fd_r if lam.pair_d else None, fd_f if lam.pair_d else None,
        fc_r if lam.pair_c else None, fc_f if lam.pair_c else None,
        pixel=lam.pixel, pixel_reduction=lam.pixel_reduction, feature_reduction=lam.feature_reduction,
        scale_d=lam.pair_d_scale, scale_c=lam.pair_c_scale)
    objectives = {
        "C": l_c,                                                        # 15
        "D": l_d,                                                        # 16
        "G+E": lam.lambda_kl * l_kl + lam.lambda_g * l_g                 # 17 + 18 (see module doc)
        + lam.lambda_gd * l_gd + lam.lambda_gc * l_gc,
    }
    terms = {"loss_c": l_c, "loss_d": l_d, "loss_kl": l_kl, "loss_g": l_g, "loss_gd": l_gd, "loss_gc": l_gc}
    return StepLosses(objectives, terms, {**parts, **_diagnostics(d_r, d_p, logits_r, y_r)})


def cvae_losses(m: CVAEGAN, x_r: Tensor, y_r: Tensor, gen: torch.Generator,
                reduce: Reduce | None = None) -> StepLosses:
    lam = m.cfg.loss
    c_r = m.class_vector(y_r)
    (mu, logvar), _ = m.E(x_r, c_r)
    x_f, _ = m.G(reparameterize(mu, logvar, gen), c_r)
    l_kl = L.loss_kl(mu, logvar, lam.kl_reduction)                       # Eq. 5
    l_g, parts = L.loss_g_pairwise(x_r, x_f, None, None, None, None,     # Eq. 6, pixel term only
                                   pixel_reduction=lam.pixel_reduction)
    return StepLosses({"G+E": lam.lambda_kl * l_kl + lam.lambda_g * l_g}, {"loss_kl": l_kl, "loss_g": l_g}, parts)


def cgan_losses(m: CVAEGAN, x_r: Tensor, y_r: Tensor, gen: torch.Generator,
                reduce: Reduce | None = None) -> StepLosses:
    b = x_r.shape[0]
    logits_r, _ = m.C(x_r)
    l_c = L.loss_c(logits_r, m.class_vector(y_r))                        # Eq. 3
    z_p, y_p = sample_prior(m, b, gen, x_r.device)
    c_p = m.class_vector(y_p)
    x_p, _ = m.G(z_p, c_p)
    (d_r, _), (d_p, _) = m.D(x_r), m.D(x_p)
    l_d = L.loss_d(d_r, d_p)                                             # Eq. 1
    with frozen_bn_statistics(m.C):
        logits_p, _ = m.C(x_p)
    l_gd = L.loss_gd_prime(d_p)                                          # §3.1 L'_GD
    l_gc = L.loss_c(logits_p, c_p)                                       # Eq. 3 applied to G (symmetric)
    terms = {"loss_c": l_c, "loss_d": l_d, "loss_gd": l_gd, "loss_gc": l_gc}
    return StepLosses({"C": l_c, "D": l_d, "G": l_gd + l_gc}, terms, _diagnostics(d_r, d_p, logits_r, y_r))


def fmcgan_losses(m: CVAEGAN, x_r: Tensor, y_r: Tensor, gen: torch.Generator,
                  reduce: Reduce | None = None) -> StepLosses:
    lam = m.cfg.loss
    b = x_r.shape[0]
    logits_r, fc_r = m.C(x_r)
    l_c = L.loss_c(logits_r, m.class_vector(y_r))                        # Eq. 3
    z_p, y_p = sample_prior(m, b, gen, x_r.device)
    x_p, _ = m.G(z_p, m.class_vector(y_p))
    (d_r, fd_r), (d_p, fd_p) = m.D(x_r), m.D(x_p)
    l_d = L.loss_d(d_r, d_p)                                             # Eq. 1
    with frozen_bn_statistics(m.C):
        _, fc_p = m.C(x_p)
    l_gd = L.loss_gd(*m.centres.update_d(fd_r, fd_p, reduce), lam.feature_reduction)            # Eq. 2
    l_gc = L.loss_gc(*m.centres.update_c(fc_r, y_r, fc_p, y_p, reduce), lam.feature_reduction)  # Eq. 4
    terms = {"loss_c": l_c, "loss_d": l_d, "loss_gd": l_gd, "loss_gc": l_gc}
    return StepLosses({"C": l_c, "D": l_d, "G": lam.lambda_gd * l_gd + lam.lambda_gc * l_gc}, terms,
                      _diagnostics(d_r, d_p, logits_r, y_r))


LOSSES_OF = {"cvaegan": cvaegan_losses, "cvae": cvae_losses, "cgan": cgan_losses, "fmcgan": fmcgan_losses}


def sample_prior(m: CVAEGAN, n: int, gen: torch.Generator, device: torch.device) -> tuple[Tensor, Tensor]:
    """Algorithm 1 line 7: z_p ~ N(0, I) and classes c_p drawn uniformly, not the batch's labels."""
    z = torch.randn(n, m.latent_dim, generator=gen, device=device)
    y = torch.randint(0, m.num_classes, (n,), generator=gen, device=device)
    return z, y


def _diagnostics(d_r: Tensor, d_p: Tensor, logits_r: Tensor, y_r: Tensor) -> dict[str, Tensor]:
    """Mean D(x_r), mean D(x_p) and C's accuracy on the real batch."""
    return {"d_real": torch.sigmoid(d_r.float()).mean(), "d_fake": torch.sigmoid(d_p.float()).mean(),
            "acc_c": (logits_r.argmax(1) == y_r).float().mean()}
