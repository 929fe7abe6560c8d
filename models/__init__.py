"""The CVAE-GAN model core: networks, losses, feature centres, Algorithm 1, checkpoint format.

No file or CLI I/O happens here; `cvaegan_cli` does that.
"""

from models.algorithm import apply_updates, make_optimizers, train_step
from models.checkpoint import CheckpointError, make_checkpoint, model_from_checkpoint, validate_checkpoint
from models.config import CVAEGANConfig, LossConfig, ModelConfig, OptimConfig
from models.model import CVAEGAN

__all__ = [
    "CVAEGAN", "CVAEGANConfig", "CheckpointError", "LossConfig", "ModelConfig", "OptimConfig",
    "apply_updates", "make_checkpoint", "make_optimizers", "model_from_checkpoint", "train_step",
    "validate_checkpoint",
]
