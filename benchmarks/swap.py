"""Open-set identity swapping (`openset`, issue 13; Bao et al., CVPR 2018) end to end, under a time
budget, on people the model never saw. Two modes:

cartoons  `--cartoon N_TRAIN,N_TEST`: the demo's open-set cartoon faces are written to DATA
          (`DemoDataConfig(heldout_identities=N_TEST)`: every image of the last N_TEST identities
          is `test`, the rest `train`), drawn at the training resolution so that `render_swap`'s
          ground truth is pixel-exact. The identity embedding is the project's judge (dlib sees no
          face in a cartoon), trained on the TEST people: OUT/judge-view holds the test people
          only, a seeded half (`--judge-fraction`) of each one's images to train on; the
          evaluation then scores only the other half — every (s, a) pair, the gallery and the two
          copy baselines are images the judge never saw — and adds its top-1 among the test
          people. Also PSNR/SSIM to the exact ground truth render_swap(class of s, item of a).
real      a folder whose classes are people (`cvaegan prepare` output, or DATA/<person>/<image>):
          OUT/split/dataset.json is an identity-disjoint split view of it — a seeded
          `--heldout-people` (20 %) of the PEOPLE with all their images `test`, every other
          person `train` (DATA's own split, if any, is replaced) — and the identity embedding is
          dlib's face-recognition network (`pip install 'cvaegan[faceid]'`; threshold 0.6).

Then `openset` (`--preset`) is trained for `--minutes` of wall time on the train people (32×32
for cartoons, 64×64 for real faces unless `--resolution`) and scored by `cvaegan evaluate`
(evaluation/swap.py): identification / verification / false accept of swaps against the unseen
people's gallery, beside "copy the identity source" and "copy the attributes source", and with
`--detector` the 5-landmark agreement with the attributes source (beside pasting the identity
source unchanged).

    python benchmarks/swap.py data/cartoons-openset --cartoon 16,4 --minutes 15 --out OUT
    python benchmarks/swap.py data/glint --minutes 25 --out OUT \\
        --detector ../shared/data/models/scrfd_500m_kps.onnx

Writes OUT/swap.json (every number and the checks), OUT/swap.md (the table) and OUT/swap.png (the
sample grid: identity sources, attribute sources, swaps, and the ground truth for cartoons). The
judge and the run in OUT are reused on a re-run (an unfinished run is resumed with what is left of
its budget).
"""

from __future__ import annotations

import argparse
import math
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cvaegan.data.demo_faces import DemoDataConfig, write_demo_dataset  # noqa: E402
from cvaegan.data.manifest import MANIFEST_NAME, index_dataset, new_manifest  # noqa: E402
from cvaegan.evaluation.compare import _logged_seconds  # noqa: E402
from cvaegan.evaluation.evaluate import EvaluateOptions, evaluate  # noqa: E402
from cvaegan.evaluation.judge import JudgeTrainOptions, load_judge, train_judge  # noqa: E402
from cvaegan.evaluation.swap import ROW_LABELS, ROWS, swap_table, write_judge_view  # noqa: E402
from cvaegan.families import registry  # noqa: E402
from cvaegan.cli.commands.train import parse_sets  # noqa: E402
from cvaegan.pipelines.train import TrainOptions, train  # noqa: E402
from cvaegan.runtime.atomic import atomic_write_json, atomic_write_text  # noqa: E402

RUN = "openset"


# --------------------------------------------------------------------------- data

def write_identity_split(data: Path, out: Path, heldout: float, seed: int) -> tuple[Path, dict[str, Any]]:
    """OUT/dataset.json: DATA's images with a seeded `heldout` share of its people (at least one,
    at least one left to train on) held out entirely (`test`), the others `train`."""
    index = index_dataset(data)
    people = sorted(set(index.labels))
    if len(people) < 3:
        sys.exit(f"{data}: {len(people)} people; an identity-disjoint split needs at least 3")
    n_test = min(len(people) - 1, max(2, round(heldout * len(people))))
    rng = np.random.default_rng(seed)
    test = set(rng.choice(people, n_test, replace=False).tolist())
    counts = np.bincount(index.labels, minlength=len(index.class_names))
    classes = [{"index": k, "name": n, "count": int(counts[k])} for k, n in enumerate(index.class_names)]
    items = [{"file": str(Path(f).resolve()), "class": y, "split": "test" if y in test else "train"}
             for f, y in zip(index.files, index.labels)]
    extras = {k: index.manifest[k] for k in ("flip",) if isinstance(index.manifest, dict) and k in index.manifest}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / MANIFEST_NAME, new_manifest(
        "identity-split-view", classes, items, sources=[str(Path(index.root).resolve())], seed=seed,
        heldout_people=sorted(index.class_names[p] for p in test),
        note=f"a seeded {heldout:.0%} of the people held out with all their images (test); the rest train",
        **extras))
    info = {"people": len(people), "test_people": len(test), "train_people": len(people) - len(test),
            "test_images": sum(it["split"] == "test" for it in items),
            "train_images": sum(it["split"] == "train" for it in items)}
    return out, info


