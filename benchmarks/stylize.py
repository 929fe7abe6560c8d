"""Style transfer (SAAE, issue 14) on characters, end to end, under a time budget:

  1. a class judge (`cvaegan judge train DATA`) on DATA's train split, scored on its test split:
     fonts held out of everything (`cvaegan prepare chars`: every fifth font);
  2. SAAE (`default` preset: the three-step schedule) trained for `--minutes` of wall time on the
     train fonts; with `--ablation joint` / `--ablation binary-d` also the same budget with that
     preset (the schedule's ablation: loss and train-batch PSNR over time from each run's
     log.jsonl, and the final evaluation of each);
  3. `cvaegan evaluate` of each (evaluation/stylize.py): on the held-out fonts, "class c in font f"
     from a style image of f showing another class, against the real image: PSNR/SSIM (with the
     content image and the style image as floors, and a lookup with no model: c averaged over the
     5 training fonts nearest to the style image), the judge's top-1 reading c (beside its top-1
     on the real images), font identification by nearest held-out image (pixels, judge features);
  4. with `--augment-fonts N`, §3.4: an SAAE trained for `--augment-minutes` on ONLY the first N
     train fonts (by font index; the reference font among them); ONE seeded image (any class) of
     each OTHER train font as its style example (fonts the generator never saw, one image each);
     every class generated in each of those styles; two recognisers trained with the judge
     library for the same epochs and seed — the N real fonts, and those plus the generated
     images — and scored on the test fonts: the accuracy gain.

The paper's Table 1 (Parzen-window log-likelihood on MNIST) needs MNIST, which is not available
offline here: it is not measured.

    python benchmarks/stylize.py DATA --minutes 20 --out DIR [--ablation joint] \\
        [--augment-fonts 20 --augment-minutes 20]

Writes DIR/stylize.json (every number, the targets and whether each is met) and DIR/stylize.md (the
tables), and prints them. The judge, runs and recognisers in DIR are reused on a re-run (an
unfinished run is resumed with what is left of its budget).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cvaegan.cli.commands.train import parse_sets  # noqa: E402
from cvaegan.data.demo_faces import DemoDataConfig, write_demo_dataset  # noqa: E402
from cvaegan.data.images import to_hwc_uint8  # noqa: E402
from cvaegan.data.manifest import MANIFEST_NAME, index_dataset, new_manifest, read_manifest  # noqa: E402
from cvaegan.evaluation.compare import CompareOptions, Variant, get_judge, run_variant  # noqa: E402
from cvaegan.evaluation.judge import JudgeTrainOptions, load_judge, train_judge  # noqa: E402
from cvaegan.evaluation.stylize import ROW_LABELS, ROW_NOTE, ROWS, stylize_all  # noqa: E402
from cvaegan.families.saae.config import from_preset  # noqa: E402
from cvaegan.runtime.atomic import atomic_write_json, atomic_write_text  # noqa: E402
from cvaegan.session import open_session  # noqa: E402

TARGETS = {"content_top1": 0.95, "psnr_db": 18.0, "augment_gain_points": 3.0}  # issue 14, unseen fonts
ABLATIONS = ("joint", "binary-d")
RECOGNISER_BATCH = 64  # the judge library's default batch
NOT_MEASURED = "Table 1 (MNIST Parzen log-likelihood): MNIST is not available offline; not measured"


# --------------------------------------------------------------------------- training curves

def curve(run_dir: Path) -> list[dict[str, float]]:
    """Training loss and train-batch PSNR over wall time, from a run's log.jsonl: one point per
    log line; seconds = the sum of step_time_s × steps since the previous line (so a resumed run's
    pause does not count). PSNR in [0, 1] units: 10·log10(4 / mse of [-1, 1] images)."""
    points, seconds, last = [], 0.0, 0
    try:
        lines = (run_dir / "log.jsonl").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if "event" in e or "step" not in e or "mse" not in e:
            continue
        seconds += float(e.get("step_time_s", 0.0)) * max(int(e["step"]) - last, 0)
        last = int(e["step"])
        mse = float(e["mse"])
        points.append({"seconds": round(seconds, 1), "step": last, "stage": e.get("stage"),
                       "loss_rec": e.get("loss_rec"), "loss_d": e.get("loss_d"), "loss_adv": e.get("loss_adv"),
                       "psnr_train_db": round(10 * math.log10(4.0 / mse), 3) if mse > 0 else None})
    return points


def at_fractions(points: list[dict[str, Any]], fractions=(0.25, 0.5, 0.75, 1.0)) -> list[dict[str, Any]]:
    """The curve's points nearest to these fractions of its total time."""
    if not points:
        return []
    end = points[-1]["seconds"] or 1.0
    picked = [min(points, key=lambda p: abs(p["seconds"] - f * end)) for f in fractions]
    return [p for i, p in enumerate(picked) if p not in picked[:i]]


