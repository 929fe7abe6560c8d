"""The four networks of CVAE-GAN (§3, §5 of Bao et al. 2017).

Every network returns `(output, feature)`, where `feature` is the input of its last fully
connected layer: f_D and f_C of Eqs. 2, 4 and 6 are exactly these.

Scaling with resolution R ∈ {32, 64, 128, 256} (128 is the paper's layout):
  E  ResNet-style stack (the paper uses GoogLeNet; this has similar cost at 128×128, ~0.8 GMAC):
     a stem conv, then log2(R/4) residual stages that halve the map down to 4×4, an FC to the
     feature, and the LAST FC takes [feature, c] → (μ, log σ²). The class enters at the last FC,
     as in the paper.
  G  2 FC layers → a 256×b×b map (b = max(2, R/64)), then 6 convs with 256, 256, 128, 92, 64, 3
     channels and kernels 3, 3, 5, 5, 5, 5; the last log2(R/b) convs are preceded by 2× nearest
     up-sampling (all six at 128 and 256). BN + ReLU after each conv but the last, tanh at the end.
  D  DCGAN: stride-2 4×4 convs (64, 128, 256, 512, 512 … channels, BN on all but the first,
     LeakyReLU 0.2) down to 4×4; f_D is the flattened 4×4 map; one logit.
  C  AlexNet-style: a large-kernel strided stem brings any R to 32×32 (kernel 11, stride 4 at 128,
     as AlexNet), then max-pool, conv5 192, max-pool, conv3 384, 256, 256, max-pool, FC 4096,
     FC 4096 (= f_C), FC K. BN after each conv (§5); no dropout, so f_C is deterministic.
`width` multiplies every channel count and FC width.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cvaegan.families.cvaegan.config import ModelConfig

G_CHANNELS = (256, 256, 128, 92, 64)
G_KERNELS = (3, 3, 5, 5, 5, 5)


def _ch(c: int, width: float, minimum: int = 8) -> int:
    return max(minimum, int(round(c * width)))


def _levels(resolution: int, base: int) -> int:
    n = int(math.log2(resolution // base))
    assert base * 2**n == resolution, (resolution, base)
    return n


class Encoder(nn.Module):
    """E(x, c) → (μ, log σ²), feature. q(z|x, c) is N(μ, diag(exp(log σ²)))."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        w = cfg.width
        stem = _ch(32, w)
        stages = [_ch(c, w) for c in (64, 128, 256, 256, 256, 256)][: _levels(cfg.resolution, 4)]
        self.stem = nn.Sequential(nn.Conv2d(3, stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem),
                                  nn.ReLU(inplace=True))
        blocks, cin = [], stem
        for cout in stages:
            blocks.append(ResidualBlock(cin, cout, stride=2))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        hidden = _ch(512, w, 32)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(cin * 16, hidden), nn.ReLU(inplace=True))
        self.fc_out = nn.Linear(hidden + cfg.num_classes, 2 * cfg.latent_dim)  # class merged here
        self.latent_dim = cfg.latent_dim

    def forward(self, x: Tensor, c: Tensor) -> tuple[tuple[Tensor, Tensor], Tensor]:
        feature = self.fc(self.blocks(self.stem(x)))
        mu, logvar = self.fc_out(torch.cat([feature, c.to(feature.dtype)], dim=1)).chunk(2, dim=1)
        return (mu, logvar), feature


class ResidualBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.body(x) + self.skip(x))


class Generator(nn.Module):
    """G(z, c) → image in [-1, 1], feature (the input of G's second FC layer)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        w = cfg.width
        self.base = max(2, cfg.resolution // 64)
        n_up = _levels(cfg.resolution, self.base)
        chans = [_ch(c, w) for c in G_CHANNELS] + [3]
        hidden = _ch(1024, w, 64)
        self.fc1 = nn.Sequential(nn.Linear(cfg.latent_dim + cfg.num_classes, hidden), nn.ReLU(inplace=True))
        self.fc2 = nn.Linear(hidden, chans[0] * self.base**2)
        self.fc2_act = nn.Sequential(nn.BatchNorm2d(chans[0]), nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        cin = chans[0]
        for i, (cout, k) in enumerate(zip(chans, G_KERNELS)):
            if i >= len(G_KERNELS) - n_up:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
            last = i == len(G_KERNELS) - 1
            layers.append(nn.Conv2d(cin, cout, k, 1, k // 2, bias=last))
            layers += [nn.Tanh()] if last else [nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            cin = cout
        self.convs = nn.Sequential(*layers)
        self.c0 = chans[0]
        _dcgan_init(self)

    def forward(self, z: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        feature = self.fc1(torch.cat([z, c.to(z.dtype)], dim=1))
        h = self.fc2(feature).view(-1, self.c0, self.base, self.base)
        return self.convs(self.fc2_act(h)), feature


class Discriminator(nn.Module):
    """D(x) → real/fake logit, f_D (flattened final 4×4 map, the input of D's last FC)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        n = _levels(cfg.resolution, 4)
        chans = [_ch(min(64 * 2**i, 512), cfg.width) for i in range(n)]
        layers: list[nn.Module] = []
        cin = 3
        for i, cout in enumerate(chans):
            layers.append(nn.Conv2d(cin, cout, 4, 2, 1, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            cin = cout
        self.convs = nn.Sequential(*layers, nn.Flatten())
        self.feature_dim = cin * 16
        self.fc = nn.Linear(self.feature_dim, 1)
        _dcgan_init(self)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        feature = self.convs(x)
        return self.fc(feature).squeeze(1), feature


class Classifier(nn.Module):
    """C(x) → K class logits (softmax posterior P(c|x), Eq. 3), f_C (input of C's last FC)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        w = cfg.width
        s = cfg.resolution // 32
        k = 2 * s + 3
        c1, c2, c3, c4, c5 = (_ch(c, w) for c in (64, 192, 384, 256, 256))
        hidden = _ch(4096, w, 64)

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


def _dcgan_init(module: nn.Module) -> None:
    """DCGAN's N(0, 0.02) init for the adversarial pair; E and C keep PyTorch's defaults."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


BUILDERS = {"E": Encoder, "G": Generator, "D": Discriminator, "C": Classifier}


def build_networks(cfg: ModelConfig, names: tuple[str, ...]) -> nn.ModuleDict:
    """The named networks (those the model trains), by name."""
    return nn.ModuleDict({name: BUILDERS[name](cfg) for name in names})