# --------------------------------------------------------------------------- training

def train_budget(args: argparse.Namespace, data: Path, console: Console) -> dict[str, Any]:
    """Train (or reuse / resume) OUT/runs/openset for `--minutes` of wall time."""
    run_dir = args.out / "runs" / RUN
    latest = run_dir / "checkpoints" / "latest.pt"
    done = latest.is_file() and _logged_seconds(run_dir) is not None
    seconds = None
    if not done:
        loss, optim = registry.family("openset").settings(args.preset, parse_sets(args.set))  # preset, then --set
        t0 = time.perf_counter()
        res = train(TrainOptions(data=data, out=args.out / "runs", name=RUN, resume=latest.is_file(), model=args.model,
                                 resolution=args.resolution, width=args.width, latent_dim=args.latent_dim,
                                 batch_size=args.batch_size, minutes=args.minutes, loss=loss, optim=optim, seed=args.seed,
                                 device=args.device, precision=args.precision, workers=args.workers,
                                 cache_dir=args.cache_dir, log_every=50, sample_every=1000, ckpt_every=500),
                    console)
        seconds = round(time.perf_counter() - t0, 1)
        if res.interrupted:
            raise KeyboardInterrupt
    from cvaegan.session import load_checkpoint

    return {"checkpoint": str(latest), "steps": int(load_checkpoint(latest)["step"]), "reused": seconds is None,
            "train_seconds": seconds if seconds is not None else _logged_seconds(run_dir), "preset": args.preset,
            "model": args.model, "set": list(args.set)}


def judge_on_test_people(args: argparse.Namespace, data: Path, console: Console) -> tuple[Path, dict[str, Any]]:
    """A class judge of the test people, trained on a seeded share of each one's images."""
    path = args.judge or args.out / "judge-test-people.pt"
    if args.judge is None and not path.is_file():
        view = write_judge_view(data, args.out / "judge-view", fraction=args.judge_fraction, seed=args.seed)
        res = train_judge(JudgeTrainOptions(data=view, out=path, resolution=args.resolution, width=args.judge_width,
                                            epochs=args.judge_epochs, seed=args.seed, device=args.device,
                                            workers=args.workers, cache_dir=args.cache_dir), console)
        console.print(f"judge: top-1 {res.heldout_acc:.1%} on the {res.n_heldout} test-people images it did not "
                      f"train on ({res.n_train} trained on), {res.seconds:.0f} s")
    _, state = load_judge(path, kind="class")
    m = state.get("metrics", {})
    return path, {"path": str(path), "heldout_top1": m.get("heldout_acc"), "train_top1": m.get("train_acc"),
                  "n_train": m.get("n_train"), "n_heldout": m.get("n_heldout"), "classes": len(state["class_names"]),
                  "epochs": state["train"]["epochs"], "fraction": args.judge_fraction,
                  "protocol": "trained on a seeded share of each test person's images (OUT/judge-view); the swap "
                              "evaluation scores only the rest"}


# --------------------------------------------------------------------------- reporting

def checks(rec: dict[str, Any]) -> dict[str, bool]:
    """Does the model do anything? Each number against the floor it must beat."""
    idn, out = rec["identity"], {}
    sw, ca = idn["swap"], idn["copy_attributes"]
    out[f"swaps identified as s more often than the attributes source is ({sw['identification']:.1%} vs "
        f"{ca['identification']:.1%}; chance {idn['chance']:.1%})"] = sw["identification"] > ca["identification"]
    out[f"swaps identified as s above chance ({sw['identification']:.1%} vs {idn['chance']:.1%})"] = \
        sw["identification"] > idn["chance"]
    att = rec["attributes"]
    if att.get("swap_vs_attributes") is not None:
        out[f"landmarks closer to the attributes source than the pasted identity source "
            f"({att['swap_vs_attributes']:.3f} vs {att['identity_source_vs_attributes']:.3f})"] = \
            att["swap_vs_attributes"] < att["identity_source_vs_attributes"]
    gt = rec["ground_truth"]
    if "skipped" not in gt:
        best = max(gt["copy_identity"]["psnr_db"], gt["copy_attributes"]["psnr_db"])
        out[f"PSNR to the ground truth above both copies ({gt['swap']['psnr_db']:.2f} vs {best:.2f} dB)"] = \
            gt["swap"]["psnr_db"] > best
    return out