# --------------------------------------------------------------------------- §3.4 augmentation

def font_key(name: str) -> tuple[int, Any]:
    return (0, int(name)) if name.isdigit() else (1, name)


def write_view(path: Path, manifest: dict[str, Any], items: list[dict[str, Any]], sources: list[Path],
               **extras: Any) -> Path:
    """A dataset.json at `path` over files that live elsewhere (absolute paths, `sources`)."""
    keep = {k: manifest[k] for k in ("styles", "flip", "size") if k in manifest}
    counts = np.bincount([it["class"] for it in items], minlength=len(manifest["classes"]))
    classes = [{**c, "count": int(counts[c["index"]])} for c in manifest["classes"]]
    atomic_write_json(path / MANIFEST_NAME, new_manifest("split-view", classes, items,
                                                         sources=[str(s.resolve()) for s in sources], **keep, **extras))
    return path


def pick_fonts(data: Path, n: int) -> tuple[dict[str, Any], list[dict[str, Any]], list[str], list[str]]:
    """DATA's manifest and items (absolute files), the first N train fonts by index (the reference
    font swapped in for the last when it is not among them) and the other train fonts."""
    manifest = read_manifest(data / MANIFEST_NAME)
    index = index_dataset(data)
    if index.styles is None or "test" not in index.splits:
        sys.exit(f"{data}: --augment-fonts needs style groups and a test split (`cvaegan prepare chars`)")
    items = [{"file": str(f), "class": y, "style": s, "split": sp}
             for f, y, s, sp in zip(index.files, index.labels, index.styles, index.splits)]
    train_fonts = sorted({it["style"] for it in items if it["split"] != "test" and it["style"] is not None},
                         key=font_key)
    if n >= len(train_fonts):
        sys.exit(f"--augment-fonts {n}: DATA has only {len(train_fonts)} train fonts; leave some to borrow styles from")
    chosen = train_fonts[:n]
    ref = str((manifest.get("styles") or {}).get("reference"))
    if ref in train_fonts and ref not in chosen:
        chosen[-1] = ref
    return manifest, items, chosen, [f for f in train_fonts if f not in chosen]


