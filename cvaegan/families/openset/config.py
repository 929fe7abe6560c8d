"""Configs of the open-set identity-swap family: everything a checkpoint needs to rebuild the
networks and the training step.

Two models share this config: `openset`, whose identity classifier C of the asymmetric loss IS the
identity encoder I (one network: its softmax trains it, its feature is both G's identity input and
the feature G's output is matched on), and `openset-c`, with a separate C of I's architecture
trained by its own softmax. Sharing costs one network less per step, which on a CPU budget is a
quarter more steps; whether a separate C keeps identity better is measured in the README.

Loss-scale convention: CVAE-GAN's (`cvaegan.families.cvaegan.config.LossConfig`): every ‖·‖² is a
SUM over pixels / feature dimensions, every E[·] a MEAN over the batch, so λ_KL·L_KL + λ_GR·½‖x − x'‖²
is a β-VAE with a Gaussian decoder of pixel variance λ_KL/λ_GR in [-1, 1] units, and the λ mean
what they mean in the other families: λ_KL = 0.1 is the value the fidelity sweep chose for
CVAE-GAN's Eq. 5. D's pairwise feature term is weighted 0.03, a fifth of CVAE-GAN's f_D part
(0.15): at 0.15 the swaps carried D's colour speckle, as CVAE-GAN's reconstructions did at the
paper's weights (README, "Identity swap").
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from cvaegan.core.settings import Preset, SingleModelConfig, check_adam, check_weights
from cvaegan.core.settings import from_preset as core_from_preset

MODEL = "openset"
MODEL_SEPARATE_C = "openset-c"
NETWORKS = {MODEL: ("I", "A", "G", "D"), MODEL_SEPARATE_C: ("I", "C", "A", "G", "D")}
GENERATOR = "G+A"  # the objective of the generative side: G and the attribute encoder A


@dataclass
class OpenSetLossConfig:
    """The weights of the loss terms (see `step.py` for the terms).

      lambda_kl     KL(q(z_A|x_a) ‖ N(0, I)): the attribute encoder's VAE prior term
      lambda_rec    ½‖x_a − x'‖², weighted 1 on same-person pairs and `other_weight` on pairs of
                    two people (x' then shows s, not a: x_a is only a loose target)
      other_weight  the paper's λ = 0.1 for different-person pairs (relative to lambda_rec)
      lambda_gd     ½‖f_D(x_a) − f_D(x')‖²: D's features of the result against the attributes image
      lambda_gc     ½‖f_C(x_s) − f_C(x')‖²: C's identity features of the result against the identity
                    source — what makes x' keep s's identity
      self_pairs    the share of pairs whose attributes image is the identity image itself
                    (x_a = x_s, plain reconstruction); the data layer gives ½ same-person pairs of two
                    different images and ½ pairs of two people
      gc_direction  1: L_GC compares C's features by direction (both at norm √d, as G is given
                    f_I), so its scale does not grow while C's softmax saturates; 0: raw features
    """

    lambda_kl: float = 0.1
    lambda_rec: float = 1.0
    other_weight: float = 0.1
    lambda_gd: float = 0.03
    lambda_gc: float = 1.0
    self_pairs: float = 0.2
    gc_direction: float = 0.0

    def __post_init__(self) -> None:
        check_weights(self, tuple(f.name for f in fields(self)))
        if self.gc_direction not in (0, 1):
            raise ValueError(f"gc_direction must be 0 or 1, got {self.gc_direction!r}")
        for name in ("other_weight", "self_pairs"):
            if getattr(self, name) > 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")


@dataclass
class OpenSetOptimConfig:
    """Adam for every network, DCGAN's betas. The attribute encoder A and G at 1e-3, as CVAE-GAN's
    E and G; the classifiers I and C and D at DCGAN's 2e-4 (README "Identity swap")."""

    lr_i: float = 2e-4
    lr_c: float = 2e-4
    lr_a: float = 1e-3
    lr_g: float = 1e-3
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lr_decay: float = 0.0  # the last share of the run over which every rate falls to 0 (off: README, "The learning rates fall to 0")

    def __post_init__(self) -> None:
        check_adam(self, ("lr_i", "lr_c", "lr_a", "lr_g", "lr_d"))

    def lr(self, net: str) -> float:
        return {"I": self.lr_i, "C": self.lr_c, "A": self.lr_a, "G": self.lr_g, "D": self.lr_d}[net]


PRESETS: dict[str, Preset] = {
    "default": Preset(OpenSetLossConfig(), OpenSetOptimConfig(),
                      "CVAE-GAN's loss scale (sums, λ_KL = 0.1), f_D term 0.03, λ = 0.1 on two-person pairs"),
    "full-weight": Preset(OpenSetLossConfig(other_weight=1.0), OpenSetOptimConfig(),
                          "the reconstruction at full weight on two-person pairs too: the ablation that "
                          "shows why the paper down-weights it (the result is pulled to a's identity)"),
}


def from_preset(name: str, **overrides: Any) -> tuple[OpenSetLossConfig, OpenSetOptimConfig]:
    """A preset's configs with some fields replaced by name. ValueError for unknown names."""
    return core_from_preset(PRESETS, name, overrides)


@dataclass
class OpenSetConfig(SingleModelConfig):
    """`model.num_classes` is the number of TRAINING identities (the softmax of I and C); the
    identity G is given is I's feature, of `identity_dim` dimensions, never those logits, so people
    outside the training set have one too. `model.latent_dim` is the size of the attribute code."""

    loss: OpenSetLossConfig = field(default_factory=OpenSetLossConfig)
    optim: OpenSetOptimConfig = field(default_factory=OpenSetOptimConfig)
    family = "openset"
    model_name = MODEL

    def __post_init__(self) -> None:
        if self.model.model not in NETWORKS:
            raise ValueError(f"the openset family has the models {', '.join(NETWORKS)}, not {self.model.model!r}")

    @property
    def networks(self) -> tuple[str, ...]:  # type: ignore[override]
        return NETWORKS[self.model.model]

    @property
    def shared_c(self) -> bool:
        """C is I (model `openset`), or a network of its own (`openset-c`)."""
        return "C" not in self.networks
