"""Network building blocks shared by model families: the generator and discriminator layouts of
CVAE-GAN (§5 of Bao et al. 2017; every family that decodes images uses them), the residual
encoder trunk, channel scaling and DCGAN's init. Each network returns `(output, feature)`, where
`feature` is the input of its last fully connected layer.

Scaling with resolution R ∈ {32, 64, 128, 256} (128 is the paper's layout):
  G  2 FC layers → a 256×b×b map, then 6 convs with 256, 256, 128, 92, 64, 3 channels and
     kernels 3, 3, 5, 5, 5, 5, log2(R/b) of them preceded by 2× nearest up-sampling. At 128 (the
     paper's layout) b = 2 and every conv is preceded by one; at 256, b = 4. Below 128 the
     default `g_layout="early"` projects to b = 4 (DCGAN's 4×4), up-samples after the first conv
     and leaves the last convs at full resolution; "late" (cvaegan ≤ 0.1) projects to 2×2 and
     up-samples before the last convs, so at 32×32 the image came out of one 5×5 conv of a
     nearest-up-sampled 16-channel map. BN + ReLU after each conv but the last, tanh at the end.
  D  DCGAN: stride-2 4×4 convs (64, 128, 256, 512, 512 … channels, BN on all but the first,
     LeakyReLU 0.2) down to 4×4; f_D is the flattened 4×4 map; one logit.
  encoder trunk  a stem conv, then log2(R/4) residual stages that halve the map down to 4×4, and
     an FC to the feature.
`width` multiplies every channel count and FC width.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cvaegan.core.arch import ModelConfig

G_CHANNELS = (256, 256, 128, 92, 64)
G_KERNELS = (3, 3, 5, 5, 5, 5)


def ch(c: int, width: float, minimum: int = 8) -> int:
    return max(minimum, int(round(c * width)))


def levels(resolution: int, base: int) -> int:
    n = int(math.log2(resolution // base))
    assert base * 2**n == resolution, (resolution, base)
    return n


def encoder_trunk(cfg: ModelConfig) -> tuple[nn.Module, nn.Module, nn.Module, int]:
    """(stem, residual stages, FC to the feature, feature size) of the ResNet-style encoder: the
    modules are returned, not wrapped, so each family's encoder keeps its own attribute names (and
    so its checkpoints' state-dict keys)."""
    w = cfg.width
    stem_ch = ch(32, w)
    stages = [ch(c, w) for c in (64, 128, 256, 256, 256, 256)][: levels(cfg.resolution, 4)]
    stem = nn.Sequential(nn.Conv2d(3, stem_ch, 3, 1, 1, bias=False), nn.BatchNorm2d(stem_ch), nn.ReLU(inplace=True))
    blocks, cin = [], stem_ch
    for cout in stages:
        blocks.append(ResidualBlock(cin, cout, stride=2))
        cin = cout
    hidden = ch(512, w, 32)
    fc = nn.Sequential(nn.Flatten(), nn.Linear(cin * 16, hidden), nn.ReLU(inplace=True))
    return stem, nn.Sequential(*blocks), fc, hidden


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
        early = cfg.g_layout == "early"
        # The FC layer's map: 2×2 at 128 (the paper's six up-samplings), 4×4 at 256; below 128
        # "early" keeps 4×4 (DCGAN's projection) and "late" 2×2.
        self.base = cfg.resolution // 64 if cfg.resolution >= 128 else 4 if early else 2
        n_up = levels(cfg.resolution, self.base)
        n = len(G_KERNELS)
        # Which convs an up-sampling precedes: all six when six are needed; else "early" puts
        # them right after the first conv (which refines the FC's map), so the last convs work at
        # full resolution, and "late" before the last n_up convs.
        up = range(n) if n_up == n else range(1, 1 + n_up) if early else range(n - n_up, n)
        chans = [ch(c, w) for c in G_CHANNELS] + [3]
        hidden = ch(1024, w, 64)
        self.fc1 = nn.Sequential(nn.Linear(cfg.latent_dim + cfg.num_classes, hidden), nn.ReLU(inplace=True))
        self.fc2 = nn.Linear(hidden, chans[0] * self.base**2)
        self.fc2_act = nn.Sequential(nn.BatchNorm2d(chans[0]), nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        cin = chans[0]
        for i, (cout, k) in enumerate(zip(chans, G_KERNELS)):
            if i in up:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
            last = i == len(G_KERNELS) - 1
            layers.append(nn.Conv2d(cin, cout, k, 1, k // 2, bias=last))
            layers += [nn.Tanh()] if last else [nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            cin = cout
        self.convs = nn.Sequential(*layers)
        self.c0 = chans[0]
        dcgan_init(self)

    def forward(self, z: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        feature = self.fc1(torch.cat([z, c.to(z.dtype)], dim=1))
        h = self.fc2(feature).view(-1, self.c0, self.base, self.base)
        return self.convs(self.fc2_act(h)), feature


class Discriminator(nn.Module):
    """D(x) → real/fake logit, f_D (flattened final 4×4 map, the input of D's last FC)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        n = levels(cfg.resolution, 4)
        chans = [ch(min(64 * 2**i, 512), cfg.width) for i in range(n)]
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
        dcgan_init(self)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        feature = self.convs(x)
        return self.fc(feature).squeeze(1), feature


def dcgan_init(module: nn.Module) -> None:
    """DCGAN's N(0, 0.02) init for the adversarial pair; E and C keep PyTorch's defaults."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
