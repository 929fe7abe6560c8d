"""One training step of the Stylized Adversarial Autoencoder (SAAE, §2.2 and §2.4).

The loss terms (the shipped text gives D's binary objective as its only equation, §2.2):

    x̂ = G(c, s) = Dec(Enc_c(c), Enc_s(s))   c: the class's content image, s: a style image
    L_rec    ½‖x − x̂‖²                        x: the class drawn in s's style (ground truth)
    L_D      multi  (§2.2, "multi-class classifier as discriminator"):
                    CE(D(x), y) + CE(D(x̂), k+1)     real → its class, generated → class k+1
             binary (§2.2's L_dis): −log D(x) − log(1 − D(x̂))
    L_adv    multi  CE(D(x̂), y): G makes D put its output in the content's class
             binary −log D(x̂) (non-saturating)

Each network receives the gradient of its own objective and nothing else (`apply_updates`):

    D            ←  L_D
    Enc_c+Enc_s+Dec  ←  λ_rec L_rec + λ_adv L_adv

and the three-step schedule (config) switches objectives on by stage: 1 — G ← λ_rec L_rec only;
2 — D ← L_D only; 3 — both. Every stage logs the same keys (zeros for what it does not compute),
so the training loop's log averages stay well defined across a stage change.

The style image of x is ANOTHER image of x's style group showing another class (the batch's
`x_pair`, `DeviceBatches.style_partners`): were s = x, Enc_s could carry x's content and G would
learn to copy the style image; at test time the style image shows some other character.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from cvaegan.core import losses as L
from cvaegan.core.updates import StepLosses, apply_updates, make_optimizers
from cvaegan.families.saae.config import GENERATOR
from cvaegan.families.saae.model import SAAE


def train_step(model: SAAE, optimizers: dict[str, torch.optim.Optimizer], x: Tensor, y: Tensor, style: Tensor,
               autocast: contextlib.AbstractContextManager | None = None,
               sync_grads: Callable[[], None] | None = None) -> dict[str, Tensor]:
    """One step on targets x (N, 3, R, R) of classes y (N,) with style images `style`. Returns
    detached loss terms (no host sync)."""
    stage = model.cfg.loss.stage(model.step)
    with autocast or contextlib.nullcontext():
        step = saae_losses(model, x, y, style, stage)
    apply_updates(model, optimizers, step.objectives, sync_grads)
    model.count_step()
    return step.logs


def saae_losses(m: SAAE, x: Tensor, y: Tensor, style: Tensor, stage: int) -> StepLosses:
    lam = m.cfg.loss
    content = m.contents[y].to(x.dtype)
    x_hat = m.forward_g(content, style)                                   # x̂ = G(c, s)
    l_rec = 0.5 * L.sq_norm(x - x_hat).mean()                             # L_rec
    zero = x.new_zeros((), dtype=torch.float32)
    l_d = l_adv = acc_real = acc_fake = zero
    if stage > 1:
        logit_r, _ = m.D(x)
        logit_f, _ = m.D(x_hat)
        if lam.discriminator == "multi":
            fake = torch.full_like(y, m.num_classes)
            l_d = F.cross_entropy(logit_r.float(), y) + F.cross_entropy(logit_f.float(), fake)  # L_D (multi)
            l_adv = F.cross_entropy(logit_f.float(), y)                                      # L_adv (multi)
            acc_real = (logit_r.argmax(1) == y).float().mean()    # D names the real image's class
            acc_fake = (logit_f.argmax(1) == y).float().mean()    # D reads x̂ as its content's class
        else:
            l_d = L.loss_d(logit_r.squeeze(1), logit_f.squeeze(1))                          # L_D (binary)
            l_adv = F.softplus(-logit_f.float()).mean()                                      # L_adv (binary)
            acc_real = (logit_r > 0).float().mean()
            acc_fake = (logit_f > 0).float().mean()
    objectives: dict[str, Tensor] = {}
    if stage >= 2:
        objectives["D"] = l_d
    if stage != 2:
        objectives[GENERATOR] = lam.lambda_rec * l_rec + (lam.lambda_adv * l_adv if stage == 3 else 0.0)
    terms = {"loss_rec": l_rec, "loss_d": l_d, "loss_adv": l_adv}
    extras = {"stage": zero + stage, "d_acc_real": acc_real, "d_acc_fake": acc_fake,
              "mse": (x.float() - x_hat.float()).pow(2).mean()}
    return StepLosses(objectives, terms, extras)
