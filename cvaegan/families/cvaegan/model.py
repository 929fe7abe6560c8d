"""`CVAEGAN`: the networks of one model kind, its feature centres, and inference helpers shared by
every subcommand (sample, morph, inpaint, augment, superres)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from cvaegan.core.centres import FeatureCentres
from cvaegan.core.condition import one_hot
from cvaegan.families.cvaegan.config import CVAEGANConfig
from cvaegan.families.cvaegan.networks import build_networks


class CVAEGAN(nn.Module):
    def __init__(self, cfg: CVAEGANConfig):
        super().__init__()
        self.cfg = cfg
        self.nets = build_networks(cfg.model, cfg.networks)
        self.centres: FeatureCentres | None = None
        if "D" in self.nets and "C" in self.nets and cfg.model.model in ("cvaegan", "fmcgan"):
            self.centres = FeatureCentres(self.nets["D"].feature_dim, self.nets["C"].fc_out.in_features,
                                          cfg.model.num_classes, cfg.loss.centre_decay)

    def __getattr__(self, name: str):  # E, G, D, C as attributes
        if name in ("E", "G", "D", "C"):
            nets = self._modules["nets"]
            if name in nets:
                return nets[name]
            raise AttributeError(f"model '{self.cfg.model.model}' has no network {name}")
        return super().__getattr__(name)

    @property
    def num_classes(self) -> int:
        return self.cfg.model.num_classes

    @property
    def latent_dim(self) -> int:
        return self.cfg.model.latent_dim

    def class_vector(self, labels: Tensor) -> Tensor:
        """One-hot class condition c for integer labels."""
        return one_hot(labels, self.num_classes)

    @torch.no_grad()
    def generate(self, z: Tensor, c: Tensor) -> Tensor:
        """x = G(z, c) in [-1, 1], with G in eval mode (BN running statistics)."""
        was_training = self.G.training
        self.G.eval()
        try:
            return self.G(z, c)[0].float()
        finally:
            self.G.train(was_training)

    @torch.no_grad()
    def encode(self, x: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        """(μ, log σ²) of q(z|x, c), E in eval mode."""
        was_training = self.E.training
        self.E.eval()
        try:
            (mu, logvar), _ = self.E(x, c)
            return mu.float(), logvar.float()
        finally:
            self.E.train(was_training)

    @torch.no_grad()
    def reconstruct(self, x: Tensor, c: Tensor) -> Tensor:
        """G(μ(x, c), c): the deterministic reconstruction used by morph, inpaint and superres."""
        mu, _ = self.encode(x, c)
        return self.generate(mu, c)

    @torch.no_grad()
    def classify(self, x: Tensor) -> Tensor:
        """C's posterior P(c|x), C in eval mode."""
        was_training = self.C.training
        self.C.eval()
        try:
            return torch.softmax(self.C(x)[0].float(), dim=1)
        finally:
            self.C.train(was_training)
