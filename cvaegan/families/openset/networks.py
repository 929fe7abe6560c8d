"""The networks of the open-set identity-swap model (Bao et al. 2018, §3).

  I  identity encoder: a face-recognition network trained as a softmax classifier of the training
     identities. Its feature (the input of its last FC layer), not its logits, is the identity
     vector f_I: logits only name training people, the feature describes anyone.
  A  attribute encoder, VAE-style: (μ, log σ²) of z_A — pose, expression, light, background. It is
     given no label.
  G  G(f_I, z_A) → x': CVAE-GAN's generator with the identity vector where CVAE-GAN has c; it is
     given f_I's direction at a fixed length (`identity_vector`).
  D  CVAE-GAN's DCGAN discriminator, real vs generated; f_D its feature.
  C  (model `openset-c` only) an identity classifier of I's architecture with its own weights,
     whose feature f_C the asymmetric loss matches; in `openset` C is I.

I and A share CVAE-GAN's residual encoder trunk (`cvaegan.core.layers.encoder_trunk`).
"""

from __future__ import annotations

from dataclasses import replace

import torch.nn.functional as F
from torch import Tensor, nn

from cvaegan.core.arch import ModelConfig
from cvaegan.core.layers import Discriminator, Generator, ch, encoder_trunk


def identity_dim(cfg: ModelConfig) -> int:
    """The size of f_I: the encoder trunk's feature."""
    return ch(512, cfg.width, 32)


def identity_vector(feature: Tensor) -> Tensor:
    """What G is given of I's feature: its direction, scaled to norm √d (RMS 1 a dimension, the
    scale of z_A ~ N(0, I)). Face-recognition features are compared by direction; their length
    grows while I's softmax saturates, and a raw feature that long drowns z_A in G's first layer,
    so that swaps stop following the attributes image."""
    return F.normalize(feature.float(), dim=1) * feature.shape[1] ** 0.5


class IdentityEncoder(nn.Module):
    """I(x) (or C(x)) → (identity logits over the training people, feature f)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.stem, self.blocks, self.fc, hidden = encoder_trunk(cfg)
        self.fc_out = nn.Linear(hidden, cfg.num_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        feature = self.fc(self.blocks(self.stem(x)))
        return self.fc_out(feature), feature


class AttributeEncoder(nn.Module):
    """A(x) → (μ, log σ²) of the attribute code z_A."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.stem, self.blocks, self.fc, hidden = encoder_trunk(cfg)
        self.fc_z = nn.Linear(hidden, 2 * cfg.latent_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.fc_z(self.fc(self.blocks(self.stem(x)))).chunk(2, dim=1)
        return mu, logvar


def _generator(cfg: ModelConfig) -> Generator:
    """G's input is [z_A, f_I]: CVAE-GAN's layout with f_I in the class vector's place."""
    return Generator(replace(cfg, num_classes=identity_dim(cfg)))


BUILDERS = {"I": IdentityEncoder, "C": IdentityEncoder, "A": AttributeEncoder, "G": _generator,
            "D": Discriminator}


def build_networks(cfg: ModelConfig, names: tuple[str, ...]) -> nn.ModuleDict:
    return nn.ModuleDict({name: BUILDERS[name](cfg) for name in names})
