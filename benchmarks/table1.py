"""Table 1 of Bao et al. (§5.2): CVAE, CGAN, FM-CGAN and CVAE-GAN trained with the same data,
budget and seed, all scored by ONE judge (top-1 of generated samples, realism), plus the FID-style
Fréchet distance in the judge's features, intra-class diversity and E→G reconstruction error.
The paper's numbers are printed beside ours for reference; they come from 128×128 FaceScrub (530
identities), a GoogLeNet judge and, for realism, a CASIA classifier with thousands of classes, so
only the ORDER is comparable: our realism is bounded by the number of classes K of DATA.

    python benchmarks/table1.py DATA --resolution 32 --steps 400 --width 0.25
    python benchmarks/table1.py DATA --resolution 128 --steps 20000 --width 1 --device cuda

Writes OUT/runs/<model>, OUT/judge.pt, OUT/eval/<model>.json, and the summary JSON
OUT/table1.json (default OUT: benchmarks/results/table1-<data>-r<R>-s<S>). Re-running reuses
finished runs and the judge.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cvaegan.evaluation.compare import CompareOptions, Variant, get_judge, run_variant  # noqa: E402
from cvaegan.runtime.atomic import atomic_write_json  # noqa: E402
from cvaegan.runtime.device import resolve_device, resolve_precision  # noqa: E402

# Table 1 of the paper: top-1 accuracy (%) of the judge on generated samples, and realism.
PAPER = {"real": (99.61, 20.85), "cvae": (8.09, 10.29), "cgan": (61.97, 15.79), "fmcgan": (79.76, 19.40),
         "cvaegan": (97.78, 19.03)}
LABELS = {"real": "real (held-out)", "cvae": "CVAE", "cgan": "CGAN", "fmcgan": "FM-CGAN", "cvaegan": "CVAE-GAN"}
MODELS = ("cvae", "cgan", "fmcgan", "cvaegan")


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", type=Path)
    p.add_argument("--resolution", "-r", type=int, default=32)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--latent-dim", type=int, default=256, help="size of z (paper: 256)")
    p.add_argument("--per-class", type=int, default=100, help="generated samples per class (paper: 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", help="auto, bf16 or fp32, as `train --precision`")
    p.add_argument("--judge", type=Path, default=None, help="reuse a judge instead of training OUT/judge.pt")
    p.add_argument("--judge-epochs", type=int, default=30)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 is fastest on a busy machine)")
    p.add_argument("--cache-dir", type=Path, default=None)
    p.add_argument("--out", type=Path, default=None)


def options(args: argparse.Namespace, kind: str) -> CompareOptions:
    if args.threads:
        torch.set_num_threads(args.threads)
    name = Path(args.data).resolve().name
    lat = "" if args.latent_dim == 256 else f"-z{args.latent_dim}"
    out = args.out or Path("benchmarks/results") / f"{kind}-{name}-r{args.resolution}-s{args.steps}{lat}"
    return CompareOptions(data=args.data, out=out, resolution=args.resolution, steps=args.steps, width=args.width,
                          batch_size=args.batch_size, latent_dim=args.latent_dim, seed=args.seed, device=args.device,
                          precision=args.precision,
                          per_class=args.per_class, judge=args.judge, judge_epochs=args.judge_epochs, cache_dir=args.cache_dir)


def environment(args: argparse.Namespace) -> dict:
    return {"torch": str(torch.__version__), "python": platform.python_version(), "threads": torch.get_num_threads(),
            "precision": resolve_precision(resolve_device(args.device), args.precision),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "argv": sys.argv}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    args = p.parse_args()
    opts = options(args, "table1")
    console = Console(stderr=True)
    t0 = time.perf_counter()
    judge, jstate = get_judge(opts, console)
    recs = [run_variant(Variant(m, model=m), opts, judge, console) for m in args.models]
    wall = time.perf_counter() - t0

    k = recs[0]["classes"]
    t = Table(title=f"Table 1 on {Path(args.data).name}: {args.resolution}px, width {args.width}, "
                    f"{args.steps} steps × batch {args.batch_size}, seed {args.seed}; judge held-out top-1 "
                    f"{jstate['metrics']['heldout_acc']:.1%}")
    for col in ("model", "top-1", "paper top-1", f"realism (≤{k})", "paper realism", "Fréchet (judge)",
                "diversity gen/real", "recon MSE", "train s"):
        t.add_column(col, justify="left" if col == "model" else "right")
    real = recs[0]["real_heldout"]
    t.add_row(LABELS["real"], f"{real['top1']:.2%}", f"{PAPER['real'][0]:.2f}%", f"{real['realism']:.2f}",
              f"{PAPER['real'][1]:.2f}", f"{recs[0]['frechet_judge_real_train_vs_heldout']:.3f}*", "1", "", "")
    rows = []
    for r in recs:
        m = r["variant"]
        g = r["generated"]
        rc = r["reconstruction"]
        t.add_row(LABELS[m], f"{g['top1']:.2%}", f"{PAPER[m][0]:.2f}%", f"{g['realism']:.2f}", f"{PAPER[m][1]:.2f}",
                  f"{r['frechet_judge']:.3f}", f"{r['diversity_ratio']:.2f}", f"{rc['mse']:.4f}" if rc else "—",
                  ("—" if r["train_seconds"] is None else f"{r['train_seconds']:.0f}") + (" (reused)" if r["reused"] else ""))
        rows.append({"model": m, "top1": g["top1"], "realism": g["realism"], "frechet_judge": r["frechet_judge"],
                     "diversity": g["diversity"], "diversity_ratio": r["diversity_ratio"],
                     "recon_mse": rc["mse"] if rc else None, "train_seconds": r["train_seconds"], "reused": r["reused"],
                     "eval_seconds": r["eval_seconds"], "paper_top1": PAPER[m][0], "paper_realism": PAPER[m][1]})
    Console(width=200).print(t)
    order = [r["model"] for r in sorted(rows, key=lambda r: -r["top1"])]
    print("* real row's Fréchet: judge-train vs held-out real images (a real-vs-real reference)")
    print(f"top-1 order: {' > '.join(LABELS[m] for m in order)}   (paper: CVAE-GAN > FM-CGAN > CGAN > CVAE)")
    print(f"wall time {wall:.0f} s")
    summary = {"benchmark": "table1", "data": str(Path(args.data).resolve()), "resolution": args.resolution,
               "steps": args.steps, "width": args.width, "batch_size": args.batch_size, "seed": args.seed,
               "per_class": args.per_class, "judge": str(judge), "judge_heldout_acc": jstate["metrics"]["heldout_acc"],
               "real": {"top1": real["top1"], "realism": real["realism"],
                        "frechet_train_vs_heldout": recs[0]["frechet_judge_real_train_vs_heldout"],
                        "paper_top1": PAPER["real"][0], "paper_realism": PAPER["real"][1]},
               "rows": rows, "top1_order": order, "wall_seconds": round(wall, 1), "environment": environment(args)}
    atomic_write_json(opts.out / "table1.json", summary)
    print(f"wrote {opts.out / 'table1.json'}")


if __name__ == "__main__":
    main()
