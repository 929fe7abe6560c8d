"""The README's recommended settings for training on a CPU within minutes, per resolution.

A small budget on 2 CPU cores buys a few thousand steps; the paper's networks (width 1, z of 256)
need far more than that to be class-distinct and clean, so these narrower, smaller-latent settings
are what `benchmarks/fidelity.py` uses. The 32×32 entry (the demo's) was chosen by a sweep; at
64×64, width 0.5 beat 0.25 and 0.75 for a 20-minute CVAE-GAN run on the glint faces (README,
"Image fidelity"); 128 and 256 are scaled guesses.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CpuSettings:
    width: float
    batch_size: int
    latent_dim: int
    # Loss fields that differ from the default preset at this resolution (`--set KEY=VALUE`).
    loss: tuple[tuple[str, float], ...] = ()


# At 64×64, λ3 = λ4 = 0.04: under the sum convention the pixel term grows with the pixel count
# while Eqs. 2 and 4 do not, so the 32×32 weights (0.01) count a quarter as much; 0.04 raised the
# judge's top-1 on both seeds measured (README, "Image fidelity"). 128 and 256 are not measured.
_CPU = {32: CpuSettings(0.25, 64, 32),
        64: CpuSettings(0.5, 32, 64, (("lambda_gd", 0.04), ("lambda_gc", 0.04))),
        128: CpuSettings(0.5, 32, 128), 256: CpuSettings(0.5, 16, 128)}


def cpu_settings(resolution: int) -> CpuSettings:
    """Recommended width, batch size, z size and loss fields for a CPU budget of minutes at
    `resolution`."""
    if resolution not in _CPU:
        raise ValueError(f"no recommended CPU settings for resolution {resolution}; use one of {sorted(_CPU)}")
    return _CPU[resolution]