def markdown(s: dict[str, Any]) -> str:
    rec = s["evaluation"]
    idn, att, gt = rec["identity"], rec["attributes"], rec["ground_truth"]
    tr = s["training"]
    lines = [f"# Identity swap (openset) on {Path(s['data']).name}: {s['resolution']}×{s['resolution']}, "
             f"{s['minutes']:g} min ({tr['steps']} steps)", "",
             f"{rec['n_pairs']} swaps among {rec['n_people']} unseen people ({rec['n_images']} scored images); "
             f"identity embedding: {idn['embedder'].get('name')}, threshold {idn['threshold']:.3f} "
             f"({idn['threshold_kind']}); chance {_pct(idn['chance'])}.", ""]
    has_top1, has_gt = "top1" in idn["swap"], "skipped" not in gt
    head = ["images", "identified as s", "identified as a", "verified as s", "false accept as a"]
    head += ["judge top-1 s"] if has_top1 else []
    head += ["PSNR to truth", "SSIM to truth"] if has_gt else []
    lines += ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for key in ROWS:
        r = idn[key]
        row = [ROW_LABELS[key], _pct(r["identification"]), _pct(r["identified_as_attributes_person"]),
               _pct(r["verification"]), _pct(r["false_accept"])]
        row += [_pct(r["top1"])] if has_top1 else []
        row += [f"{gt[key]['psnr_db']:.2f} dB", f"{gt[key]['ssim']:.3f}"] if has_gt else []
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    if "skipped" in att:
        lines.append(f"Landmarks: skipped ({att['skipped']}).")
    else:
        d = att["detected"]
        lines.append(f"Landmark error to the attributes source (mean 5-point distance / inter-ocular distance, "
                     f"{att['n_pairs_scored']} pairs with a face in all three): swap "
                     f"{_num(att['swap_vs_attributes'])}, pasted identity source "
                     f"{_num(att['identity_source_vs_attributes'])}; swap closer in "
                     f"{_pct(att['swap_closer_share'])}. Faces found: swaps {_pct(d['swap'])}, identity sources "
                     f"{_pct(d['identity_source'])}, attribute sources {_pct(d['attributes_source'])}.")
    if s.get("judge"):
        j = s["judge"]
        lines += ["", f"Judge: {j['classes']} test people, {j['epochs']} epochs on {j['n_train']} images "
                      f"({_pct(j['fraction'])} of each person's); top-1 {_pct(j['heldout_top1'])} on the "
                      f"{j['n_heldout']} it did not see, which are the only images scored."]
    lines += ["", "## Checks (floors)", ""] + [f"- {'met' if ok else 'MISSED'}: {k}" for k, ok in s["checks"].items()]
    lines += ["", f"Protocol: {rec['protocol']}. Rows: {rec['rows']}.", ""]
    for note in rec.get("notes", []):
        lines.append(f"Note: {note}.")
    return "\n".join(lines) + "\n"


def _pct(v: float | None) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1%}"


def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


