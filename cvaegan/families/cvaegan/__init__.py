"""The CVAE-GAN family (and its cvae, cgan, fmcgan baselines): networks, Algorithm 1, configs.

Checkpoints of any family: `cvaegan.families.checkpoint`.

No file or CLI I/O happens here; `cvaegan.runtime` and the pipelines do that.
"""

from cvaegan.families.cvaegan.config import CVAEGANConfig, LossConfig, ModelConfig, OptimConfig
from cvaegan.families.cvaegan.model import CVAEGAN
from cvaegan.families.cvaegan.step import apply_updates, make_optimizers, train_step

__all__ = [
    "CVAEGAN", "CVAEGANConfig", "LossConfig", "ModelConfig", "OptimConfig", "apply_updates", "make_optimizers",
    "train_step",
]
