"""`cvaegan evaluate` for a style-transfer model (SAAE): is "class c in font f" the real glyph?

Held-out fonts are the dataset's test split (`cvaegan prepare chars`: every fifth font), whose
images neither the generator (`cvaegan train` reads the train split) nor a judge trained on the
same dataset has seen. For every held-out font f and every class c that f draws, the style image
is an image of f showing ANOTHER class (a seeded choice), and the output is
`stylize_class(c, style)`: the model's content image of c (the class in the reference font)
redrawn in f's style. Against the real image of c in f (the ground truth):

  PSNR / SSIM     the project's helpers (`fidelity.reconstruction_quality`, [0, 1] images);
                  beside them two floors: the content image itself (the reference glyph, what a
                  model that ignores the style would draw) and the style image (what a model that
                  copies its style input would draw); and a reference with no model at all, the
                  nearest training styles: the RETRIEVAL_K training fonts whose image of the style
                  image's class is nearest to it (pixel L2), their images of c averaged — what the
                  style image says about c by lookup in the training data;
  content kept    the class judge's top-1 on the outputs reading c, beside the judge's top-1 on
                  the real held-out ground truth (its ceiling);
  style kept      font identification: among the held-out images of class c (one per held-out
                  font), is the nearest to the output — by pixel L2, and by judge-feature L2 —
                  the ground truth's font f? Chance is about 1 / #held-out fonts; the content
                  image, identical for every font, sits near chance.

Per class and overall (a mean over all (c, f) pairs) in the record, overall in a rich table; a
grid (rows: a few held-out fonts; columns: the style image, then output and ground truth for some
classes) beside the JSON.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from torch import Tensor

from cvaegan import __version__
from cvaegan.data.dataset import ImageCache, build_cache
from cvaegan.data.images import save_grid
from cvaegan.evaluation.fidelity import reconstruction_quality
from cvaegan.evaluation.judge import JudgeNet, cache_splits, judge_outputs, load_judge, relative_names, to_float
from cvaegan.runtime.atomic import atomic_write_json
from cvaegan.runtime.errors import CvaeganError
from cvaegan.runtime.progress import make_progress
from cvaegan.session import Session

RETRIEVAL_K = 5  # the nearest training styles averaged; 1 is a copy of one font, more blur more
ROWS = ("output", "content_baseline", "style_baseline", "nearest_train_styles")
ROW_LABELS = {"output": "output", "content_baseline": "content image", "style_baseline": "style image",
              "nearest_train_styles": f"nearest {RETRIEVAL_K} training styles", "real": "real image"}
ROW_NOTE = ("output = stylize_class(c, style image); content image = c in the reference style (a floor); style "
            "image = the style source, another class (a floor); nearest training styles = the mean of c in the "
            f"{RETRIEVAL_K} training styles whose image of the style image's class is nearest to it (a lookup, no "
            "model); real image = the ground truth (the judge's ceiling)")
PROTOCOL = ("held-out (test split) fonts; for each font f and class c with a real image (c, f): style image = "
            "an image of f showing another class (seeded), output = stylize_class(c, style); font "
            "identification: nearest (pixel L2 / judge-feature L2) among the held-out images of class c is of f")


@dataclass
class StylePairs:
    """The (class, held-out font) pairs scored, as cache rows."""

    truth: np.ndarray    # (P,) the real image of class c in font f
    style: np.ndarray    # (P,) the style image: font f, another class
    labels: np.ndarray   # (P,) c
    fonts: np.ndarray    # (P,) f, style group ids of the cache
    held: np.ndarray     # every held-out row with a style (the font-identification candidates)


def heldout_style_rows(cache: ImageCache, data: str | os.PathLike[str] | None = None) -> np.ndarray:
    """The rows of the dataset's test split that belong to a style group. One-line CvaeganError
    when the items record no style groups, the manifest no test split, or no held-out font draws
    two classes (its style image must show another class)."""
    where = data if data is not None else cache.index.root
    if cache.styles is None or not (cache.styles >= 0).any():
        raise CvaeganError(f"{where}: its items record no style groups (no \"style\" per item), so there is no "
                           "font to draw in; the stylize evaluation needs a dataset like `cvaegan prepare chars`")
    test = np.asarray([s == "test" for s in cache_splits(cache)], dtype=bool)
    if not test.any():
        raise CvaeganError(f"{where}: its manifest records no test split (items with \"split\": \"test\"), so no "
                           "font is held out of training; the stylize evaluation scores held-out fonts only")
    rows = np.flatnonzero(test & (cache.styles >= 0))
    if not len(rows):
        raise CvaeganError(f"{where}: none of its test items has a style group; nothing to stylize")
    groups = cache.styles[rows]
    if not any(len(np.unique(cache.labels[rows[groups == g]])) >= 2 for g in np.unique(groups)):
        raise CvaeganError(f"{where}: no held-out font has images of two classes, so no style image can show "
                           "another class than the one drawn")
    return rows


def style_pairs(cache: ImageCache, rows: np.ndarray, seed: int) -> StylePairs:
    """Every held-out (class, font) image as ground truth, each with a seeded style image of the same
    font showing another class. Fonts in order of first appearance, rows in cache order."""
    rng = np.random.default_rng(seed)
    truth, style = [], []
    fonts = list(dict.fromkeys(cache.styles[rows].tolist()))
    for f in fonts:
        members = rows[cache.styles[rows] == f]
        for r in members:
            others = members[cache.labels[members] != cache.labels[r]]
            if not len(others):
                continue
            truth.append(int(r))
            style.append(int(others[rng.integers(len(others))]))
    t = np.asarray(truth, dtype=np.int64)
    return StylePairs(t, np.asarray(style, dtype=np.int64), cache.labels[t], cache.styles[t], rows)


@torch.no_grad()
def stylize_all(model: Any, labels: Tensor, style: Tensor, batch_size: int = 256, autocast: Any = None,
                progress: Any = None) -> Tensor:
    """model.stylize_class in batches on the model's device; float on the CPU."""
    device = model.contents.device
    outs = []
    for i in range(0, len(labels), batch_size):
        with autocast() if autocast is not None else contextlib.nullcontext():
            out = model.stylize_class(labels[i:i + batch_size].to(device), style[i:i + batch_size].to(device))
        outs.append(out.float().cpu())
        if progress is not None:
            progress(min(i + batch_size, len(labels)))
    return torch.cat(outs) if outs else torch.zeros(0, *style.shape[1:])


