"""Images/s of `cvaegan augment`: the generator alone (batched, no grad, bf16 autocast on CUDA) and
the whole pipeline (generator + PNG encoding + atomic writes in writer threads, fsync on and off),
for the paper's network at 128 (width 1.0) and the tiny test model (width 0.25 at 32). Projects
the time of §5.6's 5000 identities × 100 images. Weights are random: speed does not depend on them.
Prints a table; writes JSON to benchmarks/results/.

    python benchmarks/augment_throughput.py                      # both configs, this device
    python benchmarks/augment_throughput.py --configs paper --images 2048 --batch-size 512
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console

from cvaegan.apps.augment import AugmentOptions, augment, plan_units, render_batch
from cvaegan.families.cvaegan import CVAEGAN, CVAEGANConfig, ModelConfig
from cvaegan.runtime.device import configure, memory_format, resolve_device
from cvaegan.session import Session

CONFIGS = {  # name: (resolution, width, classes) — 530 = FaceScrub's identities
    "paper": (128, 1.0, 530),
    "tiny": (32, 0.25, 6),
}
PAPER_IMAGES = 5000 * 100


def build(resolution: int, width: float, classes: int, device: torch.device) -> Session:
    torch.manual_seed(0)
    model = CVAEGAN(CVAEGANConfig(ModelConfig(num_classes=classes, resolution=resolution, width=width)))
    model = model.to(device, memory_format=memory_format(device)).eval()  # as `inference_model` loads it
    return Session(model, [f"id{k}" for k in range(classes)], device, Path("<random weights>"), 0)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def generator_rate(loaded: Session, images: int, batch: int) -> float:
    opts = AugmentOptions(new_identities=max(1, images // 100 + 1), per_identity=100, batch_size=batch)
    units = plan_units(loaded.class_names, opts)
    render_batch(loaded, units, 0, min(batch, images), {})  # warm-up (cuDNN autotune, allocator)
    _sync(loaded.device)
    t0, done, cache = time.perf_counter(), 0, {}
    while done < images:
        n = min(batch, images - done)
        render_batch(loaded, units, done, done + n, cache)
        done += n
    _sync(loaded.device)
    return images / (time.perf_counter() - t0)


def pipeline_rate(loaded: Session, images: int, batch: int, writers: int, fsync: bool, root: Path) -> float:
    per = 100
    opts = AugmentOptions(new_identities=max(1, images // per), per_identity=min(per, images), batch_size=batch,
                          writers=writers, fsync=fsync)
    out = root / f"run_{fsync}"
    res = augment(loaded, out, opts, console=Console(quiet=True))
    shutil.rmtree(out, ignore_errors=True)
    return res.images_per_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--images", type=int, default=None, help="images per measurement (default: 4096 on CUDA; "
                    "on the CPU 64 for paper, 1000 for tiny)")
    ap.add_argument("--batch-size", type=int, default=None, help="default: 512 on CUDA, 64 on the CPU")
    ap.add_argument("--writers", type=int, default=min(8, os.cpu_count() or 1))
    ap.add_argument("--device", default="auto")
    ap.add_argument("--tmp", type=Path, default=None, help="where the pipeline runs write (default: system temp)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args()
    device = resolve_device(args.device)
    configure(device)
    cuda = device.type == "cuda"
    batch = args.batch_size or (512 if cuda else 64)
    rows = []
    root = Path(tempfile.mkdtemp(prefix="cvaegan_augbench_", dir=args.tmp))
    try:
        for name in args.configs:
            res, width, classes = CONFIGS[name]
            images = args.images or (4096 if cuda else (64 if name == "paper" else 1000))
            loaded = build(res, width, classes, device)
            gen = generator_rate(loaded, images, batch)
            full = pipeline_rate(loaded, images, batch, args.writers, True, root)
            nosync = pipeline_rate(loaded, images, batch, args.writers, False, root)
            best = max(full, nosync)
            rows.append({"config": name, "resolution": res, "width": width, "classes": classes, "images": images,
                         "batch_size": batch, "writers": args.writers, "generator_images_per_s": round(gen, 2),
                         "pipeline_images_per_s": round(full, 2), "pipeline_no_fsync_images_per_s": round(nosync, 2),
                         "projected_hours_5000x100": round(PAPER_IMAGES / full / 3600, 2),
                         "projected_hours_5000x100_no_fsync": round(PAPER_IMAGES / best / 3600, 2)})
    finally:
        shutil.rmtree(root, ignore_errors=True)
    dev_name = torch.cuda.get_device_name(device) if cuda else platform.processor() or platform.machine()
    print(f"\naugment throughput on {device} ({dev_name}, {torch.get_num_threads()} threads)")
    head = f"{'config':<7}{'res':>5}{'width':>6}{'images':>8}{'G img/s':>10}{'all img/s':>11}{'no-fsync':>10}{'5000×100':>11}"
    print(head)
    for r in rows:
        print(f"{r['config']:<7}{r['resolution']:>5}{r['width']:>6}{r['images']:>8}{r['generator_images_per_s']:>10.1f}"
              f"{r['pipeline_images_per_s']:>11.1f}{r['pipeline_no_fsync_images_per_s']:>10.1f}"
              f"{r['projected_hours_5000x100']:>10.1f}h")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"augment_throughput_{device.type}.json"
    out.write_text(json.dumps({"device": str(device), "device_name": dev_name, "torch": torch.__version__,
                               "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "rows": rows},
                              indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
