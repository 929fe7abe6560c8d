"""`cvaegan evaluate` for a model that edits attributes (IFcVAE-GAN): does an edit do what was
asked, and nothing else?

For every held-out image of the attribute judge J (`cvaegan judge train DATA --attributes …`;
images J never saw, and with CelebA's official split, people it never saw) and every attribute a
of the model, the edit sets a to the opposite of the image's true value: x'_a = G(μ(x), ŷ(x) with
a flipped). Measured:

  success         share of edits that J reads as the requested value of a (and per direction:
                  adding, removing);
  others kept     share of J's readings of every OTHER attribute J knows that are the same on x'_a
                  as on x; the same number for the plain reconstruction G(μ(x), ŷ(x)) shows how
                  much of the change is the edit and how much the reconstruction;
  identity        J's feature distance between x and x'_a, relative to the mean distance between
                  two different held-out images (0 = same features, 1 = as far as a random other
                  face), and the reconstruction's; on the demo cartoons, whose generator redraws
                  the same face with the attribute flipped, PSNR of x'_a against that exact ground
                  truth (and, for scale, of the input against it);
  E's accuracy    E's reading of each attribute on the real held-out images against the labels,
                  beside J's (accuracy, balanced accuracy).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from cvaegan import __version__
from cvaegan.apps.detail import keep_detail
from cvaegan.data.dataset import build_cache
from cvaegan.data.images import from_hwc_uint8, save_grid
from cvaegan.evaluation.fidelity import reconstruction_quality
from cvaegan.evaluation.judge import (ATTRIBUTE_THRESHOLD, attribute_metrics, attribute_outputs, heldout_rows, load_judge,
                                      relative_names, to_float)
from cvaegan.runtime.atomic import atomic_write_json
from cvaegan.runtime.errors import CvaeganError
from cvaegan.runtime.progress import make_progress
from cvaegan.session import Session


def evaluate_edits(session: Session, opts: Any, out: Path, console: Console) -> dict[str, Any]:
    """The edit evaluation of `session`'s model (options: `EvaluateOptions`); returns the record,
    also written to `out`."""
    t0 = time.perf_counter()
    judge, jstate = load_judge(opts.judge, session.device, kind="attributes")
    names = list(session.condition.names)
    jnames = list(jstate["attribute_names"])
    missing = [n for n in names if n not in jnames]
    if missing:
        raise CvaeganError(f"the judge does not read {', '.join(missing)}; train it with --attributes all")
    res = session.resolution
    with make_progress(console, transient=True) as prog:
        task = prog.add_task("decoding images", total=None, info="")
        cache = build_cache(opts.data, res, workers=opts.workers, cache_dir=opts.cache_dir, split=None,
                            progress=lambda i, n: prog.update(task, completed=i, total=n))
    available = cache.index.target_names or []
    if cache.targets is None or any(n not in available for n in names):
        raise CvaeganError(f"{opts.data}: its targets do not include the model's attributes {', '.join(names)}")
    held = heldout_rows(cache, jstate)
    rng = np.random.default_rng(opts.seed)
    if len(held) > opts.edit_images:
        held = sorted(rng.choice(held, opts.edit_images, replace=False).tolist())
    x = to_float(cache.images, held)
    y = torch.from_numpy(cache.targets[held][:, [available.index(n) for n in names]]).float()
    truth_renderer = _ground_truth(cache, held, res)
    n, bs = len(held), opts.batch_size

    with make_progress(console) as prog:
        task = prog.add_task("editing", total=n * (len(names) + 1), info=f"{n} images × {len(names)} attributes")
        mu, y_hat, recon = _encode_reconstruct(session, x, bs)
        prog.update(task, completed=n)
        p_real, f_real = attribute_outputs(judge, x, bs)
        p_rec, f_rec = attribute_outputs(judge, recon, bs)
        scale = _mean_pair_distance(f_real, rng)
        per_attr: dict[str, Any] = {}
        grid_rows = [x[:8], recon[:8]]
        detail_rows: list[torch.Tensor] = []
        for a, name in enumerate(names):
            want = 1.0 - y[:, a]
            y_new = y_hat.clone()
            y_new[:, a] = want
            edits = _generate(session, mu, y_new, bs)
            grid_rows.append(edits[:8])
            truth = truth_renderer({name: want}) if truth_renderer is not None else None
            score = _EditScorer(judge, jnames, jnames.index(name), want, p_real, f_real, scale, x, truth, bs)
            entry = score(edits)
            entry["others_kept_reconstruction"] = score.others_kept_of(p_rec) if score.others else None
            if truth is not None:
                entry["psnr_input_to_ground_truth_db"] = reconstruction_quality(x, truth)["psnr_db"]
            detailed = keep_detail(x, recon, edits)
            detail_rows.append(detailed[:8])
            entry["detail"] = score(detailed)
            entry["residual"] = score(keep_detail(x, recon, edits, masked=False))
            per_attr[name] = entry
            prog.update(task, completed=n * (a + 2))

    e_metrics = attribute_metrics(y_hat, y, names)
    j_metrics = attribute_metrics(p_real[:, [jnames.index(nm) for nm in names]], y, names)
    record: dict[str, Any] = {
        "command": "evaluate", "kind": "edit", "checkpoint": str(session.path), "model": session.model.cfg.model.model,
        "step": session.step, "resolution": res, "precision": session.precision, "judge": str(opts.judge),
        "judge_resolution": judge.cfg.resolution, "data": str(Path(opts.data).resolve()), "seed": opts.seed,
        "n_images": n, "split_source": jstate["split"]["source"], "attributes": names,
        "edits": per_attr,
        "reconstruction": {**reconstruction_quality(recon, x),
                           "identity_distance": float((f_rec - f_real).norm(dim=1).mean()) / scale},
        "encoder_accuracy": e_metrics, "judge_accuracy": j_metrics,
        "identity_note": "judge-feature distance between input and edit over the mean distance between two "
                         "different held-out images (0 = same features, 1 = as far as another face)",
        "edit_rule": "each attribute set to the opposite of the image's label; the others as E reads them",
        "detail_rule": "'detail': the edit plus the input's reconstruction error where the edit changes less than "
                       "its RMS (cvaegan.apps.detail); 'residual': plus the whole error",
    }
    record["seconds"] = round(time.perf_counter() - t0, 2)
    record["meta"] = {"cvaegan": __version__, "torch": str(torch.__version__), "device": str(session.device),
                      "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    if opts.grid:
        record["grid"] = str(save_grid(torch.cat(grid_rows), out.with_suffix(".png"), nrow=min(8, n)))
        record["grid_rows"] = ["input", "reconstruction"] + [f"{nm} flipped" for nm in names]
        record["detail_grid"] = str(save_grid(torch.cat(grid_rows + detail_rows), out.with_name(out.stem + "-detail.png"),
                                              nrow=min(8, n)))
        record["detail_grid_rows"] = record["grid_rows"] + [f"{nm} flipped, detail kept" for nm in names]
    atomic_write_json(out, record)
    record["json"] = str(out)
    return record


class _EditScorer:
    """The numbers of one attribute's edits (success, others kept, identity, PSNR to the ground
    truth), so that the paper's edit and the detail-kept ones are scored alike."""

    def __init__(self, judge: Any, jnames: list[str], ja: int, want: torch.Tensor, p_real: torch.Tensor,
                 f_real: torch.Tensor, scale: float, x: torch.Tensor, truth: torch.Tensor | None, bs: int):
        self.judge, self.ja, self.want, self.p_real, self.f_real = judge, ja, want, p_real, f_real
        self.scale, self.x, self.truth, self.bs = scale, x, truth, bs
        self.others = [j for j in range(len(jnames)) if j != ja]
        self.jnames = jnames

    def kept(self, p: torch.Tensor) -> torch.Tensor:
        """(N, others) 1 where the judge's reading p of another attribute equals its reading of x."""
        o = self.others
        return ((p[:, o] >= ATTRIBUTE_THRESHOLD) == (self.p_real[:, o] >= ATTRIBUTE_THRESHOLD)).float()

    def others_kept_of(self, p: torch.Tensor) -> float:
        return float(self.kept(p).mean())

    def __call__(self, edits: torch.Tensor) -> dict[str, Any]:
        p_edit, f_edit = attribute_outputs(self.judge, edits, self.bs)
        want = self.want
        hit = (p_edit[:, self.ja] >= ATTRIBUTE_THRESHOLD) == (want >= 0.5)
        o = self.others
        kept = self.kept(p_edit)
        entry: dict[str, Any] = {
            "success": float(hit.float().mean()),
            "success_adding": _mean(hit[want >= 0.5]), "success_removing": _mean(hit[want < 0.5]),
            "n_adding": int((want >= 0.5).sum()), "n_removing": int((want < 0.5).sum()),
            "others_kept": float(kept.mean()) if o else None,
            "others_kept_per_attribute": {self.jnames[j]: round(float(kept[:, i].mean()), 4) for i, j in enumerate(o)},
            "identity_distance": float((f_edit - self.f_real).norm(dim=1).mean()) / self.scale,
            "psnr_to_input_db": reconstruction_quality(edits, self.x)["psnr_db"],
        }
        if self.truth is not None:
            entry["psnr_to_ground_truth_db"] = reconstruction_quality(edits, self.truth)["psnr_db"]
        return entry


