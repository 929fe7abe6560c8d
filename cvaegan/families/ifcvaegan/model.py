"""`IFCVAEGAN`: the networks of the attribute-editing model and its inference: encode, read the
attributes, reconstruct, and edit (the same z with other attribute values)."""

from __future__ import annotations


import torch
from torch import Tensor, nn

from cvaegan.core.updates import eval_mode
from cvaegan.families.ifcvaegan.config import IFConfig
from cvaegan.families.ifcvaegan.networks import build_networks


class IFCVAEGAN(nn.Module):
    def __init__(self, cfg: IFConfig):
        super().__init__()
        self.cfg = cfg
        self.nets = build_networks(cfg.model, cfg.networks)

    def __getattr__(self, name: str):  # E, G, D, A as attributes
        if name in ("E", "G", "D", "A"):
            return self._modules["nets"][name]
        return super().__getattr__(name)

    @property
    def num_classes(self) -> int:
        """The length of the condition y (here: the number of attributes)."""
        return self.cfg.model.num_classes

    @property
    def latent_dim(self) -> int:
        return self.cfg.model.latent_dim

    @torch.no_grad()
    def generate(self, z: Tensor, y: Tensor) -> Tensor:
        """x = G(z, y) in [-1, 1] (G in eval mode); y is the attribute vector, 0/1 or in between."""
        with eval_mode(self.G):
            return self.G(z, y)[0].float()

    @torch.no_grad()
    def encode(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(μ, log σ², P(attribute | x)) from E in eval mode."""
        with eval_mode(self.E):
            (mu, logvar), logits, _ = self.E(x)
            return mu.float(), logvar.float(), torch.sigmoid(logits.float())

    @torch.no_grad()
    def attributes(self, x: Tensor) -> Tensor:
        """E's reading of each attribute: P(y_i = 1 | x), (N, A)."""
        return self.encode(x)[2]

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """x̂ = G(μ(x), ŷ(x)): the deterministic reconstruction, E's own reading of the attributes."""
        mu, _, y_hat = self.encode(x)
        return self.generate(mu, y_hat)

    @torch.no_grad()
    def edit(self, x: Tensor, mask: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        """G(μ(x), y') where y' is E's reading ŷ(x) with the attributes under `mask` (N, A) bool
        set to `values` (N, A): the identity code z is kept, only the named attributes change.
        Returns (edited images, y')."""
        mu, _, y_hat = self.encode(x)
        y_new = torch.where(mask.to(y_hat.device), values.to(y_hat), y_hat)
        return self.generate(mu, y_new), y_new
