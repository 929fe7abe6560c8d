"""The IFcVAE-GAN family (attribute editing): networks, the factorised training step, configs.

No file or CLI I/O happens here."""

from cvaegan.families.ifcvaegan.config import IFConfig, IFLossConfig, IFOptimConfig
from cvaegan.families.ifcvaegan.model import IFCVAEGAN
from cvaegan.families.ifcvaegan.step import ifcvaegan_losses, make_optimizers, train_step

__all__ = ["IFCVAEGAN", "IFConfig", "IFLossConfig", "IFOptimConfig", "ifcvaegan_losses", "make_optimizers",
           "train_step"]
