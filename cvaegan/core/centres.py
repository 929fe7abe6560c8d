"""Moving historical averages of feature centres for Eq. 2 (global f_D) and Eq. 4 (per-class f_C).

§3.1–3.2: the centres are estimated from minibatches "using moving historical averages", for
both real and generated samples, because a minibatch holds only a few samples of each class.
The state lives in buffers (so it is checkpointed and survives across batches); per class it
covers all K classes, and a class absent from a batch keeps its centre and still counts in Eq. 4.

Gradient: the stored centres are constants; the new fake centre
    m_fake ← d·m_fake_old + (1 − d)·mean_batch f(G(z))
carries the gradient of the current batch's term, which is how G learns from Eq. 2 and Eq. 4.
Real centres are targets and carry none. A centre's first update takes the batch mean as is
(no bias towards the zero initial value).

`reduce` hooks let data-parallel training sum batch statistics across processes before the
update, so that every rank holds the same centres.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

Reduce = Callable[[Tensor], Tensor]


class FeatureCentres(nn.Module):
    def __init__(self, d_dim: int, c_dim: int, num_classes: int, decay: float):
        super().__init__()
        self.decay = decay
        self.register_buffer("d_real", torch.zeros(d_dim))
        self.register_buffer("d_fake", torch.zeros(d_dim))
        self.register_buffer("d_seen", torch.zeros((), dtype=torch.bool))
        self.register_buffer("c_real", torch.zeros(num_classes, c_dim))
        self.register_buffer("c_fake", torch.zeros(num_classes, c_dim))
        self.register_buffer("c_seen_real", torch.zeros(num_classes, dtype=torch.bool))
        self.register_buffer("c_seen_fake", torch.zeros(num_classes, dtype=torch.bool))

    def update_d(self, f_real: Tensor, f_fake: Tensor, reduce: Reduce | None = None) -> tuple[Tensor, Tensor]:
        """Algorithm 1 line 10 with moving averages: returns (real centre, fake centre with grad)."""
        sums = torch.stack([f_real.detach().float().sum(0), f_fake.float().sum(0)])
        counts = torch.tensor([f_real.shape[0], f_fake.shape[0]], device=sums.device, dtype=torch.float32)
        if reduce is not None:
            sums, counts = reduce(sums), reduce(counts)
        batch = sums / counts[:, None]
        seen = self.d_seen.clone()  # autograd keeps the mask; the buffer changes below
        real = torch.where(seen, self.decay * self.d_real + (1 - self.decay) * batch[0], batch[0]).detach()
        fake = torch.where(seen, self.decay * self.d_fake + (1 - self.decay) * batch[1], batch[1])
        self.d_real.copy_(real.detach())
        self.d_fake.copy_(fake.detach())
        self.d_seen.fill_(True)
        return real, fake

    def update_c(self, f_real: Tensor, y_real: Tensor, f_fake: Tensor, y_fake: Tensor,
                 reduce: Reduce | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Algorithm 1 line 12: per-class moving averages of f_C for real (labels y_real) and
        generated (sampled classes y_fake) samples. Returns (real centres [K, d], fake centres
        [K, d] with grad for the classes in this batch, valid [K] = both centres seen)."""
        real, seen_r = self._update_classes(self.c_real, self.c_seen_real.clone(), f_real.detach(), y_real, reduce)
        fake, seen_f = self._update_classes(self.c_fake, self.c_seen_fake.clone(), f_fake, y_fake, reduce)
        self.c_real.copy_(real.detach())
        self.c_fake.copy_(fake.detach())
        self.c_seen_real.copy_(seen_r)
        self.c_seen_fake.copy_(seen_f)
        return real, fake, seen_r & seen_f

    def _update_classes(self, old: Tensor, seen: Tensor, f: Tensor, y: Tensor,
                        reduce: Reduce | None) -> tuple[Tensor, Tensor]:
        k = old.shape[0]
        sums = torch.zeros_like(old).index_add(0, y, f.float())
        # index_add, not bincount: bincount sizes its output from the data, a host read on CUDA
        counts = old.new_zeros(k).index_add_(0, y, torch.ones_like(y, dtype=old.dtype))
        if reduce is not None:
            sums, counts = reduce(sums), reduce(counts)
        present = (counts > 0)[:, None]
        batch = sums / counts.clamp(min=1)[:, None]
        blended = torch.where(seen[:, None], self.decay * old + (1 - self.decay) * batch, batch)
        return torch.where(present, blended, old), seen | present[:, 0]
