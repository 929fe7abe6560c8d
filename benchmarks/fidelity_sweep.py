"""The loss-scale sweep behind the fidelity defaults (issue 16): train one configuration on a
dataset and measure reconstruction PSNR/SSIM, artifact ratios and C's accuracy on samples.

    python benchmarks/fidelity_sweep.py demo_out/data --name base --steps 1500 -r 32 --width .25 \
        --latent-dim 32 --set lambda_kl=3 --set convention=sum
    python benchmarks/fidelity_sweep.py --table benchmarks/results/sweep     # the collected table

Each run appends one JSON line to OUT/sweep.jsonl and leaves its run folder (samples, reconstructions
as PNG) in OUT/runs/NAME. `--set key=value` sets LossConfig / OptimConfig fields by name on top of
`--preset` (default: paper; the README's sweep tables list each run's changes from its preset);
`--g-layout late` trains cvaegan 0.1's generator layout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cvaegan.cli.commands.train import parse_sets  # noqa: E402
from cvaegan.data.dataset import build_cache  # noqa: E402
from cvaegan.data.images import from_hwc_uint8, save_grid  # noqa: E402
from cvaegan.evaluation.fidelity import artifact_ratios, reconstruction_quality  # noqa: E402
from cvaegan.families.cvaegan.config import from_preset  # noqa: E402
from cvaegan.pipelines.sample import sample  # noqa: E402
from cvaegan.pipelines.train import TrainOptions, train  # noqa: E402
from cvaegan.session import capabilities, inference_model, load_checkpoint  # noqa: E402


@torch.no_grad()
def measure(ckpt_path: Path, data: Path, resolution: int, seed: int = 0, per_class: int = 32,
            fig_dir: Path | None = None) -> dict:
    ckpt = load_checkpoint(ckpt_path)
    model = inference_model(ckpt, "cpu")
    k = model.num_classes
    held = build_cache(data, resolution, split="test")
    x = from_hwc_uint8(held.images.copy())
    y = torch.from_numpy(held.labels.copy()).long()
    labels = torch.arange(k).repeat_interleave(per_class)
    fakes = sample(model, labels, seed=seed + 100)
    out = {"c_acc_samples": float((model.classify(fakes).argmax(1) == labels).float().mean())
           if "classify" in capabilities(model) else float("nan"),
           "samples": artifact_ratios(fakes, x).as_dict()}
    if "reconstruct" in capabilities(model):
        rec = model.reconstruct(x, model.class_vector(y))
        out["recon"] = reconstruction_quality(rec, x)
        out["recon_artifacts"] = artifact_ratios(rec, x).as_dict()
        if fig_dir is not None:
            pick = torch.cat([torch.nonzero(y == c)[:2, 0] for c in range(min(k, 8))])
            save_grid(torch.stack([x[pick], rec[pick]], 1).flatten(0, 1), fig_dir / "recon.png", nrow=8)
    if fig_dir is not None:
        keep = torch.cat([torch.arange(c * per_class, c * per_class + 8) for c in range(min(k, 8))])
        save_grid(fakes[keep], fig_dir / "samples.png", nrow=8)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", type=Path, nargs="?")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/sweep"))
    ap.add_argument("--name")
    ap.add_argument("--model", default="cvaegan")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--minutes", type=float, default=None)
    ap.add_argument("-r", "--resolution", type=int, default=32)
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--latent-dim", type=int, default=32)
    ap.add_argument("-b", "--batch-size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--preset", default="paper", help="the preset the --set fields change (default: paper)")
    ap.add_argument("--precision", default="auto", help="auto, bf16 or fp32")
    ap.add_argument("--g-layout", default="early", choices=("early", "late"))
    ap.add_argument("--table", type=Path)
    a = ap.parse_args()
    if a.table:
        for line in (a.table / "sweep.jsonl").read_text().splitlines():
            r = json.loads(line)
            m = r["metrics"]
            rc = m.get("recon", {})
            print(f"{r['name']:<28} {rc.get('psnr_db', float('nan')):6.2f} dB  ssim {rc.get('ssim', float('nan')):.3f}"
                  f"  samples worst {m['samples']['worst']:.2f} (Cb {m['samples']['high_band_Cb']:.2f}, tv "
                  f"{m['samples']['tv']:.2f})  acc {m['c_acc_samples']:.2f}  kl {r['last'].get('loss_kl', 0):.1f}"
                  f"  {r['seconds']:.0f}s")
        return
    loss, optim = from_preset(a.preset, **parse_sets(a.set))
    t0 = time.perf_counter()
    res = train(TrainOptions(data=a.data, out=a.out / "runs", name=a.name, model=a.model, resolution=a.resolution,
                             width=a.width, latent_dim=a.latent_dim, g_layout=a.g_layout, batch_size=a.batch_size,
                             steps=a.steps, minutes=a.minutes,
                             seed=a.seed, loss=loss, optim=optim, workers=1, precision=a.precision, log_every=50,
                             sample_every=10**9, ckpt_every=10**9))
    seconds = time.perf_counter() - t0
    metrics = measure(res.checkpoint, a.data, a.resolution, fig_dir=res.run_dir)
    rec = {"name": a.name, "preset": a.preset, "precision": a.precision, "g_layout": a.g_layout, "sets": a.set, "model": a.model, "steps": res.step, "resolution": a.resolution,
           "width": a.width, "latent_dim": a.latent_dim, "seconds": round(seconds, 1), "last": res.last,
           "metrics": metrics}
    a.out.mkdir(parents=True, exist_ok=True)
    with open(a.out / "sweep.jsonl", "a") as fh:
        fh.write(json.dumps(rec) + "\n")
    print(json.dumps(rec, indent=1))


if __name__ == "__main__":
    main()
