"""Configs of the SAAE family (Stylized Adversarial Autoencoder): everything a checkpoint needs to
rebuild the networks and the training step.

Loss-scale convention: the project's (see `cvaegan.families.cvaegan.config.LossConfig`): ½‖·‖² is
a SUM over pixels, E[·] a MEAN over the batch, and a cross-entropy is a mean over the batch. At
32×32×3 the reconstruction sum is ≈ 10² nats once the glyph is drawn (PSNR 18 dB is ≈ 100) and a
cross-entropy a few nats. λ_adv = 1 is the default because the measurement chose it (README,
"Style transfer": λ_adv = 10 drew colour speckle on grey glyphs and lost 1 dB on held-out fonts).

The three-step schedule (`recon_steps`, `d_steps`) is our reading of §2.4, which only names it:
  step 1  steps [0, recon_steps): G = (Enc_c, Enc_s, Dec) learns to reconstruct alone;
  step 2  the next `d_steps`: D alone learns real vs generated from that G (G frozen);
  step 3  then both: D on its objective, G on reconstruction plus fooling D.
`joint` (both 0) is joint training from the first step, the ablation of the schedule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cvaegan.core.schedule import LR_DECAY
from cvaegan.core.settings import Preset, SingleModelConfig, check_adam, check_weights
from cvaegan.core.settings import from_preset as core_from_preset

NETWORKS = ("Ec", "Es", "Dec", "D")
GENERATOR = "Ec+Es+Dec"  # G, one objective over the three
MODEL = "saae"
DISCRIMINATORS = ("multi", "binary")


@dataclass
class SAAELossConfig:
    """The weights of the loss terms (see `step.py`), D's kind and the training schedule.

      lambda_rec     ½‖x − G(c, s)‖²: x is the content's class drawn in the style's group (the
                     ground truth: class c in font f), or the image itself without style groups
      lambda_adv     G's adversarial term: D's cross-entropy of G(c, s) as the content's class
                     (multi) or as real (binary)
      discriminator  "multi": (k+1)-class D, real → its class, generated → class k+1 (§2.2);
                     "binary": real vs generated (the paper's baseline row of Table 1)
      recon_steps, d_steps  the three-step schedule (module docstring); 0 and 0 = joint
    """

    lambda_rec: float = 1.0
    lambda_adv: float = 1.0
    discriminator: str = "multi"
    recon_steps: int = 500
    d_steps: int = 100

    def __post_init__(self) -> None:
        check_weights(self, ("lambda_rec", "lambda_adv"))
        if self.discriminator not in DISCRIMINATORS:
            raise ValueError(f"discriminator must be one of {', '.join(DISCRIMINATORS)}, got {self.discriminator!r}")
        for name in ("recon_steps", "d_steps"):
            v = getattr(self, name)
            if isinstance(v, float) and v.is_integer():
                setattr(self, name, int(v))  # --set recon_steps=500 parses as a float
            elif type(v) is not int or v < 0:
                raise ValueError(f"{name} must be a whole number ≥ 0, got {v!r}")

    def stage(self, step: int) -> int:
        """Which step of the schedule training step `step` (0-based) belongs to: 1, 2 or 3."""
        if step < self.recon_steps:
            return 1
        return 2 if step < self.recon_steps + self.d_steps else 3


@dataclass
class SAAEOptimConfig:
    """Adam for G's three networks (one rate) and for D, DCGAN's betas. Every rate falls linearly to
    0 over the run's last 30 % (`lr_decay`), as in CVAE-GAN and IFcVAE-GAN: measured on the characters
    (README, "Style transfer"). Configs saved before keep their constant rates."""

    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lr_decay: float = LR_DECAY  # the last share of the run over which every rate falls to 0

    def __post_init__(self) -> None:
        check_adam(self, ("lr_g", "lr_d"))

    def lr(self, net: str) -> float:
        return self.lr_d if net == "D" else self.lr_g


PRESETS: dict[str, Preset] = {
    "default": Preset(SAAELossConfig(), SAAEOptimConfig(),
                      "(k+1)-class D, λ_adv = 1, three-step schedule (500 reconstruction steps, 100 D steps), "
                      "rates falling to 0 over the last 30 %"),
    "joint": Preset(SAAELossConfig(recon_steps=0, d_steps=0), SAAEOptimConfig(),
                    "the default trained jointly from the first step: the ablation of the schedule"),
    "binary-d": Preset(SAAELossConfig(discriminator="binary"), SAAEOptimConfig(),
                       "the default with a binary real/generated D: the paper's baseline"),
}


def from_preset(name: str, **overrides: Any) -> tuple[SAAELossConfig, SAAEOptimConfig]:
    """A preset's configs with some fields replaced by name. ValueError for unknown names."""
    return core_from_preset(PRESETS, name, overrides)


@dataclass
class SAAEConfig(SingleModelConfig):
    """`model.num_classes` is k, the content classes; `model.latent_dim` the style vector's size."""

    loss: SAAELossConfig = field(default_factory=SAAELossConfig)
    optim: SAAEOptimConfig = field(default_factory=SAAEOptimConfig)
    family = "saae"
    model_name = MODEL
    networks = NETWORKS
