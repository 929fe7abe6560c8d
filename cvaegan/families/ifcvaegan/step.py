"""One training step of IFcVAE-GAN (Creswell & Mohamied 2017, §3 "Information factorisation").

The loss terms, by the paper's names (the shipped text of the paper is a review without the
equations, so the terms are named, not numbered):

    E(x) = (q(z|x), ŷ),  z ~ q(z|x),  x̂ = G(z, ŷ),  x_p = G(z_p, y_p), z_p ~ N(0, I)
    L_KL        KL(q(z|x) ‖ N(0, I))                                   the VAE prior term
    L_rec       ½‖x − x̂‖² + s·½‖f_D(x) − f_D(x̂)‖²                      VAE-GAN reconstruction
    L_gan       −log D(x) − log(1 − D(x̂)) − log(1 − D(x_p))            D's objective
    L_gan^G     −log D(x̂) − log D(x_p)                                 G's (non-saturating) side
    L_class     BCE(ŷ(x), y)                                            E as attribute classifier
    L_class^G   BCE(ŷ(x̂), y) + BCE(ŷ(x_p), y_p)                        G must draw y
    L_aux       BCE(A(z), y)                                            the auxiliary network

  and, only with `lambda_class_edit` > 0 (an option, off by default; NOT in the paper; see
  `IFLossConfig`):

    x_e = G(z, y_e), y_e = ŷ with one attribute per image flipped       a training edit
    L_class^E   BCE(ŷ(x_e), y_e)                                        G must draw an edit
    L_gan, L_gan^G  gain the terms −log(1 − D(x_e)) and −log D(x_e)     D sees edits as fakes

Each network receives the gradient of its own objective and nothing else (`apply_updates`):

    A  ←  L_aux                                       A learns to read y from z
    D  ←  L_gan
    E  ←  λ_KL L_KL + λ_rec L_rec + λ_class L_class − α L_aux     E makes A fail: z loses y
    G  ←  λ_rec L_rec + λ_gan L_gan^G + λ_class_gen L_class^G  (+ λ_class_edit L_class^E)

Two choices the paper leaves open, made so that edits work:
  * L_class^G is read by E's classifier head but updates G ONLY: its gradient flows through x̂
    and x_p into G (the public code detaches x̂ here, and G then ignores y: its edits do nothing),
    while E's weights learn to classify real images alone — E trained on G's output could agree
    with G on a code no one else sees.
  * Prior samples take y_p from the attribute vectors of OTHER images of the batch (a random
    permutation): the data's joint attribute distribution, not each image's own label, and not
    independent coin flips (D is unconditional: 50 % eyeglasses among fakes against 6 % among
    real faces would teach D that eyeglasses mean fake).

Real, reconstructed and prior batches go through D and E as separate batches (batch norm over a
concatenation would couple them), and E's forward on fakes does not move its batch-norm
statistics (`frozen_bn_statistics`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from cvaegan.core import losses as L
from cvaegan.core.updates import StepLosses, apply_updates, frozen_bn_statistics, make_optimizers, reparameterize
from cvaegan.families.ifcvaegan.model import IFCVAEGAN


def train_step(model: IFCVAEGAN, optimizers: dict[str, torch.optim.Optimizer], x: Tensor, y: Tensor,
               generator: torch.Generator, autocast: contextlib.AbstractContextManager | None = None,
               sync_grads: Callable[[], None] | None = None) -> dict[str, Tensor]:
    """One step on images x (N, 3, R, R) with attribute vectors y (N, A) of 0/1. Returns detached
    loss terms (no host sync)."""
    with autocast or contextlib.nullcontext():
        step = ifcvaegan_losses(model, x, y, generator)
    apply_updates(model, optimizers, step.objectives, sync_grads)
    return step.logs


def ifcvaegan_losses(m: IFCVAEGAN, x: Tensor, y: Tensor, gen: torch.Generator) -> StepLosses:
    lam = m.cfg.loss
    y = y.float()
    b = x.shape[0]
    (mu, logvar), logits_y, _ = m.E(x)                                   # E(x) → q(z|x), ŷ
    l_class = L.loss_bce_attributes(logits_y, y)                        # L_class
    z = reparameterize(mu, logvar, gen)
    l_kl = L.loss_kl(mu, logvar)                                         # L_KL
    y_hat = torch.sigmoid(logits_y)
    x_rec, _ = m.G(z, y_hat)                                             # x̂ = G(z, ŷ)
    z_p = torch.randn(b, m.latent_dim, generator=gen, device=x.device)
    y_p = y[torch.randperm(b, generator=gen, device=x.device)]          # y_p: other images' attributes
    with frozen_bn_statistics(m.G):  # G's running statistics: reconstructions' only, as CVAE-GAN's
        x_p, _ = m.G(z_p, y_p)                                           # x_p = G(z_p, y_p)
    fakes = [x_rec, x_p]
    edit = lam.lambda_class_edit > 0
    if edit:  # a training edit: E's code with one attribute flipped (not in the paper; see above)
        y_e = flip_one_attribute(y_hat.detach().float(), gen)
        with frozen_bn_statistics(m.G):
            x_e, _ = m.G(z.detach(), y_e)                               # x_e = G(z, y_e)
        fakes.append(x_e)
    (d_r, fd_r), (d_f, fd_f), (d_p, _), *d_edit = [m.D(v) for v in (x, *fakes)]
    d_fakes = [d_f, d_p] + [d for d, _ in d_edit]
    l_gan = L.loss_d(d_r, *d_fakes)                                      # L_gan (D)
    l_gan_g = sum(F.softplus(-d.float()).mean() for d in d_fakes)        # L_gan^G
    l_rec, parts = L.loss_g_pairwise(x, x_rec, fd_r, fd_f, None, None,  # L_rec
                                     scale_d=lam.feature_scale)
    with frozen_bn_statistics(m.E):
        _, logits_rec, _ = m.E(x_rec)
        _, logits_p, _ = m.E(x_p)
        logits_e = m.E(x_e)[1] if edit else None
    l_class_g = L.loss_bce_attributes(logits_rec, y) + L.loss_bce_attributes(logits_p, y_p)  # L_class^G
    logits_a = m.A(z)
    l_aux = L.loss_bce_attributes(logits_a, y)                          # L_aux
    objectives = {
        "A": l_aux,
        "D": l_gan,
        "E": lam.lambda_kl * l_kl + lam.lambda_rec * l_rec + lam.lambda_class * l_class - lam.lambda_aux * l_aux,
        "G": lam.lambda_rec * l_rec + lam.lambda_gan * l_gan_g + lam.lambda_class_gen * l_class_g,
    }
    terms = {"loss_kl": l_kl, "loss_rec": l_rec, "loss_d": l_gan, "loss_gan_g": l_gan_g,
             "loss_class": l_class, "loss_class_g": l_class_g, "loss_aux": l_aux}
    extras = {}
    if edit:
        l_class_e = L.loss_bce_attributes(logits_e, y_e)                # L_class^E
        objectives["G"] = objectives["G"] + lam.lambda_class_edit * l_class_e
        terms["loss_class_edit"] = l_class_e
        extras["acc_e_edit"] = _accuracy(logits_e, y_e)  # E reads the training edits as asked
    extras |= {"g_img": parts["g_img"], "g_fd": parts["g_fd"],
               "acc_e": _accuracy(logits_y, y),        # E reads the attributes of real images
               "acc_e_rec": _accuracy(logits_rec, y),  # … and of reconstructions: G draws ŷ
               "acc_e_prior": _accuracy(logits_p, y_p),  # … and of prior samples: G draws y_p
               "acc_a": _accuracy(logits_a, y),        # A reads y from z: low is factorised
               "d_real": torch.sigmoid(d_r.float()).mean(), "d_fake": torch.sigmoid(d_p.float()).mean()}
    return StepLosses(objectives, terms, extras)


def flip_one_attribute(y_soft: Tensor, gen: torch.Generator) -> Tensor:
    """E's reading ŷ (N, A) in [0, 1] with one attribute per image, drawn uniformly, set to the
    hard value opposite to ŷ's (1 where ŷ < ½, else 0): the single-attribute edit `cvaegan edit`
    makes, with the other attributes left at E's reading."""
    j = torch.randint(0, y_soft.shape[1], (y_soft.shape[0],), generator=gen, device=y_soft.device)
    rows = torch.arange(y_soft.shape[0], device=y_soft.device)
    out = y_soft.clone()
    out[rows, j] = (y_soft[rows, j] < 0.5).to(out.dtype)
    return out


def _accuracy(logits: Tensor, y: Tensor) -> Tensor:
    return ((logits.float() > 0) == (y > 0.5)).float().mean()
