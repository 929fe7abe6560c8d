"""`cvaegan evaluate`: how good a checkpoint is, in numbers (§5.2, Table 1, plus FID-style extras).

For a model checkpoint M, a judge J (`cvaegan judge train`) and the dataset J was trained on:
  1. generate `per_class` samples of every class (z ~ N(0, I) from `seed`, as `cvaegan sample
     --class all -n per_class --seed seed` draws them);
  2. load the images J held out (never seen by J; the generator may have seen them, as in the
     paper, where every method trains on all the data);
  3. report, for generated and held-out real images: J's top-1 accuracy (Table 1's
     discriminability), the realism score exp(E KL(p(y|x) ‖ p(y))) from J's posteriors (Table 1's
     realism), intra-class diversity in J's feature space; the Fréchet distance between generated
     and held-out real in J's feature space (FID-style, NOT the standard FID), with the distance
     between J's training images and the held-out ones as a real-vs-real reference; E→G
     reconstruction of the held-out images (models with an encoder only): MSE, PSNR and SSIM;
     image fidelity (`fidelity.py`): high-band spectral power per Y/Cb/Cr and total variation of
     generated images and of reconstructions, each relative to the held-out real images (1 = like
     the real images, > 1 speckle or texture, < 1 blur); and with `inception`, the standard FID
     (torchvision Inception-v3 weights) between generated and held-out.

Images are generated at the model's resolution and resized to the judge's when they differ.
Models that edit attributes (`edits.py`), transfer styles (`stylize.py`) or swap identities
(`swap.py`: scored on unseen people, with dlib's face embedding or the judge) are scored their own way.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from cvaegan import __version__
from cvaegan.data.dataset import build_cache
from cvaegan.data.images import save_grid
from cvaegan.evaluation import metrics as M
from cvaegan.evaluation.edits import evaluate_edits
from cvaegan.evaluation.fidelity import artifact_ratios, reconstruction_quality
from cvaegan.evaluation.judge import heldout_rows, judge_outputs, load_judge, relative_names, to_float
from cvaegan.evaluation.stylize import evaluate_stylize_session
from cvaegan.evaluation.swap import evaluate_swap_session
from cvaegan.pipelines.sample import sample
from cvaegan.runtime.atomic import atomic_write_json
from cvaegan.runtime.errors import CvaeganError
from cvaegan.runtime.limits import MAX_EVAL_IMAGES
from cvaegan.runtime.outputs import check_out_file
from cvaegan.runtime.progress import make_progress
from cvaegan.session import Session, open_session, require

FRECHET_NOTE = "FID-style: Fréchet distance of Gaussians fitted to the judge's features, not Inception-v3 FID"


@dataclass
class EvaluateOptions:
    ckpt: Path
    judge: Path | None        # required by every kind but identity swapping with dlib
    data: Path
    per_class: int = 100
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"     # of the model under test (the judge runs as it always does)
    batch_size: int = 256
    inception: Path | None = None
    out: Path | None = None
    workers: int = 2
    cache_dir: Path | None = None
    grid: bool = True
    edit_images: int = 1000     # attribute editors: held-out images to edit (a seeded subset when more)
    swap_pairs: int = 1000      # identity swappers: (identity source, attributes source) pairs of unseen people
    identity: str = "auto"      # identity swappers' identity embedding: auto | dlib | judge (evaluation/swap.py)
    faceid_model: Path | None = None  # dlib's model folder (default: the face_recognition_models package)
    detector: Path | None = None      # SCRFD ONNX file for the swap's landmark measure (None: skipped)


def default_out(ckpt: Path, seed: int) -> Path:
    """runs/<run>/eval/evaluate-seed<S>.json for a run's checkpoint, else eval/<stem>-seed<S>.json."""
    ckpt = Path(ckpt)
    if ckpt.parent.name == "checkpoints":
        return ckpt.parent.parent / "eval" / f"evaluate-{ckpt.stem}-seed{seed}.json"
    return Path("eval") / f"{ckpt.stem}-seed{seed}.json"


