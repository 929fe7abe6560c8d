"""The open-set identity-swap family (Bao, Chen, Wen, Li, Hua, CVPR 2018): an identity encoder I,
a VAE-style attribute encoder A, a generator G(f_I, z_A), a discriminator D and an identity
classifier C for the asymmetric loss (shared with I by default). No file or CLI I/O happens here."""

from cvaegan.families.openset.config import OpenSetConfig, OpenSetLossConfig, OpenSetOptimConfig
from cvaegan.families.openset.model import OpenSet
from cvaegan.families.openset.step import make_optimizers, openset_losses, train_step

__all__ = ["OpenSet", "OpenSetConfig", "OpenSetLossConfig", "OpenSetOptimConfig", "make_optimizers",
           "openset_losses", "train_step"]