@torch.no_grad()
def _encode_reconstruct(session: Session, x: torch.Tensor, bs: int) -> tuple[torch.Tensor, ...]:
    mus, ys, recs = [], [], []
    for i in range(0, x.shape[0], bs):
        xb = x[i:i + bs].to(session.device)
        with session.autocast():
            mu, _, y_hat = session.model.encode(xb)
            recs.append(session.model.generate(mu, y_hat).float().cpu())
        mus.append(mu.float().cpu())
        ys.append(y_hat.float().cpu())
    return torch.cat(mus), torch.cat(ys), torch.cat(recs)


@torch.no_grad()
def _generate(session: Session, mu: torch.Tensor, y: torch.Tensor, bs: int) -> torch.Tensor:
    outs = []
    for i in range(0, mu.shape[0], bs):
        with session.autocast():
            outs.append(session.model.generate(mu[i:i + bs].to(session.device),
                                               y[i:i + bs].to(session.device)).float().cpu())
    return torch.cat(outs)


def _mean_pair_distance(f: torch.Tensor, rng: np.random.Generator, pairs: int = 4000) -> float:
    """Mean feature distance between two different images (random pairs): the identity scale."""
    n = f.shape[0]
    if n < 2:
        return 1.0
    i = rng.integers(0, n, pairs)
    j = (i + rng.integers(1, n, pairs)) % n
    d = float((f[i] - f[j]).norm(dim=1).mean())
    return d if d > 0 else 1.0


