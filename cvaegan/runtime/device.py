"""Device and precision choice, and the fast paths (bf16 autocast, channels_last, TF32).

Precision `auto` means bf16 autocast wherever the hardware computes in bf16 natively: every CUDA
GPU that supports it, and CPUs with AVX512-BF16 or AMX (oneDNN then runs convolutions and matmuls
in bf16). Elsewhere it is fp32: emulated bf16 would be slower than fp32. Measured on this
project's 2-core AVX512-BF16 CPU, paper-sized networks, batch 32, one training step (images/s,
fp32 NCHW → fp32 channels_last → bf16 channels_last): 50 → 58 → 84 at 32², 25 → 31 → 51 at 64²,
6.9 → 9.1 → 17.4 at 128² (foreach Adam; the README's table has the current numbers). bf16
has fp32's exponent range, so no loss scaling is needed (unlike fp16); the losses themselves are
computed in fp32 (`cvaegan.core.losses`) and the optimisers keep fp32 weights.
"""

from __future__ import annotations

import contextlib

import torch

from cvaegan.runtime.errors import CvaeganError

DEVICE_CHOICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "bf16", "fp32")


def resolve_device(name: str) -> torch.device:
    name = name.lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise CvaeganError("--device cuda was asked for, but PyTorch sees no CUDA device "
                               "(use --device cpu or auto)")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise CvaeganError(f"unknown device '{name}'; use one of {', '.join(DEVICE_CHOICES)}")


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bf16 convolutions/matmuls in hardware."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        try:
            return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
        except AttributeError:  # private probes: absent in some builds, so assume no
            return False
    return False


def resolve_precision(device: torch.device, name: str = "auto") -> str:
    """'bf16' or 'fp32' for `device`; `auto` picks bf16 where it is native (see module doc)."""
    name = name.lower()
    if name not in PRECISIONS:
        raise CvaeganError(f"unknown precision '{name}'; use one of {', '.join(PRECISIONS)}")
    if name == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return name


def configure(device: torch.device) -> None:
    """TF32 matmuls/convs on CUDA: same speed class as bf16 for the fp32 parts, ample precision."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True


def autocast(device: torch.device, precision: str = "auto") -> contextlib.AbstractContextManager:
    """bf16 autocast (no grad scaler needed, unlike fp16) or plain fp32, per `resolve_precision`."""
    if resolve_precision(device, precision) == "bf16" and device.type in ("cuda", "cpu"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def memory_format(device: torch.device) -> torch.memory_format:
    """channels_last on CUDA (tensor cores) and on the CPU too, where oneDNN's convolutions are
    NHWC-native: +16–32% training images/s in the measurements of the module doc."""
    return torch.channels_last if device.type in ("cuda", "cpu") else torch.contiguous_format