def nearest_train_styles(cache: ImageCache, labels: np.ndarray, style_rows: np.ndarray,
                         k: int = RETRIEVAL_K) -> tuple[Tensor, int]:
    """The retrieval reference: for each wanted class labels[i] and style image style_rows[i], the
    mean of labels[i]'s training images in the k training styles (groups of the train split) whose
    image of the style image's class is nearest to the style image (pixel L2), among styles that
    draw labels[i]. Returns the images and how many pairs had no such style (their row is the
    mean of all training images of the class, or grey where there is none)."""
    train = np.flatnonzero((np.asarray(cache_splits(cache)) == "train") & (cache.styles >= 0))
    at = {(int(cache.styles[r]), int(cache.labels[r])): int(r) for r in train}
    style_cls = cache.labels[style_rows]
    out = torch.zeros(len(labels), 3, cache.resolution, cache.resolution)
    missing = 0
    for c_s in np.unique(style_cls):
        mine = np.flatnonzero(style_cls == c_s)
        cand = train[cache.labels[train] == c_s]
        queries = to_float(cache.images, style_rows[mine].tolist()).flatten(1).double()
        order = (torch.cdist(queries, to_float(cache.images, cand.tolist()).flatten(1).double()).argsort(1).numpy()
                 if len(cand) else np.zeros((len(mine), 0), dtype=np.int64))
        for i, ranked in zip(mine, order):
            rows = [at[key] for key in ((int(cache.styles[cand[j]]), int(labels[i])) for j in ranked) if key in at][:k]
            if not rows:
                missing += 1
                rows = train[cache.labels[train] == labels[i]].tolist()
            if rows:
                out[i] = to_float(cache.images, rows).mean(0)
    return out, missing


