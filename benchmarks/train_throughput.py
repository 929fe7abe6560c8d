"""Images/s of one full CVAE-GAN training step (Algorithm 1 lines 2–18) at 32, 64 and 128, the
FLOPs per trained image, the device's measured dense matmul rate in the same run, and the
utilisation that follows (achieved FLOP/s ÷ matmul FLOP/s), peak memory, the data loader's
images/s measured on its own (uint8 memmap → device, normalise, flip: `DeviceBatches`), batched
generation images/s (no grad, bf16 on CUDA), and a torch.profiler summary of where a step's time
goes. Prints tables; writes JSON to benchmarks/results/.

The step runs in the precision `train` would use (`--precision auto`: bf16 autocast where the
device computes bf16 natively, CUDA or an AVX512-BF16/AMX CPU; else fp32), and utilisation is
taken against the matmul rate of that same dtype, so a bf16 step is not flattered by an fp32 peak.

FLOPs are counted by `torch.utils.flop_counter.FlopCounterMode` over one real training step
(forward and backward of every network, as executed), i.e. 2 FLOPs per multiply-accumulate of
convolutions and matmuls; elementwise ops (BN, activations, optimiser) are not counted, as is
usual for utilisation figures. A hand count of the forward MACs from layer shapes is printed
beside it as an independent check.

    python benchmarks/train_throughput.py --resolutions 32 64 --batch-size 64 --width 1.0
    python benchmarks/train_throughput.py --resolutions 128 --batch-size 256 --compile   # on a GPU
    python benchmarks/train_throughput.py --precision fp32     # fp32 step against the fp32 matmul rate

Peak memory: CUDA max_memory_allocated per resolution; on the CPU the process's peak RSS so far
(resolutions run in the order given, so it is an upper bound that includes earlier rows).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cvaegan.data.dataset import DeviceBatches, ImageCache
from cvaegan.families.cvaegan import CVAEGAN, CVAEGANConfig, ModelConfig
from cvaegan.families.cvaegan.step import make_optimizers, train_step
from cvaegan.runtime.device import autocast, configure, memory_format, resolve_device, resolve_precision
from cvaegan.runtime.distributed import configure_threads


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
        from cvaegan.families.cvaegan.step import LOSSES_OF
        LOSSES_OF[model.cfg.model.model](model, batch, labels, torch.Generator(batch.device).manual_seed(0))
    finally:
        for h in handles:
            h.remove()
    return macs


def bench(res: int, batch: int, width: float, device: torch.device, steps: int, model_kind: str,
          compile_: bool = False, profile: bool = False, precision: str = "auto") -> dict:
    torch.manual_seed(0)
    ac = lambda: autocast(device, precision)  # noqa: E731  (a fresh context manager per step)
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
        train_step(model, opts, x, y, gen, ac())
    flops_step = counter.get_total_flops()
    if compile_:  # after counting: FlopCounterMode needs the eager ops
        for net in model.nets.values():
            net.compile()
    t_warm = time.perf_counter()
    for _ in range(2 if not compile_ else 3):
        train_step(model, opts, x, y, gen, ac())
    _sync(device)
    warmup_s = time.perf_counter() - t_warm
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        train_step(model, opts, x, y, gen, ac())
    _sync(device)
    dt = (time.perf_counter() - t0) / steps
    peak = (torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)
    prof = profile_step(model, opts, x, y, gen, device, precision) if profile else None
    return {
        "resolution": res, "batch_size": batch, "width": width, "model": model_kind, "compile": compile_,
        "precision": resolve_precision(device, precision),
        "warmup_s": warmup_s, "step_s": dt, "images_per_s": batch / dt,
        "sample_images_per_s": sample_rate(model, batch, device, precision), "profile": prof,
        "flops_per_image": flops_step / batch, "hand_forward_macs_per_image": fwd_macs / batch,
        "achieved_flops": flops_step / dt,
        "peak_mem_gib": peak, "peak_mem_kind": "cuda max allocated" if device.type == "cuda" else "process peak RSS",
        "params_m": {k: sum(p.numel() for p in n.parameters()) / 1e6 for k, n in model.nets.items()},
    }


def sample_rate(model: CVAEGAN, batch: int, device: torch.device, precision: str = "auto", reps: int = 3) -> float:
    """Batched generation (what `cvaegan sample` / `augment` do): G in eval mode, no grad."""
    z = torch.randn(batch, model.latent_dim, device=device)
    c = model.class_vector(torch.randint(0, model.num_classes, (batch,), device=device))
    with autocast(device, precision):
        model.generate(z, c)
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(reps):
            model.generate(z, c)
        _sync(device)
    return reps * batch / (time.perf_counter() - t0)


def loader_rate(res: int, batch: int, device: torch.device, n: int, seconds: float = 2.0) -> float:
    """Images/s of the training loader on its own: batches gathered from a uint8 .npy memmap
    (the cache `cvaegan train` builds), moved (pinned, non-blocking on CUDA), normalised and
    flipped on the device — the same `DeviceBatches` the training loop uses."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cache.npy"
        rng = np.random.default_rng(0)
        np.save(path, rng.integers(0, 256, (n, res, res, 3), dtype=np.uint8))
        images = np.load(path, mmap_mode="r")
        cache = ImageCache(images, rng.integers(0, 100, n), [str(i) for i in range(100)], [], None)  # type: ignore[arg-type]
        batches = DeviceBatches(cache, batch, device, memory_format=memory_format(device))
        gen = torch.Generator(device=device).manual_seed(0)
        order = batches.epoch_order(torch.Generator().manual_seed(0))
        batches.batch(order, 0, gen)
        _sync(device)
        done, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for i in range(batches.steps_per_epoch):
                x = batches.batch(order, i, gen).x
                done += x.shape[0]
            _sync(device)
        rate = done / (time.perf_counter() - t0)
        batches.close()
        del images, cache
    return rate


