"""The four networks of IFcVAE-GAN (Creswell & Mohamied 2017, §3).

  E  E(x) → (μ, log σ²) of the identity latent z, and ŷ: one logit per binary attribute. The
     encoder is also the attribute classifier (the paper's E_y). It is NOT given y: it infers it,
     and the factorisation term makes z carry everything but y. The trunk is CVAE-GAN's residual
     encoder (`cvaegan.core.layers.encoder_trunk`); two heads on its feature.
  G  G(z, y) → x, CVAE-GAN's generator with y (the attribute vector, real-valued) where CVAE-GAN
     has the class vector c.
  D  CVAE-GAN's DCGAN discriminator: real vs reconstructed vs prior samples, unconditional.
  A  the auxiliary network A(z) → attribute logits: an MLP on z alone. Trained to predict y from
     z; E is trained to make it fail.
"""

from __future__ import annotations

from torch import Tensor, nn

from cvaegan.core.arch import ModelConfig
from cvaegan.core.layers import Discriminator, Generator, ch, encoder_trunk


class AttributeEncoder(nn.Module):
    """E(x) → ((μ, log σ²), ŷ logits), feature."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.stem, self.blocks, self.fc, hidden = encoder_trunk(cfg)
        self.fc_z = nn.Linear(hidden, 2 * cfg.latent_dim)
        self.fc_y = nn.Linear(hidden, cfg.num_classes)
        self.latent_dim = cfg.latent_dim

    def forward(self, x: Tensor) -> tuple[tuple[Tensor, Tensor], Tensor, Tensor]:
        feature = self.fc(self.blocks(self.stem(x)))
        mu, logvar = self.fc_z(feature).chunk(2, dim=1)
        return (mu, logvar), self.fc_y(feature), feature


class Auxiliary(nn.Module):
    """A(z) → attribute logits: two hidden layers, enough capacity to find attribute information
    that is left in z (a linear probe would miss non-linearly encoded information)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        hidden = ch(512, cfg.width, 64)
        self.net = nn.Sequential(nn.Linear(cfg.latent_dim, hidden), nn.LeakyReLU(0.2, inplace=True),
                                 nn.Linear(hidden, hidden), nn.LeakyReLU(0.2, inplace=True),
                                 nn.Linear(hidden, cfg.num_classes))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


BUILDERS = {"E": AttributeEncoder, "G": Generator, "D": Discriminator, "A": Auxiliary}


def build_networks(cfg: ModelConfig, names: tuple[str, ...]) -> nn.ModuleDict:
    return nn.ModuleDict({name: BUILDERS[name](cfg) for name in names})