def font_identification(x: Tensor, labels: np.ndarray, fonts: np.ndarray, cand: Tensor, cand_labels: np.ndarray,
                        cand_fonts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each x[i] (of class labels[i], meant to be in font fonts[i]): is the nearest (L2) of the
    candidates of the same class of font fonts[i]? Returns (hit (P,) bool, chance (P,): the share
    of that class's candidates that are of font fonts[i])."""
    hit = np.zeros(len(x), dtype=bool)
    chance = np.zeros(len(x))
    xf, cf = x.flatten(1).double(), cand.flatten(1).double()
    for c in np.unique(labels):
        mine, theirs = np.flatnonzero(labels == c), np.flatnonzero(cand_labels == c)
        if not len(theirs):
            continue
        d = torch.cdist(xf[mine], cf[theirs])
        nearest = cand_fonts[theirs][d.argmin(1).numpy()]
        hit[mine] = nearest == fonts[mine]
        chance[mine] = (cand_fonts[theirs][None, :] == fonts[mine][:, None]).mean(1)
    return hit, chance


def evaluate_stylize(model: Any, cache_or_data: ImageCache | str | os.PathLike[str],
                     judge: JudgeNet | str | os.PathLike[str], *, judge_state: dict[str, Any] | None = None,
                     seed: int = 0, batch_size: int = 256,
                     grid: str | os.PathLike[str] | None = None, cache_dir: str | os.PathLike[str] | None = None,
                     workers: int = 0, console: Console | None = None) -> dict[str, Any]:
    """Score a style-transfer model on the held-out fonts (module docstring). `model`: an SAAE (or a
    `Session` holding one: its precision is then used); `cache_or_data`: an ImageCache at the
    model's resolution or a dataset folder; `judge`: a class judge or its checkpoint path
    (`judge_state`, the checkpoint dict, lets the record name the judge's own held-out accuracy
    and note evaluated images it trained on). `grid`: where to save the result grid (PNG)."""
    t0 = time.perf_counter()
    session = model if isinstance(model, Session) else None
    net = session.model if session is not None else model
    autocast = session.autocast if session is not None else None
    if not hasattr(net, "stylize_class"):
        raise CvaeganError(f"a '{net.cfg.model.model}' model cannot stylize; the stylize evaluation needs a "
                           "style-transfer model such as saae")
    if not isinstance(judge, JudgeNet):
        judge, judge_state = load_judge(judge, net.contents.device, kind="class")
    res = int(net.contents.shape[-1])
    if isinstance(cache_or_data, ImageCache):
        cache, data = cache_or_data, cache_or_data.index.root
    else:
        data = cache_or_data
        with make_progress(console or Console(stderr=True, quiet=True), transient=True) as prog:
            task = prog.add_task("decoding images", total=None, info="")
            cache = build_cache(data, res, workers=workers, cache_dir=cache_dir, split=None,
                                progress=lambda i, n: prog.update(task, completed=i, total=n))
    if cache.resolution != res:
        raise CvaeganError(f"the images are {cache.resolution} px; the model draws {res} px")
    names = list(cache.class_names)
    if session is not None and list(session.class_names) != names:
        raise CvaeganError(f"{data}: its classes differ from the checkpoint's {len(session.class_names)} classes")
    if judge.cfg.num_classes != len(names) or (judge_state is not None and list(judge_state["class_names"]) != names):
        raise CvaeganError(f"the judge's classes differ from the dataset's {len(names)} classes; train the judge on "
                           "this dataset")
    rows = heldout_style_rows(cache, data)
    pairs = style_pairs(cache, rows, seed)
    notes: list[str] = []
    if judge_state is not None:
        seen = set(judge_state["split"]["train"])
        rel = relative_names(cache)
        overlap = sum(rel[r] in seen for r in rows)
        if overlap:
            notes.append(f"the judge trained on {overlap} of the {len(rows)} held-out images scored here")
    if judge.cfg.resolution != res:
        notes.append(f"images resized from {res} to the judge's {judge.cfg.resolution} pixels for the judge")
    skipped = int(len(rows) - len(pairs.truth))
    if skipped:
        notes.append(f"{skipped} held-out images skipped: their font has no image of another class")

    flat = net.contents.detach().flatten(1)
    if bool((flat.amax(1) == flat.amin(1)).all()):
        notes.append("the model's content images are blank (every pixel equal): its checkpoint holds no content "
                     "images, so every number below is of blank inputs")
    y = torch.from_numpy(pairs.labels)
    x_true, x_style = to_float(cache.images, pairs.truth.tolist()), to_float(cache.images, pairs.style.tolist())
    contents = net.contents.detach().float().cpu()
    x_content = contents[y]
    cand = to_float(cache.images, pairs.held.tolist())
    cand_labels, cand_fonts = cache.labels[pairs.held], cache.styles[pairs.held]
    x_lookup, missing = nearest_train_styles(cache, pairs.labels, pairs.style)
    if missing:
        notes.append(f"{missing} pairs had no training style drawing their class: their nearest-training-styles "
                     "image is the mean of the class's training images")
    n = len(y)
    with make_progress(console or Console(stderr=True, quiet=True)) as prog:
        task = prog.add_task("stylizing", total=n, info=f"{len(np.unique(pairs.fonts))} held-out fonts")
        x_out = stylize_all(net, y, x_style, batch_size, autocast, lambda i: prog.update(task, completed=i))
        task = prog.add_task("judging", total=None, info="")
        p_out, f_out = judge_outputs(judge, x_out, batch_size)
        p_true, _ = judge_outputs(judge, x_true, batch_size)
        p_style, f_style = judge_outputs(judge, x_style, batch_size)
        p_cont, f_cont_k = judge_outputs(judge, contents, batch_size)
        p_look, f_look = judge_outputs(judge, x_lookup, batch_size)
        _, f_cand = judge_outputs(judge, cand, batch_size)
        prog.update(task, total=1, completed=1)
    images = {"output": x_out, "content_baseline": x_content, "style_baseline": x_style,
              "nearest_train_styles": x_lookup}
    feats = {"output": f_out, "content_baseline": f_cont_k[y], "style_baseline": f_style,
             "nearest_train_styles": f_look}
    probs = {"output": p_out, "content_baseline": p_cont[y], "style_baseline": p_style,
             "nearest_train_styles": p_look}
    hits: dict[str, dict[str, np.ndarray]] = {}
    chance = None
    for key in ROWS:
        hp, chance = font_identification(images[key], pairs.labels, pairs.fonts, cand, cand_labels, cand_fonts)
        hf, _ = font_identification(feats[key], pairs.labels, pairs.fonts, f_cand, cand_labels, cand_fonts)
        hits[key] = {"pixel": hp, "feature": hf}
    correct = {key: (probs[key].argmax(1) == y).numpy() for key in ROWS}
    correct_real = (p_true.argmax(1) == y).numpy()

    def summary(mask: np.ndarray) -> dict[str, Any]:
        idx = torch.from_numpy(np.flatnonzero(mask))
        out: dict[str, Any] = {"n": int(mask.sum())}
        for key in ROWS:
            q = reconstruction_quality(images[key][idx], x_true[idx])
            out[key] = {"psnr_db": q["psnr_db"], "ssim": q["ssim"], "mse": q["mse"],
                        "top1": float(correct[key][mask].mean()),
                        "font_id_pixel": float(hits[key]["pixel"][mask].mean()),
                        "font_id_feature": float(hits[key]["feature"][mask].mean())}
        out["real"] = {"top1": float(correct_real[mask].mean())}
        out["font_id_chance"] = float(chance[mask].mean())
        return out

    per_class = {names[c]: summary(pairs.labels == c) for c in np.unique(pairs.labels).tolist()}
    overall = _pooled(per_class)
    font_names = cache.style_names or []
    per_font = {}
    for f in dict.fromkeys(pairs.fonts.tolist()):
        m = pairs.fonts == f
        idx = torch.from_numpy(np.flatnonzero(m))
        q = reconstruction_quality(x_out[idx], x_true[idx])
        per_font[font_names[f] if f < len(font_names) else str(f)] = {
            "n": int(m.sum()), "psnr_db": q["psnr_db"], "ssim": q["ssim"],
            "top1": float(correct["output"][m].mean()), "font_id_pixel": float(hits["output"]["pixel"][m].mean())}
    spec = (cache.index.manifest or {}).get("styles") or {}
    record: dict[str, Any] = {
        "kind": "stylize", "data": str(Path(data).resolve()), "resolution": res, "seed": seed,
        "judge_resolution": judge.cfg.resolution,
        "judge_heldout_acc_at_training": (judge_state or {}).get("metrics", {}).get("heldout_acc"),
        "style_name": spec.get("name", "style") if isinstance(spec, dict) else "style",
        "reference_style": spec.get("reference") if isinstance(spec, dict) else None,
        "n_pairs": n, "n_fonts": len(per_font), "n_classes": len(per_class), "classes": len(names),
        "fonts": list(per_font), "overall": overall, "per_class": per_class, "per_font": per_font,
        "protocol": PROTOCOL, "notes": notes,
    }
    if grid is not None:
        record["grid"] = str(_save_grid(cache, pairs, net, Path(grid), seed, autocast))
        record["grid_layout"] = ("rows: held-out fonts; columns: the style image, then per class the output and "
                                 "the ground truth")
    record["seconds"] = round(time.perf_counter() - t0, 2)
    return record


def evaluate_stylize_session(session: Any, opts: Any, out: Path, console: Console) -> dict[str, Any]:
    """`cvaegan evaluate` of a model with the "stylize" capability (options: `EvaluateOptions`);
    returns the record, also written to `out` (the grid beside it)."""
    judge, jstate = load_judge(opts.judge, session.device, kind="class")
    rec = evaluate_stylize(session, opts.data, judge, judge_state=jstate, seed=opts.seed, batch_size=opts.batch_size,
                           grid=out.with_suffix(".png") if opts.grid else None, cache_dir=opts.cache_dir,
                           workers=opts.workers, console=console)
    rec = {"command": "evaluate", "kind": "stylize", "checkpoint": str(session.path),
           "model": session.model.cfg.model.model, "step": session.step, "precision": session.precision,
           "judge": str(opts.judge), "split_source": jstate["split"]["source"], **rec}
    rec["meta"] = {"cvaegan": __version__, "torch": str(torch.__version__), "device": str(session.device),
                   "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    atomic_write_json(out, rec)
    rec["json"] = str(out)
    return rec


def _pooled(per_class: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The mean over every pair: the per-class means weighted by their pair counts."""
    total = sum(v["n"] for v in per_class.values())

    def mean(get: Any) -> float:
        return float(sum(get(v) * v["n"] for v in per_class.values()) / total) if total else float("nan")

    out: dict[str, Any] = {"n": total}
    for key in (*ROWS, "real"):
        fields = next(iter(per_class.values()))[key]
        out[key] = {f: mean(lambda v, k=key, f=f: v[k][f]) for f in fields}
    out["font_id_chance"] = mean(lambda v: v["font_id_chance"])
    return out


def _save_grid(cache: ImageCache, pairs: StylePairs, model: Any, path: Path, seed: int, autocast: Any,
               fonts: int = 6, classes: int = 6) -> Path:
    """Rows: up to `fonts` held-out fonts; columns: one style image of the font (a seeded image of
    a class not shown), then for up to `classes` classes spread over the class list the output and
    the ground truth (grey where the font has no image of that class)."""
    rng = np.random.default_rng(seed + 1)
    all_fonts = list(dict.fromkeys(pairs.fonts.tolist()))
    spread = np.linspace(0, len(all_fonts) - 1, min(fonts, len(all_fonts))).round().astype(int)
    shown_fonts = [all_fonts[i] for i in spread]
    present = sorted(set(pairs.labels.tolist()))
    shown = [present[i] for i in np.linspace(0, len(present) - 1, min(classes, len(present))).round().astype(int)]
    tiles = []
    for f in dict.fromkeys(shown_fonts):
        members = pairs.held[cache.styles[pairs.held] == f]
        pool = members[~np.isin(cache.labels[members], shown)]
        pool = pool if len(pool) else members
        s = to_float(cache.images, [int(pool[rng.integers(len(pool))])])
        outs = stylize_all(model, torch.tensor(shown), s.expand(len(shown), -1, -1, -1), autocast=autocast)
        tiles.append(s)
        for j, c in enumerate(shown):
            truth = members[cache.labels[members] == c]
            tiles += [outs[j:j + 1], to_float(cache.images, [int(truth[0])]) if len(truth) else torch.zeros_like(s)]
    return save_grid(torch.cat(tiles), path, nrow=1 + 2 * len(shown))


def stylize_table(rec: dict[str, Any]) -> Table:
    """The rich table `cvaegan evaluate` prints for a style-transfer model (overall numbers)."""
    o = rec["overall"]
    style = rec.get("style_name", "style")
    head = (f"{rec.get('model', 'model')} @ step {rec.get('step', '?')}: " if "step" in rec else "")
    t = Table(title=f"{head}{rec['n_pairs']} (class, {style}) pairs, {rec['n_fonts']} held-out {style}s, "
                    f"{rec['n_classes']} classes")
    for col, just in (("images", "left"), ("PSNR", "right"), ("SSIM", "right"), ("judge: c", "right"),
                      (f"{style} id px", "right"), (f"{style} id feat", "right")):
        t.add_column(col, justify=just)
    for key in ROWS:
        r = o[key]
        t.add_row(ROW_LABELS[key], f"{r['psnr_db']:.2f} dB", f"{r['ssim']:.3f}", f"{r['top1']:.1%}",
                  f"{r['font_id_pixel']:.1%}", f"{r['font_id_feature']:.1%}")
    t.add_row(ROW_LABELS["real"], "—", "—", f"{o['real']['top1']:.1%}", "—", "—")
    t.caption = (f"PSNR/SSIM against the real image of class c in the held-out {style}. {ROW_NOTE}. {style} id: "
                 f"the nearest held-out image of class c (pixels / judge features) is of the style's {style}; "
                 f"chance {o['font_id_chance']:.1%}")
    return t