CATEGORIES = [  # (label, substrings of aten op names), first match wins; self time only
    ("conv backward", ("convolution_backward", "conv2d_backward", "conv_depthwise2d_backward")),
    ("conv forward", ("convolution", "conv2d", "_nnpack")),
    ("matmul (FC layers)", ("addmm", "aten::mm", "bmm", "matmul", "linear")),
    ("batch norm", ("batch_norm",)),
    ("pool / upsample", ("pool", "upsample")),
    ("activations", ("relu", "threshold", "leaky", "tanh", "sigmoid", "elu")),
    ("elementwise / copies", ("add", "mul", "sub", "div", "copy", "fill", "where", "clone", "cat", "sum",
                              "mean", "pow", "exp", "zero", "empty", "index", "flip", "rand", "neg")),
]


def profile_step(model: CVAEGAN, opts: dict, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator,
                 device: torch.device, precision: str = "auto", steps: int = 2) -> dict:
    """torch.profiler over `steps` training steps: self time per op category and the top ops."""
    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=acts) as prof:
        for _ in range(steps):
            train_step(model, opts, x, y, gen, autocast(device, precision))
        _sync(device)
    attr = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    events = [(e.key, getattr(e, attr, 0.0) or 0.0) for e in prof.key_averages()]
    total = sum(t for _, t in events) or 1.0
    cats: dict[str, float] = {}
    for name, t in events:
        label = next((lab for lab, keys in CATEGORIES if any(k in name for k in keys)), "other")
        cats[label] = cats.get(label, 0.0) + t
    top = sorted(events, key=lambda e: -e[1])[:12]
    phases: dict[str, float] = {}
    for ev in prof.events():  # CPU self time by phase: under Adam's step, the autograd engine, or neither
        if ev.device_type.name != "CPU":
            continue
        phase = _phase(ev)
        phases[phase] = phases.get(phase, 0.0) + ev.self_cpu_time_total
    cpu_total = sum(phases.values()) or 1.0
    return {"clock": attr, "ms_per_step": total / 1e3 / steps,
            "phases_cpu": {k: v / cpu_total for k, v in sorted(phases.items(), key=lambda kv: -kv[1])},
            "categories": {k: v / total for k, v in sorted(cats.items(), key=lambda kv: -kv[1])},
            "top_ops": [{"op": n, "share": t / total, "ms_per_step": t / 1e3 / steps} for n, t in top]}


