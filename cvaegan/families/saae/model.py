"""`SAAE`: the stylized adversarial autoencoder and its inference — draw a content image in the
style of another image, or a class (its stored content image) in a style.

The model keeps each class's plain content image (the class in the dataset's reference style, e.g.
the reference font) as a buffer, so a checkpoint alone can draw "class A in the style of this
image". It also counts its training steps in a buffer: the three-step schedule depends on the step,
and a resumed run must continue in the same stage.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from cvaegan.core.updates import eval_mode
from cvaegan.families.saae.config import SAAEConfig
from cvaegan.families.saae.networks import build_networks


class SAAE(nn.Module):
    def __init__(self, cfg: SAAEConfig):
        super().__init__()
        self.cfg = cfg
        self.nets = build_networks(cfg.model, cfg.loss.discriminator)
        r = cfg.model.resolution
        self.register_buffer("contents", torch.zeros(cfg.model.num_classes, 3, r, r))
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self.step = 0  # the buffer's value on the host (read once per load, never per step)
        self.register_load_state_dict_post_hook(_sync_step)

    def __getattr__(self, name: str) -> Any:  # Ec, Es, Dec, D as attributes
        if name in ("Ec", "Es", "Dec", "D"):
            return self._modules["nets"][name]
        return super().__getattr__(name)

    @property
    def num_classes(self) -> int:
        return self.cfg.model.num_classes

    @property
    def latent_dim(self) -> int:
        """The size of the style vector z_s."""
        return self.cfg.model.latent_dim

    def set_contents(self, images: Tensor) -> None:
        """Store the classes' content images, (k, 3, R, R) in [-1, 1], row k = class k."""
        if tuple(images.shape) != tuple(self.contents.shape):
            raise ValueError(f"content images must be {tuple(self.contents.shape)}, got {tuple(images.shape)}")
        self.contents.copy_(images)

    def count_step(self) -> None:
        self.step += 1
        self.steps_done.add_(1)  # on the device, no host sync

    def forward_g(self, content: Tensor, style: Tensor) -> Tensor:
        """G(c, s) = Dec(Enc_c(c), Enc_s(s)) in the networks' current mode (training uses it)."""
        return self.Dec(self.Ec(content), self.Es(style))

    @torch.no_grad()
    def stylize(self, content: Tensor, style: Tensor) -> Tensor:
        """The content images drawn in the style images' style, in [-1, 1] (eval mode)."""
        with eval_mode(self.nets):
            return self.forward_g(content, style).float()

    @torch.no_grad()
    def stylize_class(self, labels: Tensor, style: Tensor) -> Tensor:
        """Class `labels[i]` (its stored content image) in the style of `style[i]`."""
        return self.stylize(self.contents[labels.to(self.contents.device)].to(style.dtype), style)

    @torch.no_grad()
    def generate(self, style: Tensor, c: Tensor) -> Tensor:
        """The training grid's call `generate(z, c)`: SAAE has no prior, its latent comes from a
        style image, so `style` takes z's place and c (class vectors) picks the contents."""
        return self.stylize_class(c.argmax(1), style)

    @torch.no_grad()
    def classify(self, x: Tensor) -> Tensor:
        """D's class probabilities over the k real classes (multi-class D only)."""
        if self.cfg.loss.discriminator != "multi":
            raise ValueError("a binary D does not classify")
        with eval_mode(self.D):
            return torch.softmax(self.D(x)[0].float()[:, : self.num_classes], 1)


def _sync_step(module: nn.Module, incompatible: Any) -> None:
    module.step = int(module.steps_done)
