"""§5.5 of Bao et al.: CVAE-GAN with each part of Eq. 6 removed, same data, budget and seed, all
scored by one judge. The paper shows this only as pictures (Fig. 8): without the f_D term images
get blurry, without the pixel term they lose detail, without the f_C term they lose the category.
Here those become numbers: judge top-1 (category), realism, FID-style Fréchet distance, diversity
and E→G reconstruction error.

    python benchmarks/ablation.py DATA --resolution 32 --steps 300 --width 0.25
    python benchmarks/ablation.py DATA --out benchmarks/results/table1-...   # share table1's judge and
                                                                            # its CVAE-GAN run as "full"

Writes OUT/runs/<variant>, OUT/eval/<variant>.json and OUT/ablation.json (default OUT:
benchmarks/results/ablation-<data>-r<R>-s<S>). Re-running reuses finished runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from table1 import add_common, environment, options  # noqa: E402

from cvaegan.evaluation.compare import Variant, get_judge, run_variant  # noqa: E402
from cvaegan.families.cvaegan.config import LossConfig  # noqa: E402
from cvaegan.runtime.atomic import atomic_write_json  # noqa: E402

VARIANTS = {
    "full": (LossConfig(), "best overall (Fig. 8)"),
    "no-pixel": (LossConfig(pixel=False), "loses details"),
    "no-pair-d": (LossConfig(pair_d=False), "blurry"),
    "no-pair-c": (LossConfig(pair_c=False), "loses category info"),
    # Not an ablation: Eq. 6's f_C part at the paper's weight 1 (the default before 2026-12-07,
    # now 0.1), so the default's choice is measured with the same judge and budget.
    "pair-c-1": (LossConfig(pair_c_scale=1.0), "— (paper's weight)"),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = p.parse_args()
    opts = options(args, "ablation")
    console = Console(stderr=True)
    t0 = time.perf_counter()
    judge, jstate = get_judge(opts, console)
    # "full" is the run table1.py calls "cvaegan": with the same --out (and budget) it is reused.
    recs = [run_variant(Variant(v, "cvaegan", VARIANTS[v][0], run_name="cvaegan" if v == "full" else None),
                        opts, judge, console) for v in args.variants]
    wall = time.perf_counter() - t0
    k = recs[0]["classes"]
    t = Table(title=f"§5.5 ablation on {Path(args.data).name}: {args.resolution}px, width {args.width}, "
                    f"{args.steps} steps × batch {args.batch_size}, seed {args.seed}; judge held-out top-1 "
                    f"{jstate['metrics']['heldout_acc']:.1%}")
    for col in ("variant", "top-1", f"realism (≤{k})", "Fréchet (judge)", "diversity gen/real", "recon MSE",
                "recon top-1", "paper (Fig. 8)", "train s"):
        t.add_column(col, justify="left" if col in ("variant", "paper (Fig. 8)") else "right")
    rows = []
    for r in recs:
        g, rc = r["generated"], r["reconstruction"]
        t.add_row(r["variant"], f"{g['top1']:.2%}", f"{g['realism']:.2f}", f"{r['frechet_judge']:.3f}",
                  f"{r['diversity_ratio']:.2f}", f"{rc['mse']:.4f}", f"{rc['top1']:.1%}", VARIANTS[r["variant"]][1],
                  ("—" if r["train_seconds"] is None else f"{r['train_seconds']:.0f}") + (" (reused)" if r["reused"] else ""))
        rows.append({"variant": r["variant"], "top1": g["top1"], "realism": g["realism"],
                     "frechet_judge": r["frechet_judge"], "diversity_ratio": r["diversity_ratio"],
                     "recon_mse": rc["mse"], "recon_psnr_db": rc["psnr_db"], "recon_top1": rc["top1"],
                     "paper": VARIANTS[r["variant"]][1], "train_seconds": r["train_seconds"], "reused": r["reused"],
                     "eval_seconds": r["eval_seconds"]})
    Console(width=200).print(t)
    print(f"wall time {wall:.0f} s")
    atomic_write_json(opts.out / "ablation.json", {
        "benchmark": "ablation", "data": str(Path(args.data).resolve()), "resolution": args.resolution,
        "steps": args.steps, "width": args.width, "batch_size": args.batch_size, "seed": args.seed,
        "per_class": args.per_class, "judge": str(judge), "judge_heldout_acc": jstate["metrics"]["heldout_acc"],
        "real": recs[0]["real_heldout"], "rows": rows, "wall_seconds": round(wall, 1),
        "environment": environment(args)})
    print(f"wrote {opts.out / 'ablation.json'}")


if __name__ == "__main__":
    main()
