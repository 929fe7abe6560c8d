"""One training step of the open-set identity-swap model (Bao, Chen, Wen, Li, Hua, CVPR 2018, §3).

The shipped text of the paper is a press article without equations, so the terms are named after
the paper's losses, not numbered. On a pair (x_s, x_a) — identity source, attributes source:

    f_I = I(x_s)'s feature (detached: G reads it, never trains I; G takes its direction at
          norm √d, `networks.identity_vector`),  z_A ~ q(z|x_a) = A(x_a)
    x' = G(f_I, z_A)
    L_I    −log P(y_s | x_s), I's softmax over the training identities      (identity encoder)
    L_C    the same for a separate C (`openset-c`); in `openset` C is I and L_C is L_I
    L_KL   KL(q(z_A|x_a) ‖ N(0, I))                                           (attribute encoder)
    L_D    −log D(x_a) − log(1 − D(x'))                                        (discriminator)
    L_GR   w · ½‖x_a − x'‖²,  w = 1 when s and a are one person, λ = 0.1 when not
    L_GD   ½‖f_D(x_a) − f_D(x')‖²          pairwise mean feature matching on D (CVAE-GAN's Eq. 6 part)
    L_GC   ½‖f_C(x_s) − f_C(x')‖²          pairwise feature matching on C: x' keeps s's identity

The asymmetry of CVAE-GAN: D and C are trained with cross-entropy, G (and A) only by feature
matching on their features, never by a −log D(x') term. Each network gets its own objective and
nothing else (`apply_updates`):

    I    ←  L_I
    C    ←  L_C                                           (`openset-c` only)
    D    ←  L_D
    G, A ←  λ_KL L_KL + λ_GR L_GR + λ_GD L_GD + λ_GC L_GC

Pairs: the data layer gives half same-person pairs (two images of one person) and half pairs of two
people; a share `self_pairs` of them is turned into x_a = x_s here, the plain reconstruction.

Which terms need identity labels: only L_I and L_C (and the weight w, which needs to know whether
s and a are one person). Images without labels can join as self pairs (x_a = x_s, w = 1) through
L_KL, L_GR, L_D, L_GD and L_GC, whose targets are images and features, not labels; the data layer
does not feed such images yet.

Real and generated batches go through D and C as separate batches (batch norm over a
concatenation would couple them), and C's forward on x' does not move its batch-norm statistics.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from cvaegan.core import losses as L
from cvaegan.core.updates import StepLosses, apply_updates, frozen_bn_statistics, make_optimizers, reparameterize
from cvaegan.families.openset.config import GENERATOR
from cvaegan.families.openset.model import OpenSet
from cvaegan.families.openset.networks import identity_vector


def train_step(model: OpenSet, optimizers: dict[str, torch.optim.Optimizer], x_s: Tensor, y_s: Tensor,
               x_a: Tensor, y_a: Tensor, generator: torch.Generator,
               autocast: contextlib.AbstractContextManager | None = None,
               sync_grads: Callable[[], None] | None = None) -> dict[str, Tensor]:
    """One step on identity sources x_s (N, 3, R, R) of people y_s and attribute sources x_a of
    people y_a. Returns detached loss terms (no host sync)."""
    with autocast or contextlib.nullcontext():
        step = openset_losses(model, x_s, y_s, x_a, y_a, generator)
    apply_updates(model, optimizers, step.objectives, sync_grads)
    return step.logs


def openset_losses(m: OpenSet, x_s: Tensor, y_s: Tensor, x_a: Tensor, y_a: Tensor,
                   gen: torch.Generator) -> StepLosses:
    lam = m.cfg.loss
    b = x_s.shape[0]
    own = torch.rand(b, generator=gen, device=x_s.device) < lam.self_pairs      # x_a = x_s
    x_a = torch.where(own[:, None, None, None], x_s, x_a)
    y_a = torch.where(own, y_s, y_a)
    same = y_s == y_a

    logits_s, f_s = m.I(x_s)
    l_i = F.cross_entropy(logits_s.float(), y_s)                                 # L_I
    mu, logvar = m.A(x_a)
    l_kl = L.loss_kl(mu, logvar)                                                 # L_KL
    z = reparameterize(mu, logvar, gen)
    x_f, _ = m.G(z, identity_vector(f_s.detach()))                               # x' = G(f_I(x_s), z_A)
    (d_r, fd_r), (d_f, fd_f) = m.D(x_a), m.D(x_f)
    l_d = L.loss_d(d_r, d_f)                                                     # L_D
    w = torch.where(same, 1.0, lam.other_weight)
    sq = 0.5 * L.sq_norm(x_a - x_f)                                              # ½‖x_a − x'‖² per pair
    l_gr = (w * sq).mean()                                                       # L_GR
    l_gd = 0.5 * L.sq_norm(fd_r.detach() - fd_f).mean()                          # L_GD
    objectives = {"I": l_i}
    terms = {"loss_i": l_i}
    if m.cfg.shared_c:
        fc_s = f_s
    else:
        logits_c, fc_s = m.C(x_s)
        l_c = F.cross_entropy(logits_c.float(), y_s)                             # L_C
        objectives["C"], terms["loss_c"] = l_c, l_c
    with frozen_bn_statistics(m.C):
        _, fc_f = m.C(x_f)
    if lam.gc_direction:                                                         # compare directions
        fc_s, fc_f = identity_vector(fc_s), identity_vector(fc_f)
    l_gc = 0.5 * L.sq_norm(fc_s.detach() - fc_f).mean()                          # L_GC
    objectives["D"] = l_d
    objectives[GENERATOR] = (lam.lambda_kl * l_kl + lam.lambda_rec * l_gr + lam.lambda_gd * l_gd
                             + lam.lambda_gc * l_gc)
    terms.update({"loss_kl": l_kl, "loss_d": l_d, "loss_gr": l_gr, "loss_gd": l_gd, "loss_gc": l_gc})
    sq, sf = sq.detach(), same.float()
    extras = {"acc_i": (logits_s.argmax(1) == y_s).float().mean(),        # I names the training people
              "g_img_same": (sq * sf).sum() / sf.sum().clamp_min(1),      # ½‖x_a − x'‖², one person
              "g_img_other": (sq * (1 - sf)).sum() / (1 - sf).sum().clamp_min(1),  # … two people
              "d_real": torch.sigmoid(d_r.float()).mean(), "d_fake": torch.sigmoid(d_f.float()).mean()}
    return StepLosses(objectives, terms, extras)
