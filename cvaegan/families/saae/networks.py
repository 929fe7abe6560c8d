"""The networks of the Stylized Adversarial Autoencoder (SAAE, §2.1–2.3 and Fig. 2).

  Enc_c  3 convolutions without down-sampling: the content map z_c keeps the content image's
         layout (no fully connected layer: "the two-dimensional spatial information of content
         images needs to be preserved").
  Enc_s  3 convolutions, then an FC layer to the style vector z_s, which is broadcast back to the
         content map's size.
  Dec    the two maps concatenated on channels (half content, half style), 3 convolutions to the
         image; tanh, as every decoder here works in [-1, 1] (the paper's sigmoid on [0, 1]).
  D      3 convolutions, a 2×2 max-pool after the first, 2 FC layers to k + 1 logits (one for a
         binary D).
BN on every convolution but the image-producing one, LeakyReLU 0.2 everywhere but the outputs.
Kernels are 5×5 so that three layers see a 13-pixel neighbourhood each side of the encoder and
decoder together (25 px: a whole 32×32 glyph) without any down-sampling; the paper gives no
kernel size. D's second and third convolutions have stride 2 to keep its FC layer small (the
paper names only the max-pool).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from cvaegan.core.arch import ModelConfig
from cvaegan.core.layers import ch, dcgan_init

KERNEL = 5


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, KERNEL, stride, KERNEL // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.LeakyReLU(0.2, inplace=True))


class ContentEncoder(nn.Module):
    """Enc_c(c) → z_c, a (C, R, R) map."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c = ch(64, cfg.width)
        self.convs = nn.Sequential(_conv(3, c), _conv(c, c), _conv(c, c))
        self.channels = c

    def forward(self, x: Tensor) -> Tensor:
        return self.convs(x)


class StyleEncoder(nn.Module):
    """Enc_s(s) → z_s, a vector of `latent_dim` numbers. The last convolution narrows to a few
    channels so the FC over the whole map stays small."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c = ch(64, cfg.width)
        narrow = ch(16, cfg.width, 4)
        self.convs = nn.Sequential(_conv(3, c), _conv(c, c), _conv(c, narrow))
        self.fc = nn.Linear(narrow * cfg.resolution ** 2, cfg.latent_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.convs(x).flatten(1))


class Decoder(nn.Module):
    """Dec([z_c; broadcast(W z_s)]) → image. z_s is mapped to as many channels as z_c has, so the
    combined map is half content, half style (§2.3)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c = ch(64, cfg.width)
        self.style = nn.Linear(cfg.latent_dim, c)
        self.convs = nn.Sequential(_conv(2 * c, c), _conv(c, c),
                                   nn.Conv2d(c, 3, KERNEL, 1, KERNEL // 2), nn.Tanh())

    def forward(self, z_c: Tensor, z_s: Tensor) -> Tensor:
        s = self.style(z_s)[:, :, None, None].expand(-1, -1, *z_c.shape[2:])
        return self.convs(torch.cat([z_c, s.to(z_c.dtype)], 1))


class ClassDiscriminator(nn.Module):
    """D(x) → (logits, feature): k + 1 logits (real classes, then "generated") or one logit."""

    def __init__(self, cfg: ModelConfig, outputs: int):
        super().__init__()
        c = ch(64, cfg.width)
        self.convs = nn.Sequential(_conv(3, c), nn.MaxPool2d(2), _conv(c, 2 * c, 2), _conv(2 * c, 4 * c, 2))
        side = cfg.resolution // 8
        hidden = ch(512, cfg.width, 32)
        self.fc1 = nn.Sequential(nn.Flatten(), nn.Linear(4 * c * side * side, hidden), nn.LeakyReLU(0.2, inplace=True))
        self.fc2 = nn.Linear(hidden, outputs)
        dcgan_init(self)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        feature = self.fc1(self.convs(x))
        return self.fc2(feature), feature


def build_networks(cfg: ModelConfig, discriminator: str) -> nn.ModuleDict:
    outputs = cfg.num_classes + 1 if discriminator == "multi" else 1
    return nn.ModuleDict({"Ec": ContentEncoder(cfg), "Es": StyleEncoder(cfg), "Dec": Decoder(cfg),
                          "D": ClassDiscriminator(cfg, outputs)})
