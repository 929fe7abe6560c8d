"""The architecture fields every model family shares: how many classes, the image side, the size
of z, the width multiplier, and which of the family's models (`model`, a registry name)."""

from __future__ import annotations

from dataclasses import dataclass

RESOLUTIONS = (32, 64, 128, 256)
# Sane bounds, checked before any network is built: a checkpoint or option outside them is refused
# instead of allocating hundreds of GB (LFW-scale data has ~5,700 identities, Glint360K 360k).
MAX_CLASSES = 1_000_000
MAX_LATENT = 4096
# Where G's 2× up-samplings sit among its six convolutions when the resolution needs fewer than
# six (32, 64): "early" before the first ones, so that the last convolutions refine the image at
# full resolution; "late" before the last ones (cvaegan ≤ 0.1, which drew its images through one
# 5×5 convolution of a nearest-up-sampled 16-channel map: blocky and speckled, README "Image
# fidelity"). At 128 and 256 every convolution is preceded by one, so both are the same.
G_LAYOUTS = ("early", "late")
# Fields added after a checkpoint format was in use, with the value that rebuilds what a config
# saved without them trained.
LEGACY_ARCH_FIELDS = {"g_layout": "late"}


@dataclass
class ModelConfig:
    """Architecture. `width` scales every channel count (1.0 = the paper's G: 256,256,128,92,64,3);
    tests and the CPU demo use smaller widths. Whether `model` names one of the family's models is
    the family config's check (it knows its models; this dataclass knows no family)."""

    num_classes: int
    resolution: int = 128
    latent_dim: int = 256
    width: float = 1.0
    model: str = "cvaegan"
    g_layout: str = "early"

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        """A saved architecture: fields it lacks take their legacy values (`LEGACY_ARCH_FIELDS`), so
        a checkpoint rebuilds the networks it was trained with; unknown fields are refused."""
        names = set(cls.__dataclass_fields__)
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown ModelConfig fields: {sorted(unknown)}")
        return cls(**{**LEGACY_ARCH_FIELDS, **d})

    def __post_init__(self) -> None:
        for name in ("num_classes", "resolution", "latent_dim"):
            if type(getattr(self, name)) is not int:
                raise ValueError(f"{name} must be an integer, got {getattr(self, name)!r}")
        if type(self.width) not in (int, float) or type(self.model) is not str:
            raise ValueError(f"width must be a number and model a name, got {self.width!r}, {self.model!r}")
        if self.resolution not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {self.resolution}")
        if not 1 <= self.num_classes <= MAX_CLASSES:
            raise ValueError(f"num_classes must be in 1..{MAX_CLASSES}, got {self.num_classes}")
        if not 1 <= self.latent_dim <= MAX_LATENT:
            raise ValueError(f"latent_dim must be in 1..{MAX_LATENT}, got {self.latent_dim}")
        if not 0 < self.width <= 4:
            raise ValueError(f"width must be in (0, 4], got {self.width}")
        if self.g_layout not in G_LAYOUTS:
            raise ValueError(f"g_layout must be one of {G_LAYOUTS}, got {self.g_layout!r}")
