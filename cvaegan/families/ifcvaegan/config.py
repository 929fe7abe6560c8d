"""Configs of the IFcVAE-GAN family (Creswell & Mohamied 2017, "Adversarial Information
Factorization"): everything a checkpoint needs to rebuild the networks and the training step.

Loss-scale convention: CVAE-GAN's (see `cvaegan.families.cvaegan.config.LossConfig`): every ‖·‖²
is a SUM over pixels / feature dimensions, every E[·] a MEAN over the batch, and a binary
cross-entropy is summed over the attributes (a mean over the batch). So λ_KL·L_KL + λ_rec·½‖x − x̂‖²
is a β-VAE with a Gaussian decoder of pixel variance λ_KL/λ_rec in [-1, 1] units, exactly as in the
CVAE-GAN family, and a λ here means the same thing it means there. The reconstruction loss has
VAE-GAN's learned-similarity part ½‖f_D(x) − f_D(x̂)‖² with the weight the fidelity sweep chose
for Eq. 6's f_D part (0.15).

The weights of the attribute terms are sized against that pixel sum (≈ 10²–10³ nats at 32–64 px):
an attribute BCE is at most a few nats, so it gets λ = 10 at 32×32 to be heard at all; the pixel
sum grows with the pixel count and the BCE does not, so at 64×64 the same balance is λ = 40
(`--set lambda_class=40 --set lambda_class_gen=40`, README "Attribute editing").
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from cvaegan.core.schedule import LR_DECAY
from cvaegan.core.settings import Preset, SingleModelConfig, check_adam, check_weights
from cvaegan.core.settings import from_preset as core_from_preset

NETWORKS = ("E", "G", "D", "A")
MODEL = "ifcvaegan"


@dataclass
class IFLossConfig:
    """The weights of the paper's loss terms (§3; see `step.py` for the equations).

      lambda_kl      KL(q(z|x) ‖ N(0, I)) in E's objective (the VAE prior term)
      lambda_rec     ½‖x − x̂‖² (+ feature_scale · ½‖f_D(x) − f_D(x̂)‖²), x̂ = G(z, ŷ), in E's and G's
      lambda_gan     G's adversarial term on x̂ and prior samples x_p (non-saturating −log D)
      lambda_class   E's attribute classifier on real images: BCE(ŷ(x), y)
      lambda_class_gen  G's attribute term: BCE(ŷ(x̂), y) and BCE(ŷ(x_p), y_p), read by E's
                     classifier head; its gradient reaches G (the point of the term: G must draw
                     the attribute it is given), never E
      lambda_aux     α of the factorisation: E maximises the auxiliary network's BCE(A(z), y)
      lambda_class_edit  NOT IN THE PAPER, an option, off (0) by default: G's attribute term
                     on training edits x_e = G(z, y_e), y_e = ŷ with one attribute per image
                     flipped to the other hard value — BCE(ŷ(x_e), y_e), read by E, reaching G
                     only; D also sees x_e as a fake and G's adversarial term covers it. The
                     paper's terms never train an encoder code with another y, which is what an
                     edit is. It helps on the cartoons, but on CelebA G learns to draw one
                     colour blob for "add eyeglasses" that E and the independent judge both read
                     as glasses (README "Attribute editing"), so it is not the default
    """

    lambda_kl: float = 0.1
    lambda_rec: float = 1.0
    lambda_gan: float = 1.0
    lambda_class: float = 10.0
    lambda_class_gen: float = 10.0
    lambda_aux: float = 1.0
    lambda_class_edit: float = 0.0  # not in the paper, off: see above
    feature_scale: float = 0.15   # VAE-GAN's ½‖f_D(x) − f_D(x̂)‖² inside the reconstruction loss

    def __post_init__(self) -> None:
        check_weights(self, tuple(f.name for f in fields(self)))


@dataclass
class IFOptimConfig:
    """Adam for every network, DCGAN's betas. E and G at 1e-3, D and A at DCGAN's 2e-4: the
    encoder–decoder learns too slowly at 2e-4, as CVAE-GAN's does (README "Attribute editing").
    Every rate falls linearly to 0 over the run's last 30 % (`cvaegan.core.schedule`), as
    CVAE-GAN's: measured on the cartoon edits, not assumed."""

    lr_e: float = 1e-3
    lr_g: float = 1e-3
    lr_d: float = 2e-4
    lr_a: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lr_decay: float = LR_DECAY  # the last share of the run over which every rate falls to 0

    def __post_init__(self) -> None:
        check_adam(self, ("lr_e", "lr_g", "lr_d", "lr_a"))

    def lr(self, net: str) -> float:
        return {"E": self.lr_e, "G": self.lr_g, "D": self.lr_d, "A": self.lr_a}[net]


PRESETS: dict[str, Preset] = {
    "default": Preset(IFLossConfig(), IFOptimConfig(),
                      "CVAE-GAN's loss scale (sums over pixels, λ_KL = 0.1), attribute terms at 10, α = 1"),
    "no-factorisation": Preset(IFLossConfig(lambda_aux=0.0), IFOptimConfig(),
                               "the default without the adversarial factorisation term (α = 0): the "
                               "ablation that shows what the auxiliary network buys"),
}


def from_preset(name: str, **overrides: Any) -> tuple[IFLossConfig, IFOptimConfig]:
    """A preset's configs with some fields replaced by name. ValueError for unknown names."""
    return core_from_preset(PRESETS, name, overrides)


@dataclass
class IFConfig(SingleModelConfig):
    """`model.num_classes` is the number of binary attributes y the model conditions on (the
    length of c, as for every family); their names are the checkpoint's condition."""

    loss: IFLossConfig = field(default_factory=IFLossConfig)
    optim: IFOptimConfig = field(default_factory=IFOptimConfig)
    family = "ifcvaegan"
    model_name = MODEL
    networks = NETWORKS