def generate(session: Any, style_dir: Path, out: Path, precision: str) -> tuple[Path, list[dict[str, Any]], str]:
    """Every class in the style of each image of `style_dir`: with `cvaegan augment --style-from`'s
    library when it has it, else `model.stylize_class` directly. Returns the folder, its items
    (absolute files, "train") and which path made them."""
    try:
        from cvaegan.apps.augment import AugmentOptions, augment
        opts = AugmentOptions(style_from=style_dir, precision=precision, fsync=False)
    except (ImportError, TypeError):
        opts = None
    if opts is not None:
        res = augment(session, out, opts)
        manifest = json.loads(res.manifest.read_text())
        src = {c["index"]: c.get("source_class", c["index"]) for c in manifest["classes"]}
        items = [{"file": str((out / it["file"]).resolve()), "class": src[it["class"]], "split": "train",
                  "style": f"generated/{it.get('style')}", "synthetic": True} for it in manifest["items"]]
        return out, items, "cvaegan.apps.augment (--style-from)"
    k, res_px = session.num_classes, session.resolution
    items = []
    for path in sorted(style_dir.iterdir()):
        im = Image.open(path).convert("RGB")
        if im.size != (res_px, res_px):
            im = im.resize((res_px, res_px), Image.Resampling.BILINEAR)
        style = torch.from_numpy(np.asarray(im, dtype=np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
        x = stylize_all(session.model, torch.arange(k), style.expand(k, -1, -1, -1), autocast=session.autocast)
        for c, arr in enumerate(to_hwc_uint8(x)):
            dst = out / str(c) / f"{path.stem}.png"
            dst.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(arr).save(dst)
            items.append({"file": str(dst.resolve()), "class": c, "split": "train", "style": f"generated/{path.stem}",
                          "synthetic": True})
    return out, items, "model.stylize_class"


def augmentation(args: argparse.Namespace, judge: Path, console: Console) -> dict[str, Any]:
    """§3.4: recognisers from N real fonts, with and without SAAE images in the other fonts' styles."""
    n = args.augment_fonts
    root = args.out / f"augment-{n}fonts"
    manifest, items, chosen, others = pick_fonts(args.data, n)
    keep = set(chosen)
    test = [it for it in items if it["split"] == "test"]
    real = [{**it, "split": "train"} for it in items if it["split"] != "test" and it["style"] in keep]
    view = write_view(root / "real", manifest, real + test, [args.data], fonts=chosen)

    # the generator: only the N fonts (the view's train split)
    opts = CompareOptions(data=view, out=root, resolution=args.resolution, width=args.width,
                          batch_size=args.batch_size, latent_dim=args.latent_dim, seed=args.seed, device=args.device,
                          precision=args.precision, judge=judge, cache_dir=args.cache_dir,
                          minutes=args.augment_minutes)
    loss, optim = from_preset("default", **parse_sets(args.set))
    gen_rec = run_variant(Variant(f"saae-{n}fonts", model="saae", loss=loss, optim=optim), opts, judge, console)

    # one seeded image of each other train font: its style example (its class is never used)
    rng = np.random.default_rng(args.seed)
    by_font: dict[str, list[dict[str, Any]]] = {}
    for it in items:
        if it["style"] in others and it["split"] != "test":
            by_font.setdefault(it["style"], []).append(it)
    examples = {f: by_font[f][int(rng.integers(len(by_font[f])))] for f in others}
    session = open_session(root / "runs" / f"saae-{n}fonts" / "checkpoints" / "latest.pt", device=args.device,
                           precision=args.precision, needs=("stylize",), purpose="§3.4 augmentation")
    style_dir = root / "styles"  # the style examples, one file per font (their class is not used)
    style_dir.mkdir(parents=True, exist_ok=True)
    for f, ex in examples.items():
        shutil.copyfile(ex["file"], style_dir / f"font_{f}{Path(ex['file']).suffix}")
    if not gen_rec["reused"]:  # a new generator: its images (and the recogniser trained on them) are redone
        shutil.rmtree(root / "generated", ignore_errors=True)
        (root / "recogniser-real_plus_generated.pt").unlink(missing_ok=True)
    t0 = time.perf_counter()
    gen_dir, generated, how = generate(session, style_dir, root / "generated", args.precision)
    gen_seconds = time.perf_counter() - t0
    mixed = write_view(root / "real+generated", manifest, real + generated + test, [args.data, gen_dir],
                       fonts=chosen, generated_from=[str(examples[f]["file"]) for f in others])

    recognisers = {}

    def recogniser(name: str, data: Path, epochs: int) -> dict[str, Any]:
        path = root / f"recogniser-{name}.pt"
        if path.is_file() and load_judge(path)[1]["train"]["epochs"] != epochs:
            path.unlink()
        if not path.is_file():
            train_judge(JudgeTrainOptions(data=data, out=path, resolution=args.resolution, width=args.judge_width,
                                          epochs=epochs, batch_size=RECOGNISER_BATCH, seed=args.seed,
                                          device=args.device, cache_dir=args.cache_dir), console)
        _, state = load_judge(path)
        m, t = state["metrics"], state["train"]
        return {"test_fonts_acc": m["heldout_acc"], "train_acc": m["train_acc"], "n_train": m["n_train"],
                "n_test": m["n_heldout"], "epochs": t["epochs"],
                "steps": t["epochs"] * max(1, m["n_train"] // t["batch_size"]), "path": str(path)}

    recognisers["real_only"] = recogniser("real_only", view, args.recogniser_epochs)
    recognisers["real_plus_generated"] = recogniser("real_plus_generated", mixed, args.recogniser_epochs)
    acc = {k: v["test_fonts_acc"] for k, v in recognisers.items()}
    gain = 100 * (acc["real_plus_generated"] - acc["real_only"])
    gain_matched = None
    if args.match_steps:  # the real-only recogniser for as many optimiser steps as the augmented one
        per_epoch = max(1, recognisers["real_only"]["n_train"] // RECOGNISER_BATCH)
        epochs = math.ceil(recognisers["real_plus_generated"]["steps"] / per_epoch)
        recognisers["real_only_matched_steps"] = recogniser("real_only_matched_steps", view, epochs)
        gain_matched = 100 * (acc["real_plus_generated"] - recognisers["real_only_matched_steps"]["test_fonts_acc"])
    return {"fonts": chosen, "n_real_fonts": len(chosen), "style_fonts": len(examples),
            "style_examples": {f: Path(ex["file"]).relative_to(args.data.resolve()).as_posix()
                               for f, ex in examples.items()},
            "n_generated": len(generated), "generate_seconds": round(gen_seconds, 1), "generated_with": how,
            "generator": {"steps": gen_rec["step"], "train_seconds": gen_rec["train_seconds"],
                          "output": gen_rec["overall"]["output"], "json": gen_rec["json"]},
            "recognisers": recognisers, "gain_points": gain, "gain_points_matched_steps": gain_matched,
            "recogniser_epochs": args.recogniser_epochs,
            "protocol": (f"first {len(chosen)} train fonts by index (reference font among them) are the real data and "
                         "the generator's only training data; one seeded image of each other train font is its "
                         "style example; every class is generated in each style; recognisers (the judge network) "
                         "trained for the same epochs and seed, scored on the test fonts")}


# --------------------------------------------------------------------------- reporting

def markdown(summary: dict[str, Any]) -> str:
    lines = [f"# SAAE on {Path(summary['data']).name}: {summary['resolution']}px, {summary['minutes']:g} min/run",
             "", f"Judge top-1 on the held-out fonts' real images: {_pct(summary['judge_heldout_top1'])}. "
             f"PSNR/SSIM against the real image of class c in the held-out font; {ROW_NOTE}.", ""]
    for run, r in summary["runs"].items():
        o = r["overall"]
        lines += [f"## {run} ({r['steps']} steps, {r['train_seconds']} s; {r['n_pairs']} pairs, "
                  f"{r['n_fonts']} held-out fonts)", "",
                  "| images | PSNR to truth | SSIM | judge reads c | font id (pixel) | font id (judge feat.) |",
                  "|---|---:|---:|---:|---:|---:|"]
        for key in ROWS:
            v = o[key]
            lines.append(f"| {ROW_LABELS[key]} | {v['psnr_db']:.2f} dB | {v['ssim']:.3f} | {_pct(v['top1'])} | "
                         f"{_pct(v['font_id_pixel'])} | {_pct(v['font_id_feature'])} |")
        lines += [f"| {ROW_LABELS['real']} | — | — | {_pct(o['real']['top1'])} | — | — |", "",
                  f"Font identification chance: {_pct(o['font_id_chance'])}.", ""]
    if len(summary["runs"]) > 1:
        lines += ["## Training curves (train batches)", "",
                  "| run | seconds | step | stage | loss_rec | PSNR (train) |", "|---|---:|---:|---:|---:|---:|"]
        for run, r in summary["runs"].items():
            for p in at_fractions(r["curve"]):
                lines.append(f"| {run} | {p['seconds']:.0f} | {p['step']} | {_num(p['stage'], '.0f')} | "
                             f"{_num(p['loss_rec'], '.1f')} | {_num(p['psnr_train_db'], '.2f')} dB |")
        lines.append("")
    a = summary.get("augmentation")
    if a:
        rr = a["recognisers"]
        lines += [f"## §3.4: recogniser from {a['n_real_fonts']} real fonts, tested on unseen fonts", "",
                  "| training data | images | epochs | steps | test-font accuracy |", "|---|---:|---:|---:|---:|"]
        labels = {"real_only": f"{a['n_real_fonts']} real fonts",
                  "real_plus_generated": f"+ generated ({a['style_fonts']} unseen styles × every class)",
                  "real_only_matched_steps": f"{a['n_real_fonts']} real fonts, as many steps as the augmented one"}
        for key, r in rr.items():
            lines.append(f"| {labels[key]} | {r['n_train']} | {r['epochs']} | {r['steps']} | "
                         f"{_pct(r['test_fonts_acc'])} |")
        lines += ["", f"Gain: {a['gain_points']:+.1f} points ({a['recogniser_epochs']} epochs each, same seed)"
                  + (f"; {a['gain_points_matched_steps']:+.1f} points against the real-only recogniser trained "
                     "for as many steps" if a.get("gain_points_matched_steps") is not None else "")
                  + f". Generator: {a['generator']['steps']} steps on the {a['n_real_fonts']} fonts.", ""]
    lines += ["## Targets (unseen fonts)", ""]
    lines += [f"- {'met' if ok else 'MISSED'}: {k}" for k, ok in summary["targets"].items()]
    lines += ["", f"Not measured: {NOT_MEASURED}.", ""]
    return "\n".join(lines)


def _num(v: float | None, fmt: str) -> str:
    return "—" if v is None else format(v, fmt)


def _pct(v: float | None) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1%}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, help="a `cvaegan prepare chars` output (style groups, test fonts), "
                                            "or with --cartoon-looks where to write the cartoon faces")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--minutes", type=float, default=20.0, help="training wall time of each SAAE run")
    ap.add_argument("--resolution", type=int, default=32)
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--latent-dim", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--judge", type=Path, default=None, help="a class judge trained on DATA to reuse")
    ap.add_argument("--judge-epochs", type=int, default=15)
    ap.add_argument("--judge-width", type=int, default=32, help="the judge's (and the recognisers') width")
    ap.add_argument("--ablation", action="append", default=[], choices=ABLATIONS,
                    help="also train this preset for the same budget (repeatable)")
    ap.add_argument("--augment-fonts", type=int, default=0, help="§3.4 with the first N train fonts (0: skip)")
    ap.add_argument("--augment-minutes", type=float, default=None, help="the §3.4 generator's budget "
                    "(default: --minutes)")
    ap.add_argument("--recogniser-epochs", type=int, default=15, help="§3.4: epochs of each recogniser")
    ap.add_argument("--match-steps", action="store_true", help="§3.4: also train the real-only recogniser for as "
                    "many optimiser steps as the augmented one (the same epochs give it fewer)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--cartoon-looks", type=int, default=0, metavar="N",
                    help="faces instead of characters: write the demo's cartoon faces with N shared looks "
                         "(pose, light, background; every fifth held out) to DATA unless there already")
    ap.add_argument("--cartoon-classes", type=int, default=16, help="identities of --cartoon-looks")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a loss/optimiser field of every run, e.g. lr_g=1e-3 (repeatable)")
    args = ap.parse_args()
    overrides = parse_sets(args.set)
    if args.cartoon_looks:
        write_demo_dataset(args.data, DemoDataConfig(num_classes=args.cartoon_classes, per_class=args.cartoon_looks,
                                                     size=max(64, args.resolution), seed=args.seed, shared_looks=True))
    if args.augment_minutes is None:
        args.augment_minutes = args.minutes
    console = Console(stderr=True)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    opts = CompareOptions(data=args.data, out=args.out, resolution=args.resolution, width=args.width,
                          batch_size=args.batch_size, latent_dim=args.latent_dim, seed=args.seed, device=args.device,
                          precision=args.precision, judge=args.judge, judge_epochs=args.judge_epochs,
                          judge_width=args.judge_width, cache_dir=args.cache_dir, minutes=args.minutes)
    judge, jstate = get_judge(opts, console)
    runs = {}
    for preset in ("default", *dict.fromkeys(args.ablation)):
        loss, optim = from_preset(preset, **overrides)
        name = "saae" if preset == "default" else f"saae-{preset}"
        rec = run_variant(Variant(name, model="saae", loss=loss, optim=optim), opts, judge, console)
        runs[name] = {"preset": preset, "steps": rec["step"], "train_seconds": rec["train_seconds"],
                      "reused": rec["reused"], "n_pairs": rec["n_pairs"], "n_fonts": rec["n_fonts"],
                      "overall": rec["overall"], "per_class": rec["per_class"], "per_font": rec["per_font"],
                      "grid": rec.get("grid"), "json": rec["json"], "curve": curve(args.out / "runs" / name)}
    aug = augmentation(args, judge, console) if args.augment_fonts else None

    o = runs["saae"]["overall"]["output"]
    targets = {f"content accuracy ≥ {TARGETS['content_top1']:.0%} (judge top-1 on outputs: {o['top1']:.1%})":
               o["top1"] >= TARGETS["content_top1"],
               f"PSNR to ground truth ≥ {TARGETS['psnr_db']:g} dB ({o['psnr_db']:.2f} dB)":
               o["psnr_db"] >= TARGETS["psnr_db"]}
    if aug:
        targets[f"augmented recogniser beats real-only by ≥ {TARGETS['augment_gain_points']:g} points "
                f"({aug['gain_points']:+.1f})"] = aug["gain_points"] >= TARGETS["augment_gain_points"]
        matched = aug["gain_points_matched_steps"]
        if matched is not None:
            targets[f"… and beats real-only trained for as many steps by ≥ {TARGETS['augment_gain_points']:g} "
                    f"points ({matched:+.1f})"] = matched >= TARGETS["augment_gain_points"]
    summary = {
        "benchmark": "stylize", "data": str(args.data.resolve()), "resolution": args.resolution,
        "minutes": args.minutes, "width": args.width, "latent_dim": args.latent_dim, "batch_size": args.batch_size,
        "seed": args.seed, "overrides": overrides, "judge": str(judge),
        "judge_heldout_top1": jstate.get("metrics", {}).get("heldout_acc"),
        "runs": runs, "augmentation": aug, "targets": targets, "target_values": TARGETS,
        "not_measured": [NOT_MEASURED], "wall_seconds": round(time.perf_counter() - t0, 1),
        "machine": {"cpu_threads": torch.get_num_threads(), "python": platform.python_version(),
                    "torch": str(torch.__version__), "argv": sys.argv},
    }
    atomic_write_json(args.out / "stylize.json", summary)
    md = markdown(summary)
    atomic_write_text(args.out / "stylize.md", md)

    table = Table(title=f"SAAE, {args.resolution}px, {args.minutes:g} min/run: held-out fonts "
                        f"(judge top-1 on real: {_pct(summary['judge_heldout_top1'])})")
    for col in ("run", "images", "PSNR", "SSIM", "judge reads c", "font id px", "font id feat", "steps"):
        table.add_column(col, justify="left" if col in ("run", "images") else "right")
    for run, r in runs.items():
        for key in ROWS:
            v = r["overall"][key]
            table.add_row(run, ROW_LABELS[key], f"{v['psnr_db']:.2f}", f"{v['ssim']:.3f}", _pct(v["top1"]),
                          _pct(v["font_id_pixel"]), _pct(v["font_id_feature"]), str(r["steps"]))
        table.add_row(run, ROW_LABELS["real"], "", "", _pct(r["overall"]["real"]["top1"]), "", "",
                      f"chance {_pct(r['overall']['font_id_chance'])}")
    Console(width=200).print(table)
    if aug:
        rr = aug["recognisers"]
        print(f"§3.4 ({aug['n_real_fonts']} real fonts, {aug['style_fonts']} borrowed styles, "
              f"{aug['n_generated']} generated): real-only {_pct(rr['real_only']['test_fonts_acc'])}, "
              f"real + generated {_pct(rr['real_plus_generated']['test_fonts_acc'])} on the test fonts: "
              f"{aug['gain_points']:+.1f} points"
              + (f" ({aug['gain_points_matched_steps']:+.1f} against real-only with as many steps)"
                 if aug["gain_points_matched_steps"] is not None else ""))
    for k, ok in targets.items():
        print(f"  {'met ' if ok else 'MISS'}  {k}")
    print(f"  not measured: {NOT_MEASURED}")
    print(f"wrote {args.out / 'stylize.json'} and stylize.md  ({summary['wall_seconds'] / 60:.1f} min)")


if __name__ == "__main__":
    main()