def _mean(v: torch.Tensor) -> float | None:
    return float(v.float().mean()) if v.numel() else None


def _ground_truth(cache: Any, rows: list[int], res: int) -> Any:
    """For the demo cartoons: a function {attribute: values (N,)} → the exact re-renders of the
    held-out items with those attributes set, (N, 3, R, R) in [-1, 1]. None for other data."""
    manifest = cache.index.manifest
    if not isinstance(manifest, dict) or manifest.get("kind") != "synthetic-faces":
        return None
    from cvaegan.data.demo_faces import render_item

    by_file = {it["file"]: it for it in manifest.get("items", [])}
    rel = relative_names(cache)
    items = [by_file.get(rel[r]) for r in rows]
    if any(it is None for it in items):
        return None

    def render(changes: dict[str, torch.Tensor]) -> torch.Tensor:
        imgs = []
        for k, it in enumerate(items):
            ch = {name: int(v[k] >= 0.5) for name, v in changes.items()}
            imgs.append(np.asarray(render_item(manifest, it, ch, res).convert("RGB"), dtype=np.uint8))
        return from_hwc_uint8(np.stack(imgs))

    return render


def edit_table(rec: dict[str, Any]) -> Table:
    """The rich table `cvaegan evaluate` prints for an editing model."""
    t = Table(title=f"{rec['model']} @ step {rec['step']}: {rec['n_images']} held-out images, each attribute "
                    "flipped")
    for col, just in (("attribute", "left"), ("edit success", "right"), ("adding / removing", "right"),
                      ("others kept", "right"), ("identity dist.", "right"), ("PSNR to truth", "right"),
                      ("E acc / judge acc", "right")):
        t.add_column(col, justify=just)
    for name, e in rec["edits"].items():
        ea, ja = rec["encoder_accuracy"][name], rec["judge_accuracy"][name]
        psnr = e.get("psnr_to_ground_truth_db")
        t.add_row(name, f"{e['success']:.1%}",
                  f"{_pct(e['success_adding'])} / {_pct(e['success_removing'])}",
                  f"{_pct(e['others_kept'])} (rec. {_pct(e['others_kept_reconstruction'])})",
                  f"{e['identity_distance']:.2f}", "—" if psnr is None else f"{psnr:.1f} dB",
                  f"{_pct(ea['accuracy'])} / {_pct(ja['accuracy'])}")
        if "detail" in e:
            d = e["detail"]
            psnr = d.get("psnr_to_ground_truth_db")
            t.add_row("  detail kept", f"{d['success']:.1%}",
                      f"{_pct(d['success_adding'])} / {_pct(d['success_removing'])}", _pct(d["others_kept"]),
                      f"{d['identity_distance']:.2f}", "—" if psnr is None else f"{psnr:.1f} dB", "")
    r = rec["reconstruction"]
    t.caption = (f"reconstruction PSNR {r['psnr_db']:.1f} dB, identity distance {r['identity_distance']:.2f} "
                 "(1 = another face)")
    return t


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.0%}"
