"""Dataclass configs of the model core. Everything a checkpoint needs to rebuild the networks and
the training step lives here, so a checkpoint's `config` entry is `asdict()` of these."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

RESOLUTIONS = (32, 64, 128, 256)
REDUCTIONS = ("sum", "mean")
MODEL_KINDS = ("cvaegan", "cvae", "cgan", "fmcgan")

# Which networks each model trains. The sampler only ever needs G.
NETWORKS_OF: dict[str, tuple[str, ...]] = {
    "cvaegan": ("E", "G", "D", "C"),
    "cvae": ("E", "G"),
    "cgan": ("G", "D", "C"),
    "fmcgan": ("G", "D", "C"),
}


@dataclass
class ModelConfig:
    """Architecture. `width` scales every channel count (1.0 = the paper's G: 256,256,128,92,64,3);
    tests and the CPU demo use smaller widths."""

    num_classes: int
    resolution: int = 128
    latent_dim: int = 256
    width: float = 1.0
    model: str = "cvaegan"

    def __post_init__(self) -> None:
        if self.resolution not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {self.resolution}")
        if self.model not in MODEL_KINDS:
            raise ValueError(f"model must be one of {MODEL_KINDS}, got {self.model!r}")
        if self.num_classes < 1:
            raise ValueError("num_classes must be at least 1")
        if not 0 < self.width <= 4:
            raise ValueError(f"width must be in (0, 4], got {self.width}")

    @property
    def networks(self) -> tuple[str, ...]:
        return NETWORKS_OF[self.model]


@dataclass
class LossConfig:
    """Eq. 7's weights and the knobs of the moving-average feature centres.

    Reduction convention (fixed, so the λ mean what the paper's equations say): every ‖·‖² is a
    SUM over pixels / feature dimensions, and every expectation E[·] is a MEAN over the batch.
    With this convention Eq. 5 + Eq. 6's pixel term is the Gaussian ELBO (unit variance in [-1, 1]
    pixel units), and λ1=3, λ2=1, λ3=λ4=1e-3 are the paper's values unchanged.

    `pixel`, `pair_d`, `pair_c` switch the three parts of Eq. 6 for the §5.5 ablation.
    """

    lambda_kl: float = 3.0      # λ1
    lambda_g: float = 1.0       # λ2
    lambda_gd: float = 1e-3     # λ3
    lambda_gc: float = 1e-3     # λ4
    centre_decay: float = 0.9   # moving historical average: m ← d·m + (1−d)·batch centre
    pixel: bool = True          # Eq. 6 ‖x − x'‖²
    pair_d: bool = True         # Eq. 6 ‖f_D(x) − f_D(x')‖²
    pair_c: bool = True         # Eq. 6 ‖f_C(x) − f_C(x')‖²
    pixel_reduction: str = "sum"    # ‖x − x'‖² over pixels: "sum" or "mean"
    feature_reduction: str = "sum"  # ‖f − f'‖² over feature dims (Eqs. 2, 4, 6): "sum" or "mean"
    kl_reduction: str = "sum"       # Eq. 5 over latent dims: "sum" (nats) or "mean" (nats per dim)
    pair_d_scale: float = 1.0       # weight of Eq. 6's f_D part inside λ2 L_G
    pair_c_scale: float = 1.0       # weight of Eq. 6's f_C part inside λ2 L_G

    def __post_init__(self) -> None:
        if not 0.0 <= self.centre_decay < 1.0:
            raise ValueError("centre_decay must be in [0, 1)")
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
    """Adam for every network, DCGAN's betas."""

    lr_e: float = 2e-4
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    lr_c: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999

    def lr(self, net: str) -> float:
        return {"E": self.lr_e, "G": self.lr_g, "D": self.lr_d, "C": self.lr_c}[net]


@dataclass
class CVAEGANConfig:
    model: ModelConfig
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CVAEGANConfig":
        return cls(
            model=ModelConfig(**_known(ModelConfig, d["model"])),
            loss=LossConfig(**_known(LossConfig, {**LEGACY_LOSS_FIELDS, **d.get("loss", {})})),
            optim=OptimConfig(**_known(OptimConfig, d.get("optim", {}))),
        )


def _known(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    unknown = set(d) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
    return dict(d)
