"""`OpenSet`: the networks of the identity-swap model and its inference: the identity vector of a
face, the attribute code of another, and the face drawn from the two."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from cvaegan.core.updates import eval_mode
from cvaegan.families.openset.config import OpenSetConfig
from cvaegan.families.openset.networks import build_networks, identity_dim, identity_vector


class OpenSet(nn.Module):
    def __init__(self, cfg: OpenSetConfig):
        super().__init__()
        self.cfg = cfg
        self.nets = build_networks(cfg.model, cfg.networks)

    def __getattr__(self, name: str):  # I, A, G, D (and C) as attributes; C is I when shared
        if name in ("I", "A", "G", "D", "C"):
            nets = self._modules["nets"]
            return nets[name] if name in nets else nets["I"]
        return super().__getattr__(name)

    @property
    def num_classes(self) -> int:
        """The number of training identities (I's softmax)."""
        return self.cfg.model.num_classes

    @property
    def latent_dim(self) -> int:
        """The size of the attribute code z_A."""
        return self.cfg.model.latent_dim

    @property
    def identity_dim(self) -> int:
        return identity_dim(self.cfg.model)

    @torch.no_grad()
    def identity(self, x: Tensor) -> Tensor:
        """f_I(x): the identity vector of each face as G takes it (`identity_vector`: I's feature at
        norm √identity_dim), (N, identity_dim), from I in eval mode."""
        with eval_mode(self.I):
            return identity_vector(self.I(x)[1])

    @torch.no_grad()
    def classify(self, x: Tensor) -> Tensor:
        """I's softmax over the training identities, (N, K)."""
        with eval_mode(self.I):
            return torch.softmax(self.I(x)[0].float(), dim=1)

    @torch.no_grad()
    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(μ, log σ²) of the attribute code z_A of each face, from A in eval mode."""
        with eval_mode(self.A):
            mu, logvar = self.A(x)
            return mu.float(), logvar.float()

    @torch.no_grad()
    def generate(self, z: Tensor, f: Tensor) -> Tensor:
        """x = G(f, z) in [-1, 1]: identity vectors f (N, identity_dim), attribute codes z (N, latent_dim)."""
        with eval_mode(self.G):
            return self.G(z, f)[0].float()

    @torch.no_grad()
    def swap(self, x_identity: Tensor, x_attributes: Tensor) -> Tensor:
        """x' = G(f_I(x_identity), μ_A(x_attributes)): the person of the first images with the pose,
        expression, light and background of the second (pairwise, (N, 3, R, R) each)."""
        return self.generate(self.encode(x_attributes)[0], self.identity(x_identity))
