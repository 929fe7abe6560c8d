"""Dataclass configs of the model core. Everything a checkpoint needs to rebuild the networks and
the training step lives here, so a checkpoint's `config` entry is `asdict()` of these."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from cvaegan.core.arch import ModelConfig
from cvaegan.core.schedule import LR_DECAY
from cvaegan.core.settings import LEGACY_OPTIM_FIELDS, Preset, check_adam, check_weights, known_fields
from cvaegan.core.settings import from_preset as core_from_preset

REDUCTIONS = ("sum", "mean")

# The models of this family and the networks each trains. The sampler only ever needs G.
NETWORKS_OF: dict[str, tuple[str, ...]] = {
    "cvaegan": ("E", "G", "D", "C"),
    "cvae": ("E", "G"),
    "cgan": ("G", "D", "C"),
    "fmcgan": ("G", "D", "C"),
}
MODEL_KINDS = tuple(NETWORKS_OF)
LR_G_WITH_E = 1e-3  # G's default rate where it is trained with E (cvaegan, cvae)
LR_G_GAN_ONLY = 2e-4  # DCGAN's: G's default rate in the GAN-only baselines (cgan, fmcgan)


@dataclass
class LossConfig:
    """Eq. 7's weights and the knobs of the moving-average feature centres.

    Reduction convention: every ‖·‖² is a SUM over pixels / feature dimensions and every E[·] a MEAN
    over the batch (`*_reduction="mean"` averages over dimensions instead, for experiments). Under
    sums, λ1·L_KL + λ2·½‖x − x'‖² is a β-VAE with a Gaussian decoder of pixel variance σ² = λ1/(β·λ2)
    in [-1, 1] units: the paper's λ1 = 3 is σ ≈ 1.7 at β = 1, an image model so loose that E's
    code carries almost nothing (≈ 8 nats), and Eq. 6's f_D part (a sum over thousands of feature
    dimensions) outweighs the pixel part 2:1 and paints D's features into the images as speckle.

    The defaults were chosen by the fidelity sweep (README, "Image fidelity"): λ1 = 0.1, the f_D
    part of Eq. 6 weighted 0.15 and its f_C part 0.1 inside λ2·L_G, λ3 = λ4 = 1e-2 so that prior
    samples get enough of Eqs. 2 and 4 to stay class-true. At full weight the f_C part (a sum
    over C's feature dimensions) mottled the faces of reconstructions and samples. The paper's
    literal values are the preset "paper".

    `pixel`, `pair_d`, `pair_c` switch the three parts of Eq. 6 for the §5.5 ablation.
    """

    lambda_kl: float = 0.1      # λ1 (paper: 3)
    lambda_g: float = 1.0       # λ2 (paper: 1)
    lambda_gd: float = 1e-2     # λ3 (paper: 1e-3)
    lambda_gc: float = 1e-2     # λ4 (paper: 1e-3)
    centre_decay: float = 0.9   # moving historical average: m ← d·m + (1−d)·batch centre
    pixel: bool = True          # Eq. 6 ‖x − x'‖²
    pair_d: bool = True         # Eq. 6 ‖f_D(x) − f_D(x')‖²
    pair_c: bool = True         # Eq. 6 ‖f_C(x) − f_C(x')‖²
    pixel_reduction: str = "sum"    # ‖x − x'‖² over pixels: "sum" or "mean"
    feature_reduction: str = "sum"  # ‖f − f'‖² over feature dims (Eqs. 2, 4, 6): "sum" or "mean"
    kl_reduction: str = "sum"       # Eq. 5 over latent dims: "sum" (nats) or "mean" (nats per dim)
    pair_d_scale: float = 0.15      # weight of Eq. 6's f_D part inside λ2 L_G (paper: 1)
    pair_c_scale: float = 0.1       # weight of Eq. 6's f_C part inside λ2 L_G (paper: 1)

    def __post_init__(self) -> None:
        if not 0.0 <= self.centre_decay < 1.0:
            raise ValueError("centre_decay must be in [0, 1)")
        check_weights(self, ("lambda_kl", "lambda_g", "lambda_gd", "lambda_gc", "pair_d_scale", "pair_c_scale"))
        for name in ("pixel", "pair_d", "pair_c"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        for name in ("pixel_reduction", "feature_reduction", "kl_reduction"):
            if getattr(self, name) not in REDUCTIONS:
                raise ValueError(f"{name} must be one of {REDUCTIONS}, got {getattr(self, name)!r}")


# Fields added to LossConfig after version 0.1.0, with the values that reproduce what a config
# saved without them trained with: a run from 0.1.0 resumes with its own losses, whatever the
# current defaults are.
LEGACY_LOSS_FIELDS: dict[str, Any] = {"pixel_reduction": "sum", "feature_reduction": "sum", "kl_reduction": "sum",
                                      "pair_d_scale": 1.0, "pair_c_scale": 1.0}


@dataclass
class OptimConfig:
    """Adam for every network, DCGAN's betas. E learns at 1e-3, D and C at DCGAN's 2e-4: at 2e-4
    the encoder–decoder was far from fitting the training images within a CPU budget (README
    "Image fidelity"). `lr_g=None` means "by model": 1e-3 where G is trained with E (cvaegan,
    cvae), DCGAN's 2e-4 in the GAN-only baselines (cgan, fmcgan), whose G fits no
    reconstruction; `CVAEGANConfig` resolves it, so a checkpoint always stores a number. Every
    rate falls linearly to 0 over the run's last 30 % (`lr_decay`, `cvaegan.core.schedule`); the
    paper preset keeps them constant."""

    lr_e: float = 1e-3
    lr_g: float | None = None
    lr_d: float = 2e-4
    lr_c: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lr_decay: float = LR_DECAY  # the last share of the run over which every rate falls to 0

    def __post_init__(self) -> None:
        check_adam(self, ("lr_e", "lr_d", "lr_c") + (() if self.lr_g is None else ("lr_g",)))

    def for_model(self, model: str) -> "OptimConfig":
        """This config with `lr_g` resolved for `model` (unchanged when it is a number)."""
        if self.lr_g is not None:
            return self
        return replace(self, lr_g=LR_G_WITH_E if "E" in NETWORKS_OF[model] else LR_G_GAN_ONLY)

    def lr(self, net: str) -> float:
        if net == "G" and self.lr_g is None:
            raise ValueError("lr_g is unresolved: call for_model(model) first")
        return {"E": self.lr_e, "G": self.lr_g, "D": self.lr_d, "C": self.lr_c}[net]


PRESETS: dict[str, Preset] = {
    "default": Preset(LossConfig(), OptimConfig(),
                      "the measured default (README, 'Image fidelity'): λ, the f_D pair scale and the "
                      "E/G learning rates chosen by the fidelity sweep (G at 2e-4 in cgan and fmcgan)"),
    "paper": Preset(LossConfig(3.0, 1.0, 1e-3, 1e-3, **LEGACY_LOSS_FIELDS),
                    OptimConfig(2e-4, 2e-4, 2e-4, 2e-4, lr_decay=0.0),
                    "Eq. 7's literal λ1 = 3, λ2 = 1, λ3 = λ4 = 1e-3 under the same sums, Eq. 6 unscaled, "
                    "DCGAN's Adam (2e-4, β1 0.5) for every network: cvaegan 0.1's losses and learning rates"),
}


def from_preset(name: str, **overrides: Any) -> tuple[LossConfig, OptimConfig]:
    """A preset's loss and optimiser configs with some fields replaced (by field name, either
    config's). Raises ValueError for an unknown preset or field, or an invalid value."""
    return core_from_preset(PRESETS, name, overrides)


@dataclass
class CVAEGANConfig:
    model: ModelConfig
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def __post_init__(self) -> None:
        if self.model.model not in NETWORKS_OF:
            raise ValueError(f"model must be one of {MODEL_KINDS}, got {self.model.model!r}")
        self.optim = self.optim.for_model(self.model.model)

    @property
    def networks(self) -> tuple[str, ...]:
        """The networks this model trains, by name."""
        return NETWORKS_OF[self.model.model]

    @property
    def num_classes(self) -> int:
        return self.model.num_classes

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CVAEGANConfig":
        return cls(
            model=ModelConfig.from_dict(d["model"]),
            loss=LossConfig(**known_fields(LossConfig, {**LEGACY_LOSS_FIELDS, **d.get("loss", {})})),
            optim=OptimConfig(**known_fields(OptimConfig, {**LEGACY_OPTIM_FIELDS, **d.get("optim", {})})),
        )

