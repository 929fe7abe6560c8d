"""The README's recommended settings for training on a CPU within minutes, per resolution.

A small budget on 2 CPU cores buys a few thousand steps; the paper's networks (width 1, z of 256)
need far more than that to be class-distinct and clean, so these narrower, smaller-latent settings
are what `benchmarks/fidelity.py` uses. The 32×32 entry (the demo's) was chosen by a sweep; the
64×64 one was measured once on the glint faces and is too wide for a 20-minute CVAE-GAN run
(README, "Image fidelity"); 128 and 256 are scaled guesses.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CpuSettings:
    width: float
    batch_size: int
    latent_dim: int


_CPU = {32: CpuSettings(0.25, 64, 32), 64: CpuSettings(0.5, 32, 64), 128: CpuSettings(0.5, 32, 128),
        256: CpuSettings(0.5, 16, 128)}


def cpu_settings(resolution: int) -> CpuSettings:
    """Recommended width, batch size and z size for a CPU budget of minutes at `resolution`."""
    if resolution not in _CPU:
        raise ValueError(f"no recommended CPU settings for resolution {resolution}; use one of {sorted(_CPU)}")
    return _CPU[resolution]
