"""The loss terms of CVAE-GAN, one function per equation of Bao et al. 2017.

Reduction convention (see `LossConfig`): ‖·‖² sums over pixels / feature dimensions ("sum", the
default; "mean" averages over them instead); E[·] is a mean over the batch. All functions compute
in float32 whatever the autocast dtype.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def sq_norm(x: Tensor, reduction: str = "sum") -> Tensor:
    """‖x‖² per sample: the sum ("sum") or mean ("mean") of squares over every dimension but the
    batch one."""
    sq = x.float().pow(2).flatten(1)
    return sq.mean(1) if reduction == "mean" else sq.sum(1)


def loss_d(logit_real: Tensor, *logits_fake: Tensor) -> Tensor:
    """Eq. 1, as Algorithm 1 line 9: −(log D(x_r) + Σ_fake log(1 − D(x_fake))), batch-averaged.

    D is a sigmoid unit, so log D = −softplus(−logit) and log(1 − D) = −softplus(logit).
    With fakes (x_f, x_p) this is line 9; with (x_p,) alone it is the plain Eq. 1 of the GANs.
    """
    loss = F.softplus(-logit_real.float()).mean()
    for logit in logits_fake:
        loss = loss + F.softplus(logit.float()).mean()
    return loss


def loss_c(logits: Tensor, c: Tensor) -> Tensor:
    """Eq. 3: −E[log P(c|x)], softmax cross-entropy; `c` is a probability vector (one-hot or mix)."""
    return -(c.float() * F.log_softmax(logits.float(), dim=1)).sum(1).mean()


def loss_kl(mu: Tensor, logvar: Tensor, reduction: str = "sum") -> Tensor:
    """Eq. 5: KL(q(z|x,c) ‖ N(0, I)) = ½(μᵀμ + Σ(exp(ε) − ε − 1)), ε = log σ²; batch mean.
    reduction "mean" divides by the latent dimension (nats per dimension).

    Always ≥ 0 and zero only at μ = 0, ε = 0 (tested), which pins its sign.
    """
    mu, logvar = mu.float(), logvar.float()
    kl = 0.5 * (mu.pow(2).sum(1) + (logvar.exp() - logvar - 1).sum(1)).mean()
    return kl / mu.shape[1] if reduction == "mean" else kl


def loss_g_pairwise(x_r: Tensor, x_f: Tensor, fd_r: Tensor | None, fd_f: Tensor | None,
                    fc_r: Tensor | None, fc_f: Tensor | None,
                    pixel: bool = True, pixel_reduction: str = "sum", feature_reduction: str = "sum",
                    scale_d: float = 1.0, scale_c: float = 1.0) -> tuple[Tensor, dict[str, Tensor]]:
    """Eq. 6: ½(‖x − x'‖² + ‖f_D(x) − f_D(x')‖² + ‖f_C(x) − f_C(x')‖²), batch mean.

    The real side (x_r, f_D(x_r), f_C(x_r)) is a target: it is detached, so this loss reaches only
    the networks that produced x' = G(E(x_r, c_r), c_r). Pass None for a feature term (or
    pixel=False) to drop it, as in the §5.5 ablation. `scale_d`, `scale_c` weight the two feature
    parts inside the bracket. Returns the total and its three (unweighted) parts.
    """
    zero = x_f.new_zeros((), dtype=torch.float32)
    pr, fr = pixel_reduction, feature_reduction
    parts = {
        "g_img": 0.5 * sq_norm(x_r.detach() - x_f, pr).mean() if pixel else zero,
        "g_fd": 0.5 * sq_norm(fd_r.detach() - fd_f, fr).mean() if fd_r is not None and fd_f is not None else zero,
        "g_fc": 0.5 * sq_norm(fc_r.detach() - fc_f, fr).mean() if fc_r is not None and fc_f is not None else zero,
    }
    return parts["g_img"] + scale_d * parts["g_fd"] + scale_c * parts["g_fc"], parts


def loss_gd(centre_real: Tensor, centre_fake: Tensor, reduction: str = "sum") -> Tensor:
    """Eq. 2: ½‖E_x f_D(x) − E_z f_D(G(z))‖², on the moving-average centres of `FeatureCentres`."""
    return 0.5 * sq_norm((centre_real - centre_fake)[None], reduction)[0]


def loss_gc(centres_real: Tensor, centres_fake: Tensor, valid: Tensor, reduction: str = "sum") -> Tensor:
    """Eq. 4: ½ Σ_c ‖E_x f_C(x|c) − E_z f_C(G(z, c))‖², summed over EVERY class whose real and fake
    centres have been seen (`valid`, shape [K]), not only the classes of this batch. `reduction`
    is over the feature dimensions; the sum over classes stays a sum, as Eq. 4 writes it."""
    diff = sq_norm(centres_real - centres_fake, reduction)
    return 0.5 * (diff * valid.to(diff.dtype)).sum()


def loss_gd_prime(logit_fake: Tensor) -> Tensor:
    """§3.1's L'_GD = −E[log D(G(z))]: the plain GAN generator loss (CGAN baseline only)."""
    return F.softplus(-logit_fake.float()).mean()


def loss_bce_attributes(logits: Tensor, y: Tensor) -> Tensor:
    """Binary cross-entropy of independent binary attributes, SUMMED over the attributes and
    averaged over the batch (the sums-over-dimensions convention of the other terms): sigmoid
    outputs, never a softmax, since several attributes are on at once. `y` may be soft (in [0, 1])."""
    return F.binary_cross_entropy_with_logits(logits.float(), y.float(), reduction="none").sum(1).mean()
