"""Images/s of one full CVAE-GAN training step (Algorithm 1 lines 2–18) at 32, 64 and 128, the
FLOPs per trained image, the device's measured dense matmul rate in the same run, and the
utilisation that follows. Prints a table; writes JSON to benchmarks/results/.

FLOPs are counted by `torch.utils.flop_counter.FlopCounterMode` over one real training step
(forward and backward of every network, as executed), i.e. 2 FLOPs per multiply-accumulate of
convolutions and matmuls; elementwise ops (BN, activations, optimiser) are not counted, as is
usual for utilisation figures. A hand count of the forward MACs from layer shapes is printed
beside it as an independent check.

    python benchmarks/train_throughput.py --resolutions 32 64 --batch-size 64 --width 1.0
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cvaegan_cli.device import autocast, configure, memory_format, resolve_device
from models import CVAEGAN, CVAEGANConfig, ModelConfig
from models.algorithm import make_optimizers, train_step


def matmul_rate(device: torch.device, dtype: torch.dtype, n: int, seconds: float = 2.0) -> float:
    """Sustained FLOP/s of an n×n×n matmul (the device's practical dense peak)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    _sync(device)
    iters, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        iters += 1
    _sync(device)
    return 2 * n**3 * iters / (time.perf_counter() - t0)


def hand_count_forward_macs(model: CVAEGAN, batch: torch.Tensor, labels: torch.Tensor) -> int:
    """MACs of every Conv2d/Linear call in one step's forward passes, from the layers' shapes."""
    macs = 0

    def hook(mod: nn.Module, inp: tuple, out: torch.Tensor) -> None:
        nonlocal macs
        if isinstance(mod, nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
            macs += out.numel() * k
        elif isinstance(mod, nn.Linear):
            macs += out.numel() * mod.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        from models.algorithm import LOSSES_OF
        LOSSES_OF[model.cfg.model.model](model, batch, labels, torch.Generator(batch.device).manual_seed(0))
    finally:
        for h in handles:
            h.remove()
    return macs


def bench(res: int, batch: int, width: float, device: torch.device, steps: int, model_kind: str) -> dict:
    torch.manual_seed(0)
    mf = memory_format(device)
    model = CVAEGAN(CVAEGANConfig(ModelConfig(num_classes=100, resolution=res, width=width, model=model_kind)))
    model = model.to(device, memory_format=mf)
    opts = make_optimizers(model)
    gen = torch.Generator(device=device).manual_seed(0)
    x = (torch.rand(batch, 3, res, res, device=device) * 2 - 1).contiguous(memory_format=mf)
    y = torch.randint(0, 100, (batch,), device=device)
    fwd_macs = hand_count_forward_macs(model, x, y)
    counter = FlopCounterMode(display=False)
    with counter:
        train_step(model, opts, x, y, gen, autocast(device))
    flops_step = counter.get_total_flops()
    for _ in range(2):
        train_step(model, opts, x, y, gen, autocast(device))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        train_step(model, opts, x, y, gen, autocast(device))
    _sync(device)
    dt = (time.perf_counter() - t0) / steps
    return {
        "resolution": res, "batch_size": batch, "width": width, "model": model_kind,
        "step_s": dt, "images_per_s": batch / dt,
        "flops_per_image": flops_step / batch, "hand_forward_macs_per_image": fwd_macs / batch,
        "achieved_flops": flops_step / dt,
        "peak_mem_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
        "params_m": {k: sum(p.numel() for p in n.parameters()) / 1e6 for k, n in model.nets.items()},
    }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--resolutions", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--batch-size", type=int, default=None, help="default: 256 on CUDA, 32 on the CPU")
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--model", default="cvaegan")
    ap.add_argument("--steps", type=int, default=None, help="timed steps (default: 20 on CUDA, 3 on the CPU)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args()

    device = resolve_device(args.device)
    configure(device)
    batch = args.batch_size or (256 if device.type == "cuda" else 32)
    steps = args.steps or (20 if device.type == "cuda" else 3)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    peak = matmul_rate(device, dtype, 8192 if device.type == "cuda" else 1024)
    rows = [bench(r, batch, args.width, device, steps, args.model) for r in args.resolutions]
    for r in rows:
        r["utilisation"] = r["achieved_flops"] / peak

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(f"device: {device} ({name}), threads {torch.get_num_threads()}, matmul {dtype}: {peak / 1e9:,.1f} GFLOP/s")
    print(f"{'res':>4} {'batch':>5} {'img/s':>9} {'GFLOP/img':>10} {'fwd GMAC/img (hand)':>20} "
          f"{'achieved GFLOP/s':>17} {'util':>6} {'peak GiB':>9}")
    for r in rows:
        mem = f"{r['peak_mem_gib']:.2f}" if r["peak_mem_gib"] is not None else "-"
        print(f"{r['resolution']:>4} {r['batch_size']:>5} {r['images_per_s']:>9.1f} {r['flops_per_image'] / 1e9:>10.2f} "
              f"{r['hand_forward_macs_per_image'] / 1e9:>20.3f} {r['achieved_flops'] / 1e9:>17.1f} "
              f"{r['utilisation']:>6.1%} {mem:>9}")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"train_throughput_{device.type}.json"
    out.write_text(json.dumps({"device": str(device), "device_name": name, "matmul_dtype": str(dtype),
                               "matmul_flops": peak, "threads": torch.get_num_threads(),
                               "torch": str(torch.__version__), "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