def _phase(ev) -> str:
    e = ev
    while e is not None:
        if e.name.startswith("Optimizer.step"):
            return "optimiser step"
        if e.name.startswith("autograd::engine::evaluate_function"):
            return "backward"
        e = e.cpu_parent
    return "forward (+ loss, centres)"


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
    ap.add_argument("--compile", action="store_true", help="torch.compile every network (as `train --compile`)")
    ap.add_argument("--precision", default="auto", help="auto, bf16 or fp32, as `train --precision`; the "
                    "utilisation's matmul rate is measured in the same dtype")
    ap.add_argument("--profile", type=int, default=None, metavar="RES",
                    help="profile 2 steps at this resolution (default: the second-smallest one given)")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--loader-images", type=int, default=2048, help="images in the loader's synthetic memmap")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args()

    device = resolve_device(args.device)
    configure(device)
    configure_threads(device, 1)
    batch = args.batch_size or (256 if device.type == "cuda" else 32)
    steps = args.steps or (20 if device.type == "cuda" else 3)
    precision = resolve_precision(device, args.precision)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    n_mm = 8192 if device.type == "cuda" else 1024
    peak = matmul_rate(device, dtype, n_mm)
    peak_fp32 = peak if dtype == torch.float32 else matmul_rate(device, torch.float32, n_mm)
    res_sorted = sorted(args.resolutions)
    prof_res = None if args.no_profile else (args.profile or res_sorted[min(1, len(res_sorted) - 1)])
    rows = []
    for r in args.resolutions:
        rows.append(bench(r, batch, args.width, device, steps, args.model, args.compile, profile=r == prof_res,
                          precision=precision))
        rows[-1]["loader_images_per_s"] = loader_rate(r, batch, device, args.loader_images)
    peak_after = matmul_rate(device, dtype, n_mm)
    for r in rows:
        r["utilisation"] = r["achieved_flops"] / peak

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(f"device: {device} ({name}), threads {torch.get_num_threads()}, training precision {precision}, "
          f"matmul {dtype}: {peak / 1e9:,.1f} GFLOP/s before, {peak_after / 1e9:,.1f} after the rows "
          f"(utilisation uses 'before'); fp32 matmul {peak_fp32 / 1e9:,.1f} GFLOP/s")
    print(f"{'res':>4} {'batch':>5} {'img/s':>9} {'GFLOP/img':>10} {'fwd GMAC/img':>13} "
          f"{'GFLOP/s':>9} {'util':>6} {'peak GiB':>9} {'loader img/s':>13} {'sample img/s':>13}")
    for r in rows:
        print(f"{r['resolution']:>4} {r['batch_size']:>5} {r['images_per_s']:>9.1f} {r['flops_per_image'] / 1e9:>10.2f} "
              f"{r['hand_forward_macs_per_image'] / 1e9:>13.3f} {r['achieved_flops'] / 1e9:>9.1f} "
              f"{r['utilisation']:>6.1%} {r['peak_mem_gib']:>9.2f} {r['loader_images_per_s']:>13,.0f} "
              f"{r['sample_images_per_s']:>13,.0f}")
    print(f"peak memory: {rows[0]['peak_mem_kind']}")
    for r in rows:
        if r["profile"]:
            p = r["profile"]
            print(f"\nwhere the time goes at {r['resolution']}x{r['resolution']}, batch {r['batch_size']} "
                  f"({p['clock']}, {p['ms_per_step']:.0f} ms a step):")
            print("  by phase (CPU self time): " + ", ".join(f"{k} {v:.0%}" for k, v in p["phases_cpu"].items()))
            print("  by op kind:")
            for k, v in p["categories"].items():
                print(f"    {k:<22} {v:>6.1%}")
            print("  top ops: " + ", ".join(f"{o['op']} {o['share']:.0%}" for o in p["top_ops"][:8]))
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"train_throughput_{device.type}.json"
    out.write_text(json.dumps({"device": str(device), "device_name": name, "matmul_dtype": str(dtype),
                               "precision": precision, "matmul_flops": peak, "matmul_flops_after": peak_after,
                               "matmul_flops_fp32": peak_fp32,
                               "threads": torch.get_num_threads(), "torch": str(torch.__version__),
                               "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