# --------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, help="a dataset whose classes are people, or with --cartoon where to write "
                                            "the open-set cartoon faces")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cartoon", default=None, metavar="N_TRAIN,N_TEST",
                    help="the demo's cartoon faces: N_TRAIN training identities, N_TEST unseen ones")
    ap.add_argument("--per-class", type=int, default=200, help="--cartoon: images per identity")
    ap.add_argument("--test-per-class", type=int, default=0,
                    help="--cartoon: images per unseen identity (0: --per-class); many training identities "
                         "with few images each, and unseen ones with many, e.g. --cartoon 480,12 "
                         "--per-class 10 --test-per-class 100")
    ap.add_argument("--heldout-people", type=float, default=0.2, help="real faces: share of the people held out")
    ap.add_argument("--minutes", type=float, default=15.0, help="training wall time")
    ap.add_argument("--resolution", type=int, default=None, help="default: 32 for cartoons, 64 for real faces")
    ap.add_argument("--preset", default="default", help="the openset family's preset")
    ap.add_argument("--model", default="openset", choices=("openset", "openset-c"),
                    help="C shared with I (openset) or a separate C (openset-c)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a loss/optimiser field")
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--latent-dim", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--swap-pairs", type=int, default=1000)
    ap.add_argument("--detector", type=Path, default=None, help="SCRFD ONNX file (with keypoints) for the landmark "
                                                                "measure; without it that measure is skipped")
    ap.add_argument("--faceid-model", type=Path, default=None, help="real faces: dlib's model folder (default: the "
                                                                    "face_recognition_models package)")
    ap.add_argument("--judge", type=Path, default=None, help="--cartoon: a class judge of the test people to reuse")
    ap.add_argument("--judge-epochs", type=int, default=15)
    ap.add_argument("--judge-width", type=int, default=32)
    ap.add_argument("--judge-fraction", type=float, default=0.5,
                    help="--cartoon: share of each test person's images the judge trains on (never scored)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache-dir", type=Path, default=None)
    args = ap.parse_args()
    console = Console(stderr=True)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    cartoon = args.cartoon is not None
    args.resolution = args.resolution or (32 if cartoon else 64)
    split_info: dict[str, Any]
    if cartoon:
        try:
            n_train, n_test = (int(v) for v in args.cartoon.split(","))
        except ValueError:
            sys.exit(f"--cartoon {args.cartoon!r}: expected N_TRAIN,N_TEST, e.g. 16,4")
        if n_train < 1 or n_test < 2:
            sys.exit("--cartoon needs at least 1 training identity and 2 unseen ones")
        if args.test_per_class < 0:
            sys.exit(f"--test-per-class {args.test_per_class}: expected 0 (as --per-class) or more")
        data = write_demo_dataset(args.data, DemoDataConfig(num_classes=n_train + n_test, per_class=args.per_class,
                                                            size=args.resolution, seed=args.seed,
                                                            heldout_identities=n_test,
                                                            heldout_per_class=args.test_per_class))
        split_info = {"train_people": n_train, "test_people": n_test, "per_person": args.per_class,
                      "per_test_person": args.test_per_class or args.per_class,
                      "source": "DemoDataConfig(heldout_identities)"}
        judge, judge_info = judge_on_test_people(args, data, console)
        identity = "judge"
    else:
        data, split_info = write_identity_split(args.data, args.out / "split", args.heldout_people, args.seed)
        split_info["source"] = f"seeded {args.heldout_people:.0%} of the people (OUT/split/dataset.json)"
        judge, judge_info, identity = None, None, "dlib"

    training = train_budget(args, data, console)
    rec = evaluate(EvaluateOptions(ckpt=Path(training["checkpoint"]), judge=judge, data=data, seed=args.seed,
                                   device=args.device, precision=args.precision, out=args.out / "eval" / f"{RUN}.json",
                                   workers=args.workers, cache_dir=args.cache_dir, swap_pairs=args.swap_pairs,
                                   identity=identity, faceid_model=args.faceid_model, detector=args.detector),
                   console)
    if rec.get("grid"):
        shutil.copyfile(rec["grid"], args.out / "swap.png")
    summary = {
        "benchmark": "swap", "mode": "cartoons" if cartoon else "real", "data": str(Path(data).resolve()),
        "resolution": args.resolution, "minutes": args.minutes, "width": args.width, "latent_dim": args.latent_dim,
        "batch_size": args.batch_size, "seed": args.seed, "split": split_info, "judge": judge_info,
        "training": training, "evaluation": rec, "checks": checks(rec),
        "grid": str(args.out / "swap.png") if rec.get("grid") else None,
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "machine": {"cpu_threads": torch.get_num_threads(), "python": platform.python_version(),
                    "torch": str(torch.__version__), "argv": sys.argv},
    }
    atomic_write_json(args.out / "swap.json", summary)
    atomic_write_text(args.out / "swap.md", markdown(summary))
    Console(width=200).print(swap_table(rec))
    for k, ok in summary["checks"].items():
        print(f"  {'met ' if ok else 'MISS'}  {k}")
    print(f"wrote {args.out / 'swap.json'}, swap.md and swap.png  ({summary['wall_seconds'] / 60:.1f} min)")


if __name__ == "__main__":
    main()
