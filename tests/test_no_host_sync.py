"""The training step never reads a tensor value back to the host: on CUDA each such read (`.item()`,
`bincount`'s size probe, boolean-mask indexing, ...) stalls the GPU until the queue drains. CUDA's
own sync checker needs a GPU, so this runs the CPU step under a dispatch mode that fails on every
aten op that needs a device→host read."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from cvaegan.data.dataset import DeviceBatches, ImageCache
from cvaegan.families.cvaegan import CVAEGAN, CVAEGANConfig, ModelConfig
from cvaegan.families.cvaegan.step import make_optimizers, train_step

SYNCING = {  # aten ops whose CUDA kernels copy a value to the host (or size an output from data)
    "_local_scalar_dense",  # .item(), float(t), bool(t), int(t)
    "bincount", "nonzero", "nonzero_static", "masked_select", "unique", "_unique", "_unique2",
    "unique_consecutive", "unique_dim", "repeat_interleave", "_assert_async", "equal", "allclose",
}


class _NoHostReads(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._schema.name.split("::")[-1]
        if name in SYNCING:
            self.seen.append(name)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("kind", ["cvaegan", "fmcgan", "cgan", "cvae"])
def test_a_training_step_reads_nothing_back_to_the_host(kind):
    torch.manual_seed(0)
    m = CVAEGAN(CVAEGANConfig(ModelConfig(num_classes=5, resolution=32, width=0.125, latent_dim=16, model=kind)))
    opts = make_optimizers(m)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(6, 3, 32, 32) * 2 - 1
    y = torch.tensor([0, 1, 2, 0, 1, 4])
    train_step(m, opts, x, y, gen)  # first step: optimiser state is created
    with _NoHostReads() as mode:
        logs = train_step(m, opts, x, y, gen)
    assert mode.seen == [], f"{kind}: host reads inside the step: {sorted(set(mode.seen))}"
    with _NoHostReads() as mode:  # the mode does see a read when there is one
        float(logs["loss_d" if kind != "cvae" else "loss_g"])
    assert mode.seen == ["_local_scalar_dense"]


def test_moving_a_batch_to_the_device_reads_nothing_back():
    """`DeviceBatches.to_device` (copy, flip, normalise on the device) is sync-free as well; its
    host side (memmap gather, sort) works on host tensors and is not checked here."""
    rng = np.random.default_rng(0)
    cache = ImageCache(rng.integers(0, 256, (8, 16, 16, 3), dtype=np.uint8), rng.integers(0, 2, 8), ["a", "b"],
                       [], None)  # type: ignore[arg-type]
    batches = DeviceBatches(cache, 4, torch.device("cpu"), memory_format=torch.channels_last)
    x, y, *_ = batches.host_batch(batches.indices(batches.epoch_order(torch.Generator().manual_seed(0)), 0))
    with _NoHostReads() as mode:
        xd = batches.to_device(x, y, gen=torch.Generator().manual_seed(1)).x
    assert mode.seen == [] and xd.shape == (4, 3, 16, 16) and xd.is_contiguous(memory_format=torch.channels_last)
    batches.close()