def evaluate(opts: EvaluateOptions, console: Console | None = None) -> dict[str, Any]:
    """Run the evaluation; returns the JSON record (also written to `opts.out`)."""
    console = console or Console(stderr=True)
    if opts.per_class < 2:
        raise CvaeganError("--per-class must be at least 2 (diversity needs pairs)")
    if opts.out:
        check_out_file(Path(opts.out))
    t0 = time.perf_counter()
    session = open_session(opts.ckpt, device=opts.device, precision=opts.precision, purpose="evaluate")
    out = Path(opts.out) if opts.out else default_out(opts.ckpt, opts.seed)
    if "swap" in session.capabilities:  # identity swapping: scored on unseen people (evaluation/swap.py)
        return evaluate_swap_session(session, opts, out, console)
    if opts.judge is None:
        raise CvaeganError(f"a '{session.model.cfg.model.model}' model is scored with a judge: pass --judge "
                           "(train one with `cvaegan judge train DATA`)")
    if "edit" in session.capabilities:  # an attribute editor: scored by its edits (evaluation/edits.py)
        return evaluate_edits(session, opts, out, console)
    if "stylize" in session.capabilities:  # style transfer: scored on held-out fonts (evaluation/stylize.py)
        return evaluate_stylize_session(session, opts, out, console)
    require(session, ("generate",), "evaluate")
    model, device, names = session.model, session.device, session.class_names
    judge, jstate = load_judge(opts.judge, device, kind="class")
    if opts.per_class * len(names) > MAX_EVAL_IMAGES:
        raise CvaeganError(f"--per-class {opts.per_class} × {len(names)} classes = {opts.per_class * len(names):,} "
                           f"images; one evaluation holds at most {MAX_EVAL_IMAGES:,}: lower --per-class")
    if list(jstate["class_names"]) != list(names):
        raise CvaeganError(f"the judge's {len(jstate['class_names'])} classes differ from the model's "
                           f"{len(names)} classes; train the judge on the model's dataset")
    k = len(names)
    res = model.cfg.model.resolution
    notes: list[str] = []
    if judge.cfg.resolution != res:
        notes.append(f"images resized from {res} to the judge's {judge.cfg.resolution} pixels")

    with make_progress(console, transient=True) as prog:
        task = prog.add_task("decoding images", total=None, info="")
        cache = build_cache(opts.data, res, workers=opts.workers, cache_dir=opts.cache_dir, split=None,
                            progress=lambda i, n: prog.update(task, completed=i, total=n))
    if list(cache.class_names) != list(names):
        raise CvaeganError(f"{opts.data}: its classes differ from the checkpoint's {k} classes")
    held = heldout_rows(cache, jstate)
    train_set = set(jstate["split"]["train"])
    rel = relative_names(cache)
    train_rows = [i for i, n in enumerate(rel) if n in train_set]
    missing = len(jstate["split"]["heldout"]) - len(held)
    if missing:
        notes.append(f"{missing} of the judge's held-out images are not in DATA")
    labels_all = torch.from_numpy(np.asarray(cache.labels))
    x_held, y_held = to_float(cache.images, held), labels_all[held]

    labels_gen = torch.arange(k).repeat_interleave(opts.per_class)
    n_gen = len(labels_gen)
    with make_progress(console) as prog:
        task = prog.add_task("generating", total=n_gen, info=f"{opts.per_class} × {k} classes")
        x_gen = sample(model, labels_gen, opts.seed, opts.batch_size,
                       progress=lambda n: prog.update(task, completed=n), precision=session.precision)
        task = prog.add_task("judging", total=n_gen + len(held) + len(train_rows), info="")
        p_gen, f_gen = judge_outputs(judge, x_gen, opts.batch_size, lambda n: prog.update(task, completed=n))
        p_held, f_held = judge_outputs(judge, x_held, opts.batch_size,
                                       lambda n: prog.update(task, completed=n_gen + n))
        f_train = _train_features(judge, cache, train_rows, opts.batch_size,
                                  lambda n: prog.update(task, completed=n_gen + len(held) + n))
        recon, x_rec = _reconstruction(session, judge, x_held, y_held, opts.batch_size)
        fid = None
        if opts.inception is not None:
            from cvaegan.evaluation.inception import inception_features, load_inception

            net = load_inception(opts.inception, device)
            task = prog.add_task("Inception-v3", total=n_gen + len(held), info="")
            a = inception_features(net, x_gen, progress=lambda n: prog.update(task, completed=n))
            b = inception_features(net, x_held, progress=lambda n: prog.update(task, completed=n_gen + n))
            fid = M.frechet_distance_features(a, b)

    record: dict[str, Any] = {
        "command": "evaluate", "checkpoint": str(opts.ckpt), "model": model.cfg.model.model, "step": session.step,
        "resolution": res, "judge": str(opts.judge), "judge_resolution": judge.cfg.resolution,
        "judge_heldout_acc_at_training": jstate.get("metrics", {}).get("heldout_acc"),
        "data": str(Path(opts.data).resolve()), "classes": k, "per_class": opts.per_class, "seed": opts.seed,
        "precision": session.precision,
        "n_generated": n_gen, "n_heldout_real": len(held), "n_train_real": len(train_rows),
        "split_source": jstate["split"]["source"],
        "generated": {"top1": M.top1(p_gen, labels_gen), "realism": M.realism_score(p_gen),
                      "diversity": M.intra_class_diversity(f_gen, labels_gen)},
        "real_heldout": {"top1": M.top1(p_held, y_held), "realism": M.realism_score(p_held),
                         "diversity": M.intra_class_diversity(f_held, y_held)},
        "frechet_judge": M.frechet_distance_features(f_gen, f_held),
        "frechet_judge_real_train_vs_heldout": (M.frechet_distance_features(f_train, f_held)
                                                if len(train_rows) >= 2 else None),
        "frechet_note": FRECHET_NOTE,
        "reconstruction": recon,
        "fidelity": {"generated": artifact_ratios(x_gen, x_held).as_dict(),
                     "reconstruction": artifact_ratios(x_rec, x_held).as_dict() if x_rec is not None else None,
                     "note": "ratios to held-out real images at the model's resolution: high-band (|f| > "
                             "0.25 cycles/px) spectral power per Y/Cb/Cr, and total variation; 1 = like "
                             "the real images, > 1 speckle/texture, < 1 blur"},
        "reconstruction_note": None if recon else f"model '{model.cfg.model.model}' has no encoder E; skipped",
        "fid_inception": fid,
        "fid_note": ("Inception-v3 pool3 (torchvision weights), generated vs held-out real" if fid is not None
                     else "not computed (pass --inception PATH to torchvision Inception-v3 weights)"),
        "chance": 1.0 / k, "notes": notes,
    }
    g, r = record["generated"], record["real_heldout"]
    record["diversity_ratio"] = g["diversity"] / r["diversity"] if r["diversity"] and not math.isnan(
        r["diversity"]) else None
    record["seconds"] = round(time.perf_counter() - t0, 2)
    record["meta"] = {"cvaegan": __version__, "torch": str(torch.__version__), "device": str(device),
                      "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    if opts.grid:
        shown = min(opts.per_class, 8)
        keep = torch.cat([torch.arange(c * opts.per_class, c * opts.per_class + shown) for c in range(min(k, 16))])
        record["grid"] = str(save_grid(x_gen[keep], out.with_suffix(".png"), nrow=shown))
    atomic_write_json(out, record)
    record["json"] = str(out)
    return record


def _train_features(judge: torch.nn.Module, cache: Any, rows: list[int], batch_size: int,
                    progress: Any) -> torch.Tensor:
    feats = []
    for i in range(0, len(rows), 1024):  # decode in chunks: the cache may be a large memmap
        _, f = judge_outputs(judge, to_float(cache.images, rows[i:i + 1024]), batch_size)
        feats.append(f)
        progress(min(i + 1024, len(rows)))
    return torch.cat(feats) if feats else torch.zeros(0, judge.feature_dim)


@torch.no_grad()
def _reconstruction(session: Session, judge: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                    batch_size: int) -> tuple[dict[str, float] | None, torch.Tensor | None]:
    """E→G on held-out images: x' = G(μ(x, c), c). MSE per pixel in [-1, 1] units, PSNR and SSIM
    (scikit-image, on [0, 1] images, mean over images), and the judge's top-1 on x' (does the
    reconstruction keep the identity?). Returns the numbers and the reconstructions."""
    if "reconstruct" not in session.capabilities:
        return None, None
    model, device = session.model, session.device
    outs = []
    for i in range(0, x.shape[0], batch_size):
        xb = x[i:i + batch_size].to(device)
        with session.autocast():
            outs.append(model.reconstruct(xb, model.class_vector(y[i:i + batch_size].to(device))).float().cpu())
    rec = torch.cat(outs)
    mse = float((rec - x).pow(2).mean())
    p, _ = judge_outputs(judge, rec, batch_size)
    q = reconstruction_quality(rec, x)
    return {"mse": mse, "psnr_db": q["psnr_db"], "ssim": q["ssim"], "top1": M.top1(p, y)}, rec


def results_table(rec: dict[str, Any]) -> Table:
    """The rich table `cvaegan evaluate` prints."""
    g, r = rec["generated"], rec["real_heldout"]
    t = Table(title=f"{rec['model']} @ step {rec['step']}: {rec['n_generated']} generated "
                    f"({rec['per_class']}/class) vs {rec['n_heldout_real']} held-out real")
    t.add_column("metric")
    t.add_column("generated", justify="right")
    t.add_column("real (held-out)", justify="right")
    t.add_column("note", style="dim")
    t.add_row("judge top-1", f"{g['top1']:.2%}", f"{r['top1']:.2%}", f"chance {rec['chance']:.1%}")
    t.add_row("realism exp(E KL(p(y|x)‖p(y)))", f"{g['realism']:.3f}", f"{r['realism']:.3f}",
              f"1 … {rec['classes']}")
    t.add_row("intra-class diversity", f"{g['diversity']:.3f}", f"{r['diversity']:.3f}",
              "mean pairwise judge-feature distance")
    fr = rec["frechet_judge_real_train_vs_heldout"]
    t.add_row("Fréchet distance (judge features)", f"{rec['frechet_judge']:.3f}",
              "—" if fr is None else f"{fr:.3f}", "FID-style; real column: judge-train vs held-out real")
    rc = rec["reconstruction"]
    if rc:
        t.add_row("E→G reconstruction", f"PSNR {rc['psnr_db']:.1f} dB  SSIM {rc['ssim']:.3f}",
                  "", f"held-out images; judge top-1 on reconstructions {rc['top1']:.1%}")
    else:
        t.add_row("E→G reconstruction", "—", "", rec["reconstruction_note"])
    fid = rec["fidelity"]
    for label, key in (("generated", "generated"), ("reconstructions", "reconstruction")):
        f = fid[key]
        if f is None:
            continue
        t.add_row(f"high-band power Y / Cb / Cr ({label})",
                  f"{f['high_band_Y']:.2f} / {f['high_band_Cb']:.2f} / {f['high_band_Cr']:.2f}", "1",
                  "ratio to real; > 1 speckle/texture, < 1 blur")
        t.add_row(f"total variation ({label})", f"{f['tv']:.2f}", "1", "ratio to real")
    if rec["fid_inception"] is not None:
        t.add_row("FID (Inception-v3)", f"{rec['fid_inception']:.2f}", "", "torchvision weights")
    return t
