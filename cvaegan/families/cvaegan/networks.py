"""The four networks of CVAE-GAN (§3, §5 of Bao et al. 2017).

Every network returns `(output, feature)`, where `feature` is the input of its last fully
connected layer: f_D and f_C of Eqs. 2, 4 and 6 are exactly these.

Scaling with resolution R ∈ {32, 64, 128, 256} (128 is the paper's layout):
  E  the ResNet-style trunk of `cvaegan.core.layers` (the paper uses GoogLeNet; this has similar
     cost at 128×128, ~0.8 GMAC), and the LAST FC takes [feature, c] → (μ, log σ²). The class
     enters at the last FC, as in the paper.
  G, D  `cvaegan.core.layers.Generator` and `Discriminator` (the paper's layouts; other families
     decode with the same G).
  C  AlexNet-style: a large-kernel strided stem brings any R to 32×32 (kernel 11, stride 4 at 128,
     as AlexNet), then max-pool, conv5 192, max-pool, conv3 384, 256, 256, max-pool, FC 4096,
     FC 4096 (= f_C), FC K. BN after each conv (§5); no dropout, so f_C is deterministic.
`width` multiplies every channel count and FC width.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from cvaegan.core.layers import Discriminator, Generator, ch, encoder_trunk
from cvaegan.families.cvaegan.config import ModelConfig


class Encoder(nn.Module):
    """E(x, c) → (μ, log σ²), feature. q(z|x, c) is N(μ, diag(exp(log σ²)))."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.stem, self.blocks, self.fc, hidden = encoder_trunk(cfg)
        self.fc_out = nn.Linear(hidden + cfg.num_classes, 2 * cfg.latent_dim)  # class merged here
        self.latent_dim = cfg.latent_dim

    def forward(self, x: Tensor, c: Tensor) -> tuple[tuple[Tensor, Tensor], Tensor]:
        feature = self.fc(self.blocks(self.stem(x)))
        mu, logvar = self.fc_out(torch.cat([feature, c.to(feature.dtype)], dim=1)).chunk(2, dim=1)
        return (mu, logvar), feature


class Classifier(nn.Module):
    """C(x) → K class logits (softmax posterior P(c|x), Eq. 3), f_C (input of C's last FC)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        w = cfg.width
        s = cfg.resolution // 32
        k = 2 * s + 3
        c1, c2, c3, c4, c5 = (ch(c, w) for c in (64, 192, 384, 256, 256))
        hidden = ch(4096, w, 64)

        def conv(cin: int, cout: int, kk: int, stride: int = 1, pad: int | None = None) -> list[nn.Module]:
            p = kk // 2 if pad is None else pad
            return [nn.Conv2d(cin, cout, kk, stride, p, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.convs = nn.Sequential(
            *conv(3, c1, k, s, math.ceil((k - s) / 2)),  # → 32×32
            nn.MaxPool2d(3, 2),                          # → 15×15
            *conv(c1, c2, 5),
            nn.MaxPool2d(3, 2),                          # → 7×7
            *conv(c2, c3, 3), *conv(c3, c4, 3), *conv(c4, c5, 3),
            nn.MaxPool2d(3, 2),                          # → 3×3
            nn.Flatten(),
        )
        self.fc = nn.Sequential(nn.Linear(c5 * 9, hidden), nn.ReLU(inplace=True),
                                nn.Linear(hidden, hidden), nn.ReLU(inplace=True))
        self.fc_out = nn.Linear(hidden, cfg.num_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        feature = self.fc(self.convs(x))
        return self.fc_out(feature), feature


BUILDERS = {"E": Encoder, "G": Generator, "D": Discriminator, "C": Classifier}


def build_networks(cfg: ModelConfig, names: tuple[str, ...]) -> nn.ModuleDict:
    """The named networks (those the model trains), by name."""
    return nn.ModuleDict({name: BUILDERS[name](cfg) for name in names})

