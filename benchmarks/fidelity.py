"""Image fidelity on one dataset, end to end, under a CPU time budget (issue 16's targets):

  1. a judge trained on DATA's training split (`cvaegan judge train`), scored on its held-out split;
  2. CVAE-GAN and the paper's three baselines (CVAE, CGAN, FM-CGAN), each trained for `--minutes`
     of wall time with the README's recommended CPU settings for the resolution (or the flags);
  3. `cvaegan evaluate` of each: judge top-1, realism, Fréchet distance (judge features), held-out
     E→G reconstruction PSNR/SSIM, artifact ratios (high-band Y/Cb/Cr power and total variation,
     relative to held-out real images);
  4. with the CVAE-GAN model: §5.4 inpainting against cv2.inpaint (Telea, Navier–Stokes) on
     masked-region PSNR, and ×4 super-resolution against bicubic, on held-out crops.

    python benchmarks/fidelity.py DATA --resolution 64 --minutes 20 --out DIR

Held-out means held out of everything: when DATA's manifest records no train/test split, a seeded
per-class split (`--heldout`, default 20%) is written to DIR/data/dataset.json (pointing at DATA's
files, nothing copied) and every model and the judge train on its train part only. A held-out
image with a near-duplicate in the train part (the same photo re-encoded or mirrored,
`cvaegan.data.duplicates`) moves to the train part, and the manifest's `split` says how many did.

Writes DIR/fidelity.json (every number, the targets and whether each is met) and prints a table.
Runs, the judge and evaluations land in DIR and are reused on a re-run (an unfinished run is
resumed with what is left of its budget).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cvaegan.cli.commands.train import parse_sets  # noqa: E402
from cvaegan.data.duplicates import DUPLICATE_PSNR_DB, SIZE, keep_twins_together, near_duplicate_pairs  # noqa: E402
from cvaegan.data.manifest import MANIFEST_NAME, index_dataset, new_manifest  # noqa: E402
from cvaegan.evaluation.baselines import inpaint_vs_opencv, superres_vs_bicubic  # noqa: E402
from cvaegan.evaluation.compare import CompareOptions, Variant, get_judge, run_variant  # noqa: E402
from cvaegan.families.cvaegan.config import from_preset  # noqa: E402
from cvaegan.pipelines.recommend import cpu_settings  # noqa: E402
from cvaegan.runtime.atomic import atomic_write_json  # noqa: E402
from cvaegan.runtime.device import resolve_device, resolve_precision  # noqa: E402
from cvaegan.session import open_session  # noqa: E402

MODELS = ("cvae", "cgan", "fmcgan", "cvaegan")
LABELS = {"cvae": "CVAE", "cgan": "CGAN", "fmcgan": "FM-CGAN", "cvaegan": "CVAE-GAN"}
TARGETS = {"top1_vs_real": 0.80, "artifact_worst": 1.2, "recon_psnr_db": 20.0}


def with_split(data: Path, out: Path, fraction: float, seed: int) -> Path:
    """DATA itself when its manifest records a test split, else OUT/data: a manifest over DATA's
    files (absolute paths) with a seeded per-class split, at least one held-out image per class
    unless every one drawn for it had a near-duplicate in training (it then trains instead)."""
    index = index_dataset(data)
    if "test" in index.splits:
        return data
    gen = torch.Generator().manual_seed(seed)
    split = ["train"] * len(index.files)
    for k in range(index.num_classes):
        rows = [i for i, y in enumerate(index.labels) if y == k]
        n_test = max(1, round(fraction * len(rows))) if len(rows) >= 2 else 0
        for j in torch.randperm(len(rows), generator=gen)[:n_test].tolist():
            split[rows[j]] = "test"
    readable, small = [], []
    for i, f in enumerate(index.files):
        try:
            with Image.open(f) as im:
                small.append(np.asarray(im.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BILINEAR)))
            readable.append(i)
        except (OSError, ValueError):
            continue  # an unreadable image is skipped when the cache is built
    ok = np.asarray(readable, dtype=np.int64)
    twins = near_duplicate_pairs(np.stack(small), np.asarray(index.labels)[ok]) if len(small) else []
    moved = keep_twins_together(split, [(int(ok[i]), int(ok[j])) for i, j in twins])
    classes = [{"index": k, "name": n, "count": index.labels.count(k)} for k, n in enumerate(index.class_names)]
    items = [{"file": str(Path(f).resolve()), "class": y, "split": s}
             for f, y, s in zip(index.files, index.labels, split)]
    atomic_write_json(out / "data" / MANIFEST_NAME,
                      new_manifest("split-view", classes, items, sources=[str(data.resolve())],
                                   split={"seed": seed, "fraction": fraction, "near_duplicate_pairs": len(twins),
                                          "moved_to_train": moved, "duplicate_psnr_db": DUPLICATE_PSNR_DB}))
    return out / "data"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", type=Path)
    p.add_argument("--resolution", "-r", type=int, default=64)
    p.add_argument("--minutes", type=float, default=20.0, help="training wall time per model")
    p.add_argument("--steps", type=int, default=None,
                   help="train each model this many steps instead of --minutes (matched-step comparisons, "
                        "e.g. a CPU budget's step count replayed on a GPU)")
    p.add_argument("--judge", type=Path, default=None, help="reuse this judge (trained on the same split)")
    p.add_argument("--no-apps", action="store_true", help="skip inpainting and super-resolution")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--width", type=float, default=None, help="default: the recommended CPU setting")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--latent-dim", type=int, default=None)
    p.add_argument("--per-class", type=int, default=100)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--limit", type=int, default=200, help="held-out crops for inpainting/superres")
    p.add_argument("--judge-epochs", type=int, default=30)
    p.add_argument("--heldout", type=float, default=0.2, help="held-out fraction when DATA records no split")
    p.add_argument("--seed", type=int, default=0, help="training and sampling seed")
    p.add_argument("--split-seed", type=int, default=None,
                   help="seed of the held-out split (default: --seed); keep it fixed to compare training seeds")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a loss/optimiser field for every model (as `cvaegan train --set`), e.g. lambda_gc=0.04")
    args = p.parse_args()
    overrides = {**dict(cpu_settings(args.resolution).loss), **parse_sets(args.set)}  # recommended, then --set
    loss, optim = from_preset("default", **overrides)

    rec_cfg = cpu_settings(args.resolution)
    width = args.width or rec_cfg.width
    batch = args.batch_size or rec_cfg.batch_size
    latent = args.latent_dim or rec_cfg.latent_dim
    out = args.out or Path("benchmarks/results") / f"fidelity-{args.data.resolve().name}-r{args.resolution}"
    split_seed = args.seed if args.split_seed is None else args.split_seed
    data = with_split(args.data, out, args.heldout, split_seed)
    opts = CompareOptions(data=data, out=out, resolution=args.resolution, width=width,
                          batch_size=batch, latent_dim=latent, seed=args.seed, device=args.device,
                          precision=args.precision, per_class=args.per_class, judge_epochs=args.judge_epochs,
                          minutes=None if args.steps else args.minutes, steps=args.steps or 0, judge=args.judge)
    console = Console(stderr=True)
    t0 = time.perf_counter()
    judge, jstate = get_judge(opts, console)
    recs = {m: run_variant(Variant(m, model=m, loss=loss, optim=optim), opts, judge, console) for m in args.models}

    real = next(iter(recs.values()))["real_heldout"]
    rows = {}
    for m, r in recs.items():
        rc = r["reconstruction"]
        rows[m] = {"top1": r["generated"]["top1"], "top1_vs_real": r["generated"]["top1"] / max(real["top1"], 1e-9),
                   "realism": r["generated"]["realism"], "frechet_judge": r["frechet_judge"],
                   "diversity_ratio": r["diversity_ratio"], "artifacts_generated": r["fidelity"]["generated"],
                   "artifacts_reconstruction": r["fidelity"]["reconstruction"],
                   "recon_psnr_db": rc["psnr_db"] if rc else None, "recon_ssim": rc["ssim"] if rc else None,
                   "steps": r["step"], "train_seconds": r["train_seconds"], "reused": r["reused"]}
    apps = {}
    if "cvaegan" in recs and not args.no_apps:
        loaded = open_session(out / "runs" / "cvaegan" / "checkpoints" / "latest.pt", device=args.device,
                              precision=args.precision, needs=("reconstruct",))
        console.print("inpainting against cv2.inpaint, super-resolution against bicubic …")
        apps["inpaint"] = inpaint_vs_opencv(loaded, data, args.limit)
        apps["superres_x4"] = superres_vs_bicubic(loaded, data, args.limit, scale=4)
    order = sorted(rows, key=lambda m: -rows[m]["top1"])
    checks = {}
    if "cvaegan" in rows:
        cv = rows["cvaegan"]
        checks = {
            "cvaegan_top1_at_least_80pct_of_real": cv["top1_vs_real"] >= TARGETS["top1_vs_real"],
            "cvaegan_artifacts_at_most_1.2": max(cv["artifacts_generated"]["worst"],
                                                 (cv["artifacts_reconstruction"] or {}).get("worst", 0)) <= TARGETS["artifact_worst"],
            "cvaegan_recon_psnr_at_least_20db": (cv["recon_psnr_db"] or 0) >= TARGETS["recon_psnr_db"],
        }
        if apps:
            checks["inpaint_beats_both_opencv"] = apps["inpaint"]["beats_both_opencv"]
            checks["superres_x4_beats_bicubic"] = apps["superres_x4"]["beats_bicubic"]
        if set(rows) == set(MODELS):
            checks["table1_order"] = order == ["cvaegan", "fmcgan", "cgan", "cvae"]
    wall = time.perf_counter() - t0

    budget = f"{args.steps} steps" if args.steps else f"{args.minutes:g} min"
    t = Table(title=f"fidelity on {args.data.name}: {args.resolution}px, {budget}/model, width {width}, "
                    f"batch {batch}, z {latent}; judge held-out top-1 {real['top1']:.1%}")
    for col in ("model", "top-1", "÷ real", "Fréchet", "hi-band Y/Cb/Cr", "TV", "recon PSNR", "SSIM", "steps"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for m in MODELS:
        if m not in rows:
            continue
        r = rows[m]
        a = r["artifacts_generated"]
        t.add_row(LABELS[m], f"{r['top1']:.1%}", f"{r['top1_vs_real']:.2f}", f"{r['frechet_judge']:.2f}",
                  f"{a['high_band_Y']:.2f}/{a['high_band_Cb']:.2f}/{a['high_band_Cr']:.2f}", f"{a['tv']:.2f}",
                  "—" if r["recon_psnr_db"] is None else f"{r['recon_psnr_db']:.1f} dB",
                  "—" if r["recon_ssim"] is None else f"{r['recon_ssim']:.3f}", str(r["steps"]))
    Console(width=200).print(t)
    for name, a in apps.items():
        table = a.get("psnr_masked_db") or a.get("psnr_db")
        print(f"{name}: " + ", ".join(f"{k} {v:.2f}" for k, v in table.items()) + " dB")
    print(f"top-1 order: {' > '.join(LABELS[m] for m in order)}   (paper: CVAE-GAN > FM-CGAN > CGAN > CVAE)")
    for k, v in checks.items():
        print(f"  {'met ' if v else 'MISS'}  {k}")
    summary = {"benchmark": "fidelity", "data": str(args.data.resolve()), "resolution": args.resolution,
               "minutes_per_model": None if args.steps else args.minutes,
               "steps_per_model": args.steps, "overrides": overrides, "width": width, "batch_size": batch, "latent_dim": latent,
               "seed": args.seed, "split_seed": split_seed, "judge": str(judge), "judge_heldout_top1": real["top1"],
               "real_heldout": real, "models": rows, "top1_order": order, "apps": apps, "targets": TARGETS,
               "checks": checks, "wall_seconds": round(wall, 1),
               "environment": {"torch": str(torch.__version__), "python": platform.python_version(),
                               "threads": torch.get_num_threads(),
                               "precision": resolve_precision(resolve_device(args.device), args.precision),
                               "argv": sys.argv}}
    atomic_write_json(out / "fidelity.json", summary)
    print(f"wrote {out / 'fidelity.json'}  ({wall / 60:.1f} min)")


if __name__ == "__main__":
    main()
